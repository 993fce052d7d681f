package e2e

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// askPost sends text and returns the robot's answer as DingTalk received it.
func (c chat) askPost(text string) dingtalktest.Post {
	c.t.Helper()
	before := len(c.posts())
	if resp := c.send(text); resp.Status != 200 {
		c.t.Fatalf("DingTalk got %d %q for %q", resp.Status, resp.Body, text)
	}
	c.waitAnswer(before + 1)
	return c.posts()[before]
}

func atUserIDs(p dingtalktest.Post) []string {
	if p.Message.At == nil {
		return nil
	}
	return p.Message.At.AtUserIDs
}

func TestAMarkdownAnswerInASingleChat(t *testing.T) {
	t.Parallel()
	answer := "## 用 Go 读文件\n先打开文件，\n再逐行读取：\n\n```go\nfor sc.Scan() {\n\tfmt.Println(sc.Text())\n}\n```"
	st := start(t, devstack.Config{Model: openaitest.Answer(answer)})
	alice := single(t, st, "alice")

	p := alice.askPost("怎么读文件")
	md := p.Message.Markdown
	if p.Message.MsgType != "markdown" || md == nil {
		t.Fatalf("posted %s; want a markdown message", p.Raw)
	}
	if md.Title != "用 Go 读文件" {
		t.Errorf("title %q; want the answer's first line without its #", md.Title)
	}
	want := "## 用 Go 读文件\n先打开文件，  \n再逐行读取：\n\n```go\nfor sc.Scan() {\n\u00a0\u00a0\u00a0\u00a0fmt.Println(sc.Text())\n}\n```"
	if md.Text != want {
		t.Errorf("text\n%q\nwant lines kept apart and the code's indentation kept\n%q", md.Text, want)
	}
	if atUserIDs(p) != nil {
		t.Errorf("a single chat answer @s %v", atUserIDs(p))
	}
}

func TestATextAnswerIsTheModelsWords(t *testing.T) {
	t.Parallel()
	st := start(t, devstack.Config{Model: openaitest.Answer("第一行\n<b>第二行</b>"), ReplyEnv: map[string]string{"REPLY_FORMAT": "text"}})
	p := single(t, st, "alice").askPost("问")
	if p.Message.MsgType != "text" || p.Content() != "第一行\n<b>第二行</b>" {
		t.Errorf("posted %s; want the answer as plain text", p.Raw)
	}
}

func TestAGroupAnswerAtsTheAsker(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	carol := group(t, st, "g1", "carol")
	guest := group(t, st, "g1", "guest")
	guest.from.StaffID = "" // an external member: DingTalk sends no staff id

	p := carol.askPost(" 帮我写一首诗")
	if got := p.Content(); got != "@staff-carol\n\n答：帮我写一首诗" {
		t.Errorf("answer %q; want it to @ carol by staff id", got)
	}
	if got := atUserIDs(p); !slices.Equal(got, []string{"staff-carol"}) {
		t.Errorf("at.atUserIds %v; want [staff-carol]", got)
	}
	p = guest.askPost("你好")
	if got := p.Content(); got != "@guest\n\n答：你好" {
		t.Errorf("answer %q; want the external member named", got)
	}
	if got := atUserIDs(p); len(got) != 0 {
		t.Errorf("at.atUserIds %v for a member without a staff id", got)
	}
}

// chunked cuts an answer into the pieces of three characters a model
// streams.
func chunked(answer string) []string {
	var chunks []string
	for r := []rune(answer); len(r) > 0; r = r[min(3, len(r)):] {
		chunks = append(chunks, string(r[:min(3, len(r))]))
	}
	return chunks
}

// cardStack runs the robot with an AI card template and a model that
// streams answer in chunks over about a second.
func cardStack(t *testing.T, answer string) *devstack.Stack {
	t.Helper()
	chunks := chunked(answer)
	st := start(t, devstack.Config{
		Model: openaitest.Fixed(openaitest.Response{Content: answer, Chunks: chunks, ChunkDelay: time.Second / time.Duration(len(chunks))}),
		ReplyEnv: map[string]string{
			"CARD_TEMPLATE_ID":     "fcrobot-test.schema",
			"CARD_CONTENT_KEY":     "answer",
			"CARD_UPDATE_INTERVAL": "200ms",
		},
		DingTalkApp: true,
	})
	st.DingTalk.AddCardTemplate("fcrobot-test.schema", "answer")
	return st
}

