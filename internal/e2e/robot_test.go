package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

func echoStack(t *testing.T, replyEnv map[string]string) *devstack.Stack {
	return start(t, devstack.Config{Model: openaitest.Echo("答："), ReplyEnv: replyEnv})
}

// requestsFor returns the model requests whose question was q.
func requestsFor(st *devstack.Stack, q string) []openaitest.Request {
	var out []openaitest.Request
	for _, r := range st.Model.Requests() {
		if r.LastUserMessage() == q {
			out = append(out, r)
		}
	}
	return out
}

func TestSingleChatAnswer(t *testing.T) {
	t.Parallel()
	st := echoStack(t, map[string]string{"SYSTEM_PROMPT": "你是公司的助手。", "MODEL": "test-model"})
	alice := single(t, st, "alice")

	resp := alice.send("今天星期几？")
	if resp.Status != http.StatusOK || strings.TrimSpace(resp.Body) != `{"msgtype":"empty"}` {
		t.Fatalf("DingTalk got %d %q, want 200 and an empty reply", resp.Status, resp.Body)
	}
	if got := alice.waitAnswer(1); got != "答：今天星期几？" {
		t.Errorf("answer %q", got)
	}
	reqs := requestsFor(st, "今天星期几？")
	if len(reqs) != 1 {
		t.Fatalf("model asked %d times", len(reqs))
	}
	if r := reqs[0]; r.Model != "test-model" || r.Messages[0].Role != "system" || r.Messages[0].Content != "你是公司的助手。" {
		t.Errorf("model request %+v", r)
	}
}

func TestFCMarksEveryRequestAndEveryLineCarriesItsID(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	single(t, st, "alice").ask("你好")

	for _, p := range []*devstack.Process{st.Conversation, st.Reply} {
		out := waitOutput(t, p, "FC Invoke End RequestId: ")
		start := strings.Index(out, "FC Invoke Start RequestId: ")
		if start < 0 {
			t.Fatalf("%s printed no FC invoke start marker", p.Name)
		}
		id := strings.Fields(out[start+len("FC Invoke Start RequestId: "):])[0]
		if !strings.Contains(out, "FC Invoke End RequestId: "+id+"\n") {
			t.Errorf("%s: no end marker for %s", p.Name, id)
		}
		var tagged int
		for _, l := range logLines(t, p) {
			if l["requestId"] == id {
				tagged++
			}
		}
		if tagged == 0 {
			t.Errorf("%s: no log line carries request id %s", p.Name, id)
		}
	}
}

func TestFollowUpSeesHistory(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	alice := single(t, st, "alice")
	alice.ask("我叫小明")
	alice.ask("我叫什么？")

	r := requestsFor(st, "我叫什么？")[0]
	want := []openaitest.Message{{Role: "user", Content: "我叫小明"}, {Role: "assistant", Content: "答：我叫小明"}, {Role: "user", Content: "我叫什么？"}}
	if !slices.Equal(r.Messages, want) {
		t.Errorf("model saw %+v, want %+v", r.Messages, want)
	}
}

func TestHistoryLengthBoundsWhatTheModelSees(t *testing.T) {
	t.Parallel()
	st := echoStack(t, map[string]string{"HISTORY_LENGTH": "2"})
	alice := single(t, st, "alice")
	for _, q := range []string{"一", "二", "三", "四"} {
		alice.ask(q)
	}
	r := requestsFor(st, "四")[0]
	want := []openaitest.Message{
		{Role: "user", Content: "二"}, {Role: "assistant", Content: "答：二"},
		{Role: "user", Content: "三"}, {Role: "assistant", Content: "答：三"},
		{Role: "user", Content: "四"},
	}
	if !slices.Equal(r.Messages, want) {
		t.Errorf("model saw %+v, want the last 2 pairs", r.Messages)
	}
}

