package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

// The end-to-end cases of the callback shapes DingTalk was seen to send
// beyond the documented ones (docs/protocols.md §1, shapes seen in the
// field), through the real programs. Each asserts what the user is
// answered and what the model was asked.

// questions are the questions the model was asked, in order.
func questions(st *devstack.Stack) []string {
	var qs []string
	for _, r := range st.Model.Requests() {
		qs = append(qs, r.LastUserMessage())
	}
	return qs
}

func TestShapesAHarmonyOSGroupMessageNamesTheRobotYetItsCommandsWork(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	carol := group(t, st, "g1", "carol")
	// The HarmonyOS client sends a group @-message as richText, the
	// robot's name its first item (AstrBot PR #9389).
	harmony := func(items ...map[string]any) dingtalktest.Callback {
		return st.DingTalk.RawCallback(carol.conv, carol.from, "richText", map[string]any{
			"senderPlatform": "HarmonyOS",
			"content":        map[string]any{"richText": append([]map[string]any{{"text": "@问答机器人"}}, items...)},
		})
	}
	carol.ask("第一个问题")
	if got := carol.deliver(harmony(map[string]any{"text": `\clear`})); !strings.Contains(got, "已清除") {
		t.Errorf(`a HarmonyOS \clear was answered %q`, got)
	}
	got := carol.deliver(harmony(map[string]any{"type": "at", "atName": "dave"}, map[string]any{"text": "怎么看？"}))
	if !strings.HasSuffix(plain(got), "答：@dave\n怎么看？") {
		t.Errorf("a HarmonyOS question was answered %q", got)
	}
	rs := requestsFor(st, "@dave\n怎么看？")
	if len(rs) != 1 {
		t.Fatalf("the model was asked %q; want the question without the robot's name, dave's kept", questions(st))
	}
	if n := rs[0].EarlierTurns(); n != 0 {
		t.Errorf("after a HarmonyOS \\clear the model saw %d earlier turns", n)
	}
}

func TestShapesQuotesOfVoiceCardsForwardedChatsAndUnseenMessages(t *testing.T) {
	t.Parallel()
	st := fileStack(t, nil)
	carol, dave := group(t, st, "g1", "carol"), group(t, st, "g1", "dave")
	now := time.Now()
	quote := func(msgType string, content map[string]any) dingtalktest.Quoted {
		return dingtalktest.Quoted{MsgType: msgType, MsgID: "msg" + msgType, SenderID: dave.from.ID, CreatedAt: now, Content: content}
	}
	clip := st.DingTalk.AddFile([]byte("#!AMR\n"), "audio/amr")

	// soimy/openclaw-channel-dingtalk tests/unit/message-utils.test.ts:
	// a quoted voice message, its duration a string in ms.
	got := carol.deliver(st.DingTalk.ReplyCallback(carol.conv, carol.from, "他说了什么？", quote("audio", map[string]any{"duration": "12000", "downloadCode": clip})))
	if req := asked(t, st, "他说了什么？"); req != "<quote from=\"user\">\n[语音 12 秒，你听不到它]\n</quote>\n\n他说了什么？" {
		t.Errorf("a quoted voice message reached the model as %q", req)
	}
	if !strings.Contains(got, "答：") || st.DingTalk.FileDownloads() != 0 {
		t.Errorf("a quoted voice message was answered %q after %d downloads; want the model's answer, nothing downloaded", got, st.DingTalk.FileDownloads())
	}

	// qwen-code #9536, soimy #598: a quoted card carries its text in
	// content.cardContent.
	carol.deliver(st.DingTalk.ReplyCallback(carol.conv, carol.from, "卡片说的对吗？", quote("interactiveCard", map[string]any{
		"cardContent": map[string]any{"elementType": "CONTAINER", "children": []any{
			map[string]any{"elementType": "TEXT", "value": "本周五发布 v2"},
			map[string]any{"elementType": "BUTTON", "value": "查看"},
		}},
	})))
	if req := asked(t, st, "卡片说的对吗？"); req != "<quote from=\"user\">\n本周五发布 v2\n</quote>\n\n卡片说的对吗？" {
		t.Errorf("a quoted card reached the model as %q", req)
	}

	// soimy: a quoted forwarded chat carries its summary and title.
	carol.deliver(st.DingTalk.ReplyCallback(carol.conv, carol.from, "结论是什么？", quote("chatRecord", map[string]any{
		"summary": "溯煜:这个就是\n祝欣莹:好的", "title": "溯煜与祝欣莹的聊天记录",
	})))
	if req := asked(t, st, "结论是什么？"); req != "<quote from=\"user\">\n[聊天记录《溯煜与祝欣莹的聊天记录》]\n溯煜:这个就是\n祝欣莹:好的\n</quote>\n\n结论是什么？" {
		t.Errorf("a quoted forwarded chat reached the model as %q", req)
	}

	// soimy: a quote of unknownMsgType may come with no content at all.
	got = carol.deliver(st.DingTalk.ReplyCallback(carol.conv, carol.from, "这个怎么处理？", quote("unknownMsgType", nil)))
	if req := asked(t, st, "这个怎么处理？"); !strings.Contains(req, "你看不到它") {
		t.Errorf("a quote that could not be seen reached the model as %q", req)
	}
	if !strings.Contains(got, "答：") || !strings.HasSuffix(got, "注：我看不到你引用的那条消息（钉钉没有把它的内容转给我），以上回答没有参考它。") {
		t.Errorf("a question quoting what could not be seen was answered %q", got)
	}
}