func TestAnAnswerStreamsIntoAnAICard(t *testing.T) {
	t.Parallel()
	answer := "函数计算按调用计费，空闲不收费，冷启动很快，适合钉钉机器人，也适合其他事件驱动的程序。"
	chunks := len(chunked(answer))
	for _, tc := range []struct {
		name      string
		chat      func(*testing.T, *devstack.Stack) chat
		openSpace string
	}{
		{"single chat", func(t *testing.T, st *devstack.Stack) chat { return single(t, st, "alice") }, "dtv1.card//IM_ROBOT.staff-alice"},
		{"group", func(t *testing.T, st *devstack.Stack) chat { return group(t, st, "g1", "carol") }, "dtv1.card//IM_GROUP.cid-group-g1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := cardStack(t, answer)
			c := tc.chat(t, st)
			card := c.askCard("介绍一下函数计算")
			if card.OpenSpaceID != tc.openSpace || card.TemplateID != "fcrobot-test.schema" || !card.Delivered {
				t.Errorf("card %+v; want template fcrobot-test.schema delivered to %s", card, tc.openSpace)
			}
			n := len(card.Updates)
			if n < 2 || n >= chunks {
				t.Errorf("%d updates for %d chunks; want the answer shown as it grows, throttled", n, chunks)
			}
			for i, u := range card.Updates {
				if u.Key != "answer" || !u.IsFull || u.IsFinalize != (i == n-1) {
					t.Errorf("update %d %+v; want full updates of \"answer\", only the last one final", i, u)
				}
				if !strings.HasPrefix(answer, u.Content) && i < n-1 {
					t.Errorf("update %d shows %q, which is not how the answer starts", i, u.Content)
				}
			}
			if got := card.Content("answer"); got != answer {
				t.Errorf("the finished card shows %q; want the whole answer %q", got, answer)
			}
			waitFC(t, st)
			if posts := c.posts(); len(posts) != 0 {
				t.Errorf("the webhook got %d messages too; the card alone answers", len(posts))
			}
			// The answer is remembered: the next question carries it.
			if resp := c.send("再说一遍"); resp.Status != 200 {
				t.Fatalf("callback answered %d", resp.Status)
			}
			waitFC(t, st)
			reqs := requestsFor(st, "再说一遍")
			if len(reqs) != 1 || reqs[0].EarlierTurns() != 1 || reqs[0].Messages[len(reqs[0].Messages)-2].Content != answer {
				t.Errorf("the follow-up carried %+v; want the streamed answer as history", reqs)
			}
		})
	}
}

func TestARefusedCardFallsBackToTheWebhook(t *testing.T) {
	t.Parallel()
	answer := "没有卡片权限，也照样回答，完整地回答。"
	st := cardStack(t, answer)
	st.DingTalk.DenyCardPermission(true) // the app lacks Card.Instance.Write
	alice := single(t, st, "alice")

	if got := alice.ask("你好"); got != answer {
		t.Errorf("webhook answer %q; want the whole answer %q", got, answer)
	}
	if cards := st.DingTalk.Cards(); len(cards) != 0 {
		t.Errorf("%d cards exist; want none", len(cards))
	}
	waitOutput(t, st.Reply, "the AI card failed")
	if out := st.Reply.Output(); !strings.Contains(out, "Card.Instance.Write") && !strings.Contains(out, "PermissionDenied") {
		t.Errorf("the log does not say the permission is missing:\n%s", out)
	}
}

func TestAPictureIsAnsweredByTheVisionModel(t *testing.T) {
	t.Parallel()
	picture := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 4096)...)
	st := start(t, devstack.Config{
		Model: func(_ context.Context, req openaitest.Request) openaitest.Response {
			if req.Model == "vision-model" && len(req.Images) == 1 && bytes.Equal(req.Images[0].Data, picture) {
				return openaitest.Response{Content: "图里是一张 PNG：" + req.LastUserMessage()}
			}
			return openaitest.Response{Content: "没看到图"}
		},
		ReplyEnv:    map[string]string{"VISION_MODEL": "vision-model"},
		DingTalkApp: true,
	})
	alice := single(t, st, "alice")
	code := st.DingTalk.AddFile(picture, "image/png")

	before := len(alice.posts())
	cb := st.DingTalk.PictureCallback(alice.conv, alice.from, code)
	if resp, err := st.Deliver(context.Background(), cb.Body, time.Now()); err != nil || resp.Status != 200 {
		t.Fatalf("callback: %v %+v", err, resp)
	}
	if got := alice.waitAnswer(before + 1); got != "图里是一张 PNG：请描述这张图片。" {
		t.Errorf("answer %q; want the vision model's", got)
	}
	if n := st.DingTalk.FileDownloads(); n != 1 {
		t.Errorf("%d downloads; want 1", n)
	}
}

func TestReasoningStaysHiddenUnlessAskedFor(t *testing.T) {
	t.Parallel()
	answer := "<think>\n用户在打招呼。\n</think>\n\n你好！"
	for _, tc := range []struct {
		name, show, want string
	}{
		{"by default", "", "你好！"},
		{"with SHOW_THINKING", "true", "> 思考过程：\n> 用户在打招呼。\n\n你好！"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := start(t, devstack.Config{Model: openaitest.Answer(answer), ReplyEnv: map[string]string{"SHOW_THINKING": tc.show, "REPLY_FORMAT": "text"}})
			alice := single(t, st, "alice")
			if got := alice.ask("你好"); got != tc.want {
				t.Errorf("answer %q; want %q", got, tc.want)
			}
			alice.ask("再见")
			for _, r := range requestsFor(st, "再见") {
				for _, m := range r.Messages {
					if strings.Contains(m.Content, "打招呼") {
						t.Errorf("the reasoning went back to the model as history: %q", m.Content)
					}
				}
			}
		})
	}
}