func TestClearResetsOnlyThatHistory(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	alice, bob := single(t, st, "alice"), single(t, st, "bob")
	alice.ask("alice 的第一个问题")
	bob.ask("bob 的第一个问题")

	if got := alice.ask(`\clear`); !strings.Contains(got, "已清除") {
		t.Errorf(`\clear answered %q`, got)
	}
	alice.ask("alice 的第二个问题")
	bob.ask("bob 的第二个问题")

	if n := requestsFor(st, "alice 的第二个问题")[0].EarlierTurns(); n != 0 {
		t.Errorf("after \\clear the model saw %d earlier turns of alice", n)
	}
	if n := requestsFor(st, "bob 的第二个问题")[0].EarlierTurns(); n != 1 {
		t.Errorf("alice's \\clear touched bob's history: %d turns left", n)
	}
}

func TestCommandsHelpAndUnknown(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	alice := single(t, st, "alice")
	if got := alice.ask(`\help`); !strings.Contains(got, `\clear`) {
		t.Errorf(`\help answered %q`, got)
	}
	if got := alice.ask(`\foo`); !strings.Contains(got, `未知命令 \foo`) || !strings.Contains(got, `\help`) {
		t.Errorf(`\foo answered %q`, got)
	}
	if n := len(st.Model.Requests()); n != 0 {
		t.Errorf("commands reached the model %d times", n)
	}
}

func TestGroupAtWithLeadingSpace(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	carol := group(t, st, "g1", "carol")

	// DingTalk removes the @robot mention but keeps the space after it.
	if got := carol.ask(" 帮我写一首诗"); !strings.HasSuffix(got, "\n\n答：帮我写一首诗") {
		t.Errorf("answer %q", got)
	}
	if got := carol.ask(` \clear`); !strings.Contains(got, "已清除") {
		t.Errorf(`group \clear answered %q`, got)
	}
}

func TestEachUserKeepsTheirOwnHistory(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	users := []chat{
		single(t, st, "alice"), single(t, st, "bob"),
		group(t, st, "g1", "carol"), group(t, st, "g1", "dave"),
	}
	for _, u := range users {
		u.ask("我是 " + u.from.Nick)
	}
	for _, u := range users {
		u.ask(u.from.Nick + " 的第二问")
	}
	for _, u := range users {
		r := requestsFor(st, u.from.Nick+" 的第二问")[0]
		if r.EarlierTurns() != 1 || r.Messages[0].Content != "我是 "+u.from.Nick {
			t.Errorf("%s's model request carried %+v", u.from.Nick, r.Messages)
		}
	}
}

