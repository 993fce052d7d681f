package dingtalk_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
)

// The shapes of callbacks seen in the field beyond the documented ones
// (docs/protocols.md §1, shapes seen in the field). Each body is built after
// a capture another project published; the comment names it.
func TestParseCallbackFieldShapes(t *testing.T) {
	with := func(m chat.Message, edit func(*chat.Message)) chat.Message { edit(&m); return m }
	quoteIn := func(content string) string {
		return `"text": {"content": " 这是什么", "isReplyMsg": true, "repliedMsg": ` + content + `}`
	}
	asked := func(q chat.Quote) chat.Message {
		return with(message("2", "text"), func(m *chat.Message) { m.Text = "这是什么"; m.Quote = &q })
	}
	tests := []struct {
		name string
		body string
		want chat.Message
	}{
		{
			// AstrBot PR #9389: the HarmonyOS client sends "@机器人 /server" as
			// richText whose first item is the robot's name.
			name: "HarmonyOS group richText, the robot's name an item of its own",
			body: body("2", "richText", `"content": {"richText": [{"text": "@机器人"}, {"text": "\\clear"}]}`),
			want: with(message("2", "richText"), func(m *chat.Message) { m.Text = `\clear` }),
		},
		{
			name: "HarmonyOS group richText, the name and the words in one item",
			body: body("2", "richText", `"content": {"richText": [{"text": "@机器人\u2005/help"}]}`),
			want: with(message("2", "richText"), func(m *chat.Message) { m.Text = "/help" }),
		},
		{
			name: "HarmonyOS group richText, another member @-mentioned keeps the name",
			body: body("2", "richText", `"content": {"richText": [{"text": "@机器人"}, {"type": "at", "atName": "李四"}, {"text": "的问题怎么答"}]}`),
			want: with(message("2", "richText"), func(m *chat.Message) { m.Text = "@李四\n的问题怎么答" }),
		},
		{
			name: "an at item naming the robot by its id is cut",
			body: body("2", "richText", `"content": {"richText": [{"type": "at", "atName": "机器人", "dingtalkId": "$:LWCP_v1:$robot"}, {"text": "\\clear"}]}`),
			want: with(message("2", "richText"), func(m *chat.Message) { m.Text = `\clear` }),
		},
		{
			name: "a group richText whose first mention is not the robot keeps its @",
			body: strings.Replace(body("2", "richText", `"content": {"richText": [{"text": "@李四"}, {"text": "你好"}]}`),
				`"atUsers": [{"dingtalkId": "$:LWCP_v1:$robot"}]`, `"atUsers": [{"dingtalkId": "$:LWCP_v1:$lisi"}, {"dingtalkId": "$:LWCP_v1:$robot"}]`, 1),
			want: with(message("2", "richText"), func(m *chat.Message) { m.Text = "@李四\n你好" }),
		},
		{
			name: "a single chat's richText starting with @ keeps it",
			body: body("1", "richText", `"content": {"richText": [{"text": "@机器人"}, {"text": "你好"}]}`),
			want: with(message("1", "richText"), func(m *chat.Message) { m.Text = "@机器人\n你好" }),
		},
		{
			// soimy/openclaw-channel-dingtalk tests/unit/message-utils.test.ts
			// "引用音频（audio）": the duration a string, in ms.
			name: "a quoted voice message",
			body: body("2", "text", quoteIn(`{"msgType": "audio", "msgId": "msg_audio_1", "createdAt": 1774508519673,
				"content": {"duration": "12000", "downloadCode": "AUDIO_DL_CODE"}}`)),
			want: asked(chat.Quote{MessageID: "msg_audio_1", Type: "audio", SentAt: time.UnixMilli(1774508519673).UTC(),
				Media: &chat.Media{Kind: chat.MediaAudio, Seconds: 12}}),
		},
		{
			// same file, "引用视频（video）".
			name: "a quoted video",
			body: body("2", "text", quoteIn(`{"msgType": "video", "msgId": "msg_video_1", "createdAt": 1774508952829,
				"content": {"duration": "1", "downloadCode": "VIDEO_DL_CODE", "videoType": "mp4"}}`)),
			want: asked(chat.Quote{MessageID: "msg_video_1", Type: "video", SentAt: time.UnixMilli(1774508952829).UTC(),
				Media: &chat.Media{Kind: chat.MediaVideo}}),
		},
		{
			// qwen-code #9536 and soimy #598: a quoted robot card carries its
			// text in content.cardContent, TEXT nodes' value.
			name: "a quoted card with its element tree",
			body: body("2", "text", quoteIn(`{"msgType": "interactiveCard", "msgId": "card1", "senderId": "$:LWCP_v1:$robot",
				"content": {"cardContent": {"elementType": "CONTAINER", "children": [
					{"elementType": "TEXT", "value": "Go 是一门编程语言"},
					{"elementType": "IMAGE", "value": "https://img"},
					{"elementType": "CONTAINER", "children": [{"elementType": "TEXT", "value": "由 Google 设计"}]}]}}}`)),
			want: asked(chat.Quote{MessageID: "card1", Type: "interactiveCard", FromRobot: true, Text: "Go 是一门编程语言\n由 Google 设计"}),
		},
		{
			// chenhg5/cc-connect platform/dingtalk/dingtalk_test.go
			// (TestOnRawMessage_QuotedInteractiveCardEnrichesMessageContent):
			// the card's template variables.
			name: "a quoted card with its template variables",
			body: body("2", "text", quoteIn(`{"msgType": "interactiveCard", "content": {"cardData": {"cardParamMap": {"content": "previous card answer"}}}}`)),
			want: asked(chat.Quote{Type: "interactiveCard", Text: "previous card answer"}),
		},
		{
			// DingTalk-Real-AI/dingtalk-openclaw-connector #399: a quoted card
			// with only its metadata.
			name: "a quoted card without content",
			body: body("2", "text", quoteIn(`{"createdAt": 1774947711809, "senderId": "$:LWCP_v1:$robot", "msgType": "interactiveCard", "msgId": "msg5LkjE+EA3dWPeQHoIEutIg=="}`)),
			want: asked(chat.Quote{MessageID: "msg5LkjE+EA3dWPeQHoIEutIg==", Type: "interactiveCard", FromRobot: true,
				SentAt: time.UnixMilli(1774947711809).UTC(), Unseen: true}),
		},
		{
			// soimy tests/unit/message-utils.test.ts "chatRecord reply — logged
			// DingTalk summary-only payload".
			name: "a quoted forwarded chat",
			body: body("2", "text", quoteIn(`{"createdAt": 1776065111071, "senderId": "sender", "msgType": "chatRecord", "msgId": "msgrAGRxGTFIE0Jr5rrzqj1sQ==",
				"content": {"summary": "祝欣莹:[消息]\n溯煜:这个就是", "title": "溯煜与祝欣莹的聊天记录"}}`)),
			want: asked(chat.Quote{MessageID: "msgrAGRxGTFIE0Jr5rrzqj1sQ==", Type: "chatRecord", SentAt: time.UnixMilli(1776065111071).UTC(),
				Title: "溯煜与祝欣莹的聊天记录", Text: "祝欣莹:[消息]\n溯煜:这个就是"}),
		},
		{
			// soimy "引用文件/视频/语音（unknownMsgType）": metadata only.
			name: "a quote of unknownMsgType without content",
			body: body("2", "text", quoteIn(`{"msgType": "unknownMsgType", "msgId": "msg123", "createdAt": 1772817989679}`)),
			want: asked(chat.Quote{MessageID: "msg123", Type: "unknownMsgType", SentAt: time.UnixMilli(1772817989679).UTC(), Unseen: true}),
		},
		{
			name: "a quote of unknownMsgType read by its fields",
			body: body("2", "text", quoteIn(`{"msgType": "unknownMsgType", "content": {"duration": 3000, "downloadCode": "a"}}`)),
			want: asked(chat.Quote{Type: "unknownMsgType", Media: &chat.Media{Kind: chat.MediaAudio, Seconds: 3}}),
		},
		{
			name: "an empty repliedMsg on a message that does not say it replies is no quote",
			body: body("2", "text", `"text": {"content": " 这是什么", "repliedMsg": {}}`),
			want: with(message("2", "text"), func(m *chat.Message) { m.Text = "这是什么" }),
		},
		{
			name: "a broken repliedMsg on a message that says it replies is an unseen quote",
			body: body("2", "text", `"text": {"content": " 这是什么", "isReplyMsg": "true", "repliedMsg": [1, 2]}`),
			want: asked(chat.Quote{Unseen: true}),
		},
		{
			name: "isReplyMsg without the quoted message",
			body: body("2", "text", `"text": {"content": " 这是什么", "isReplyMsg": true}`),
			want: asked(chat.Quote{Unseen: true}),
		},
		{
			// soimy tests/unit/message-utils-advanced.test.ts "extracts
			// markdown message from content.text".
			name: "markdown",
			body: body("1", "markdown", `"content": {"text": "> 🤖 **墨客**:\n\n## 长城\n\n它不是用砖砌的", "title": "🤖 **墨客**:"}`),
			want: with(message("1", "markdown"), func(m *chat.Message) { m.Text = "> 🤖 **墨客**:\n\n## 长城\n\n它不是用砖砌的" }),
		},
		{
			name: "markdown with its text under text.content",
			body: body("1", "markdown", `"text": {"content": "# 标题"}`),
			want: with(message("1", "markdown"), func(m *chat.Message) { m.Text = "# 标题" }),
		},
		{
			// soimy "原始钉钉文档消息（interactiveCard）": a shared document.
			name: "a shared document",
			body: body("1", "interactiveCard", `"content": {"biz_custom_action_url": "dingtalk://dingtalkclient/page/yunpan?route=previewDentry&spaceId=28299679864&fileId=211213307938&type=file"}`),
			want: message("1", "interactiveCard"),
		},
		{
			// soimy "top-level chatRecord — expands records aliases".
			name: "a forwarded chat with its messages",
			body: body("1", "chatRecord", `"content": {"summary": "祝欣莹:[消息]\n溯煜:[分享]", "title": "群聊的聊天记录",
				"records": [{"senderName": "祝欣莹", "content": "第一条"}, {"senderName": "溯煜", "message": "第二条"}]}`),
			want: with(message("1", "chatRecord"), func(m *chat.Message) { m.Text = "群聊的聊天记录\n祝欣莹: 第一条\n溯煜: 第二条" }),
		},
		{
			name: "a forwarded chat with its summary only",
			body: body("1", "chatRecord", `"content": {"summary": "寻径:客户使用3.3创建的timestamp字段查询异常", "title": "群聊的聊天记录"}`),
			want: with(message("1", "chatRecord"), func(m *chat.Message) {
				m.Text = "群聊的聊天记录\n寻径:客户使用3.3创建的timestamp字段查询异常"
			}),
		},
		{
			// soimy: an empty forward has the summary "[]".
			name: "an empty forwarded chat",
			body: body("1", "chatRecord", `"content": {"summary": "[]", "title": "聊天记录", "chatRecord": "[]"}`),
			want: message("1", "chatRecord"),
		},
		{
			// soimy/openclaw-channel-dingtalk src/message-utils.ts (a
			// connector's report of "some API versions").
			name: "content a JSON string",
			body: body("1", "richText", `"content": "{\"richText\": [{\"text\": \"你好\"}, {\"type\": \"picture\", \"downloadCode\": \"p\"}]}"`),
			want: with(message("1", "richText"), func(m *chat.Message) { m.Text = "你好"; m.Pictures = []string{"p"} }),
		},
		{
			name: "text a JSON string",
			body: body("1", "text", `"text": "{\"content\": \"你好\"}"`),
			want: with(message("1", "text"), func(m *chat.Message) { m.Text = "你好" }),
		},
		{
			name: "text a plain string",
			body: body("1", "text", `"text": " 你好 "`),
			want: with(message("1", "text"), func(m *chat.Message) { m.Text = "你好" }),
		},
		{
			name: "a quoted message whose content is a JSON string",
			body: body("2", "text", quoteIn(`{"msgType": "text", "content": "{\"content\": \"明天开会\"}"}`)),
			want: asked(chat.Quote{Type: "text", Text: "明天开会"}),
		},
		{
			name: "a quoted message that is a JSON string",
			body: body("2", "text", quoteIn(`"{\"msgType\": \"text\", \"content\": {\"text\": \"明天开会\"}}"`)),
			want: asked(chat.Quote{Type: "text", Text: "明天开会"}),
		},
		{
			// chenhg5/cc-connect platform/dingtalk/dingtalk_test.go: a picture
			// item with pictureDownloadCode only, and no type.
			name: "pictures by their second code",
			body: body("1", "richText", `"content": {"richText": [{"text": "看图"}, {"pictureDownloadCode": "abc123"}]}`),
			want: with(message("1", "richText"), func(m *chat.Message) { m.Text = "看图"; m.Pictures = []string{"abc123"} }),
		},
		{
			name: "a picture by its second code",
			body: body("1", "picture", `"content": {"pictureDownloadCode": "abc123"}`),
			want: with(message("1", "picture"), func(m *chat.Message) { m.Pictures = []string{"abc123"} }),
		},
		{
			// field reports; AliceBotProject/alicebot's adapter types it a string.
			name: "createAt and the expiry as decimal strings",
			body: strings.Replace(strings.Replace(body("1", "text", `"text": {"content": "hi"}`),
				`"createAt": 1684493344263`, `"createAt": "1684493344263"`, 1),
				`"sessionWebhookExpiredTime": 1684498744416`, `"sessionWebhookExpiredTime": " 1684498744416 "`, 1),
			want: with(message("1", "text"), func(m *chat.Message) { m.Text = "hi" }),
		},
		{
			name: "quoted fields of other types than seen",
			body: body("2", "text", quoteIn(`{"msgType": 7, "msgId": ["x"], "senderId": {}, "createdAt": "soon",
				"content": {"text": 42, "richText": {"a": 1}, "downloadCode": true}}`)),
			want: asked(chat.Quote{Type: "7", Text: "42"}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dingtalk.ParseCallback([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseCallback: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				gotJSON, _ := json.Marshal(got)
				wantJSON, _ := json.Marshal(tt.want)
				t.Fatalf("ParseCallback =\n%s\nwant\n%s", gotJSON, wantJSON)
			}
		})
	}
}

// nestInStrings puts v, as JSON, inside a JSON string n times.
func nestInStrings(v string, n int) string {
	for range n {
		b, _ := json.Marshal(v)
		v = string(b)
	}
	return v
}

func TestParseCallbackBounds(t *testing.T) {
	t.Run("content JSON inside strings too deep is refused, naming the field", func(t *testing.T) {
		_, err := dingtalk.ParseCallback([]byte(body("1", "file", `"content": `+nestInStrings(`{"downloadCode": "f"}`, 6))))
		if !errors.Is(err, dingtalk.ErrMalformedCallback) || !strings.Contains(err.Error(), "content") {
			t.Fatalf("ParseCallback = %v, want an error naming content", err)
		}
	})
	t.Run("content JSON inside strings a few levels is read", func(t *testing.T) {
		m, err := dingtalk.ParseCallback([]byte(body("1", "file", `"content": `+nestInStrings(`{"downloadCode": "f", "fileName": "a.pdf"}`, 3))))
		if err != nil || m.File == nil || m.File.Name != "a.pdf" {
			t.Fatalf("ParseCallback = %+v, %v", m.File, err)
		}
	})
	t.Run("a quoted card's tree is read to a bounded depth and size", func(t *testing.T) {
		deep := `{"elementType": "TEXT", "value": "深处"}`
		for range 100 {
			deep = `{"elementType": "CONTAINER", "children": [` + deep + `]}`
		}
		wide := strings.Repeat(`{"elementType": "TEXT", "value": "`+strings.Repeat("字", 100)+`"},`, 200)
		tree := `[{"elementType": "TEXT", "value": "开头"}, ` + deep + `, ` + wide + `{"elementType": "TEXT", "value": "末尾"}]`
		m, err := dingtalk.ParseCallback([]byte(body("2", "text", `"text": {"content": "?", "isReplyMsg": true, "repliedMsg": {"msgType": "interactiveCard", "content": {"cardContent": `+tree+`}}}`)))
		if err != nil {
			t.Fatal(err)
		}
		q := m.Quote.Text
		if !strings.HasPrefix(q, "开头\n字") || strings.Contains(q, "深处") || strings.Contains(q, "末尾") {
			t.Errorf("quote read as %.40q…; want the start, not what lies past the bounds", q)
		}
		if n := len([]rune(q)); n > 8001 {
			t.Errorf("quote kept %d characters", n)
		}
	})
	t.Run("a rich text of many pictures keeps a bounded number", func(t *testing.T) {
		items := strings.Repeat(`{"type": "picture", "downloadCode": "p"},`, 1000)
		m, err := dingtalk.ParseCallback([]byte(body("1", "richText", `"content": {"richText": [`+items+`{"text": "hi"}]}`)))
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Pictures) != 20 {
			t.Errorf("kept %d pictures", len(m.Pictures))
		}
	})
	t.Run("a text the event would write six bytes a character is cut to fit", func(t *testing.T) {
		m, err := dingtalk.ParseCallback([]byte(body("1", "text", `"text": {"content": "`+strings.Repeat("<", 20000)+`"}`)))
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := json.Marshal(m.Text); len(b) > 64<<10 || !strings.HasSuffix(m.Text, "<…") {
			t.Errorf("the text takes %d bytes in the event", len(b))
		}
	})
	t.Run("a long text is cut, marked", func(t *testing.T) {
		m, err := dingtalk.ParseCallback([]byte(body("1", "text", `"text": {"content": "`+strings.Repeat("长", 30000)+`"}`)))
		if err != nil {
			t.Fatal(err)
		}
		if r := []rune(m.Text); len(r) != 20001 || r[len(r)-1] != '…' {
			t.Errorf("kept %d characters", len(r))
		}
	})
}