func TestShapesMarkdownForwardedChatsAndSharedDocuments(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	alice := single(t, st, "alice")

	// soimy tests/unit/message-utils-advanced.test.ts: markdown's text in
	// content.text.
	got := alice.deliver(st.DingTalk.RawCallback(alice.conv, alice.from, "markdown", map[string]any{
		"content": map[string]any{"text": "## 长城\n\n它有多长？", "title": "长城"},
	}))
	if got != "答：## 长城\n\n它有多长？" {
		t.Errorf("a markdown message was answered %q", got)
	}

	// soimy: a forwarded chat with its messages.
	got = alice.deliver(st.DingTalk.RawCallback(alice.conv, alice.from, "chatRecord", map[string]any{
		"content": map[string]any{"summary": "祝欣莹:[消息]\n溯煜:[消息]", "title": "群聊的聊天记录",
			"records": []any{map[string]any{"senderName": "祝欣莹", "content": "周五上线"}, map[string]any{"senderName": "溯煜", "message": "来不及"}}},
	}))
	if want := "群聊的聊天记录\n祝欣莹: 周五上线\n溯煜: 来不及"; plain(got) != "答："+want || len(requestsFor(st, want)) != 1 {
		t.Errorf("a forwarded chat was answered %q", got)
	}

	// An empty one, and a shared document, are answered without the model.
	asked := len(st.Model.Requests())
	if got := alice.deliver(st.DingTalk.RawCallback(alice.conv, alice.from, "chatRecord", map[string]any{
		"content": map[string]any{"summary": "[]", "title": "聊天记录"},
	})); !strings.Contains(got, "读不到这份聊天记录") {
		t.Errorf("an empty forwarded chat was answered %q", got)
	}
	if got := alice.deliver(st.DingTalk.RawCallback(alice.conv, alice.from, "interactiveCard", map[string]any{
		"content": map[string]any{"biz_custom_action_url": "dingtalk://dingtalkclient/page/yunpan?route=previewDentry&spaceId=1&fileId=2&type=file"},
	})); !strings.Contains(got, "打不开分享的钉钉文档") {
		t.Errorf("a shared document was answered %q", got)
	}
	if n := len(st.Model.Requests()) - asked; n != 0 {
		t.Errorf("the model was asked %d times about messages with nothing to ask", n)
	}
}

func TestShapesTimesAsStringsAndContentAsAStringOfJSON(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	alice := single(t, st, "alice")
	now := time.Now()
	ms := func(t time.Time) json.RawMessage {
		return json.RawMessage(strconv.Quote(strconv.FormatInt(t.UnixMilli(), 10)))
	}

	// cc-connect dingtalk_test.go, soimy: createAt a decimal string.
	got := alice.deliver(st.DingTalk.RawCallback(alice.conv, alice.from, "text", map[string]any{
		"text":                      map[string]any{"content": "时间是字符串"},
		"createAt":                  ms(now),
		"sessionWebhookExpiredTime": ms(now.Add(dingtalktest.SessionLifetime)),
	}))
	if got != "答：时间是字符串" {
		t.Errorf("a callback with its times as strings was answered %q", got)
	}

	// soimy src/message-utils.ts: content a JSON string "in some API
	// versions".
	content, _ := json.Marshal(`{"richText": [{"text": "内容是字符串"}]}`)
	if got := alice.deliver(st.DingTalk.RawCallback(alice.conv, alice.from, "richText", map[string]any{
		"content": json.RawMessage(content),
	})); got != "答：内容是字符串" {
		t.Errorf("a callback with its content a string of JSON was answered %q", got)
	}
}