func TestBadSignaturesAreRefusedAndInvokeNothing(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	alice := single(t, st, "alice")
	body := st.DingTalk.TextCallback(alice.conv, alice.from, "你好").Body
	ctx := context.Background()

	sign := func(secret string, at time.Time) *http.Request {
		req, err := dingtalktest.SignedRequest(ctx, st.Conversation.URL+"/", secret, body, at)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	wrong := sign("not-the-app-secret", time.Now())
	missing := sign(st.AppSecret, time.Now())
	missing.Header.Del("sign")
	stale := sign(st.AppSecret, time.Now().Add(-61*time.Minute))
	future := sign(st.AppSecret, time.Now().Add(61*time.Minute))
	malformed := sign(st.AppSecret, time.Now())
	malformed.Header.Set("timestamp", "yesterday")

	for name, req := range map[string]*http.Request{"wrong": wrong, "missing": missing, "stale": stale, "future": future, "malformed timestamp": malformed} {
		resp, err := st.Post(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusForbidden && resp.Status != http.StatusUnauthorized {
			t.Errorf("%s signature answered %d %q", name, resp.Status, resp.Body)
		}
		if resp.Body == "" {
			t.Errorf("%s signature refused without a reason", name)
		}
	}
	if stats := st.FC.Stats(); stats.Accepted != 0 {
		t.Errorf("refused callbacks invoked the reply function %d times", stats.Accepted)
	}
	if !strings.Contains(st.Conversation.Output(), "callback refused") {
		t.Error("refusals were not logged")
	}
}

func TestMalformedCallbacksAreRefused(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	for name, body := range map[string]string{
		"not JSON":       `{"msgtype": "text", `,
		"no msgId":       `{"msgtype":"text","text":{"content":"hi"},"conversationId":"c","conversationType":"1","senderId":"s","sessionWebhook":"http://x/"}`,
		"wrong type":     `{"msgtype":"text","msgId":42,"text":{"content":"hi"},"conversationId":"c","conversationType":"1","senderId":"s","sessionWebhook":"http://x/"}`,
		"not an object":  `["msgtype"]`,
		"empty document": ``,
	} {
		resp, err := st.Deliver(context.Background(), []byte(body), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusBadRequest {
			t.Errorf("%s: answered %d %q, want 400", name, resp.Status, resp.Body)
		}
	}
	// Over 64 KiB: FC's async payload limit is 128 KB, and no real callback
	// comes near it.
	alice := single(t, st, "alice")
	huge := st.DingTalk.TextCallback(alice.conv, alice.from, strings.Repeat("长", 22000)).Body
	if resp, err := st.Deliver(context.Background(), huge, time.Now()); err != nil || resp.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("a %d-byte callback: %v %+v, want 413", len(huge), err, resp)
	}
	if stats := st.FC.Stats(); stats.Accepted != 0 {
		t.Errorf("malformed callbacks invoked the reply function %d times", stats.Accepted)
	}
}

func TestModelErrorIsExplainedAndHistoryUntouched(t *testing.T) {
	t.Parallel()
	st := start(t, devstack.Config{Model: func(_ context.Context, r openaitest.Request) openaitest.Response {
		if strings.Contains(r.LastUserMessage(), "坏") {
			return openaitest.Response{Status: 401, ErrorMessage: "Incorrect API key provided"}
		}
		return openaitest.Response{Content: "好的"}
	}})
	alice := single(t, st, "alice")
	if got := alice.ask("坏问题"); !strings.Contains(got, "API Key") {
		t.Errorf("user read %q after a 401", got)
	}
	alice.ask("好问题")
	if n := requestsFor(st, "好问题")[0].EarlierTurns(); n != 0 {
		t.Errorf("a failed turn reached history: the next question carried %d turns", n)
	}
}

func TestModelTimeoutIsExplained(t *testing.T) {
	t.Parallel()
	st := start(t, devstack.Config{
		ReplyEnv: map[string]string{"TIMEOUT": "1"},
		Model: func(_ context.Context, r openaitest.Request) openaitest.Response {
			if r.LastUserMessage() == "慢问题" {
				return openaitest.Response{Content: "too late", Delay: 5 * time.Minute}
			}
			return openaitest.Response{Content: "快回答"}
		},
	})
	alice := single(t, st, "alice")
	if got := alice.ask("慢问题"); !strings.Contains(got, "1 秒没有回应") {
		t.Errorf("user read %q after a timeout", got)
	}
	alice.ask("快问题")
	if n := requestsFor(st, "快问题")[0].EarlierTurns(); n != 0 {
		t.Errorf("a timed-out turn reached history (%d turns)", n)
	}
}

func TestWebhookHostNotAllowedIsRefused(t *testing.T) {
	t.Parallel()
	st := echoStack(t, map[string]string{"SESSION_WEBHOOK_HOSTS": "oapi.dingtalk.com"})
	alice := single(t, st, "alice")
	if resp := alice.send("你好"); resp.Status != http.StatusOK {
		t.Fatalf("callback answered %d", resp.Status)
	}
	waitFC(t, st)
	if posts := st.DingTalk.Posts(); len(posts) != 0 {
		t.Errorf("posted to a host outside SESSION_WEBHOOK_HOSTS: %+v", posts)
	}
	waitOutput(t, st.Reply, "SESSION_WEBHOOK_HOSTS")
	if n := len(st.Model.Requests()); n != 0 {
		t.Errorf("the model was asked %d times for an answer that could not be delivered", n)
	}
}

func TestDingTalkIsAnsweredBeforeASlowModel(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	st := start(t, devstack.Config{Model: func(ctx context.Context, r openaitest.Request) openaitest.Response {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return openaitest.Response{Content: "想好了"}
	}})
	alice := single(t, st, "alice")
	resp := alice.send("一个难题")
	if resp.Status != http.StatusOK {
		t.Fatalf("callback answered %d", resp.Status)
	}
	if n := len(alice.posts()); n != 0 {
		t.Fatalf("answer posted before the model answered")
	}
	close(release)
	if got := alice.waitAnswer(1); got != "想好了" {
		t.Errorf("answer %q", got)
	}
}

// A rate-limited post is retried (by the webhook client, and past its
// attempts by FC): the answer arrives, the model is asked once, the turn is
// stored once.
func TestARateLimitedAnswerStillArrivesOnce(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	alice := single(t, st, "alice")
	st.DingTalk.FailNext(1, 130101, "send too fast")
	if got := alice.ask("重试一下"); got != "答：重试一下" {
		t.Errorf("answer %q", got)
	}
	waitFC(t, st)
	if n := len(requestsFor(st, "重试一下")); n != 1 {
		t.Errorf("the retry asked the model again (%d requests); the kept answer should have been posted", n)
	}
	alice.ask("下一个")
	if n := requestsFor(st, "下一个")[0].EarlierTurns(); n != 1 {
		t.Errorf("the retried turn is stored %d times, want once", n)
	}
}

func TestARedeliveredMessageIsAnsweredOnce(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	alice := single(t, st, "alice")
	cb := st.DingTalk.TextCallback(alice.conv, alice.from, "只回答一次")
	for i := range 3 {
		// DingTalk delivers the same msgId again when the first delivery
		// seemed slow to it.
		resp, err := st.Deliver(context.Background(), cb.Body, time.Now())
		if err != nil || resp.Status != http.StatusOK {
			t.Fatalf("delivery %d: %v %+v", i, err, resp)
		}
	}
	alice.waitAnswer(1)
	waitFC(t, st)
	if n := len(alice.posts()); n != 1 {
		t.Errorf("%d answers posted for one message", n)
	}
	if n := len(requestsFor(st, "只回答一次")); n != 1 {
		t.Errorf("the model was asked %d times", n)
	}
	if stats := st.FC.Stats(); stats.TaskConflicts != 2 {
		t.Errorf("FC refused %d repeated tasks, want 2", stats.TaskConflicts)
	}
}

func TestAnEventDeliveredTwiceByFCIsAnsweredOnce(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	alice := single(t, st, "alice")
	// Take the event the conversation function handed over, and deliver it
	// to the reply function again, as FC's at-least-once delivery may.
	alice.ask("至少一次")
	waitFC(t, st)
	invs := st.FC.Invocations()
	if len(invs) != 1 {
		t.Fatalf("%d invocations", len(invs))
	}
	for range 2 {
		resp, err := http.Post(st.Reply.URL+"/invoke", "application/octet-stream", bytes.NewReader(invs[0].Payload))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("duplicate delivery answered %d", resp.StatusCode)
		}
	}
	if n := len(alice.posts()); n != 1 {
		t.Errorf("%d answers posted", n)
	}
	if n := len(requestsFor(st, "至少一次")); n != 1 {
		t.Errorf("the model was asked %d times", n)
	}
}

func TestMissingConfigurationStopsAtStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		program string
		env     []string
		names   string
	}{
		{"conversation", []string{"CHATGPT_FUNCTION=reply"}, "DINGTALK_APP_SECRET"},
		{"conversation", []string{"DINGTALK_APP_SECRET=x", "CHATGPT_FUNCTION=reply"}, "ENDPOINT"},
		{"reply", []string{"ENDPOINT=http://127.0.0.1:1", "HISTORY_LENGTH=five", "OSS_MOUNT_POINT=" + t.TempDir()}, "HISTORY_LENGTH"},
		{"reply", []string{"ENDPOINT=http://127.0.0.1:1", "OSS_MOUNT_POINT=/does/not/exist"}, "OSS_MOUNT_POINT"},
		{"reply", []string{"OSS_MOUNT_POINT=" + t.TempDir()}, "CHATGPT_API_KEY"},
		{"reply", []string{"ENDPOINT=http://127.0.0.1:1", "VERBOSE=loud", "OSS_MOUNT_POINT=" + t.TempDir()}, "VERBOSE"},
	}
	for _, tt := range tests {
		cmd := exec.Command(binDir + "/" + tt.program)
		cmd.Env = append(tt.env, "FC_CUSTOM_LISTEN_PORT=0")
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("%s started with %v", tt.program, tt.env)
			continue
		}
		if !strings.Contains(string(out), tt.names) {
			t.Errorf("%s with %v said %q, want it to name %s", tt.program, tt.env, out, tt.names)
		}
	}
}
