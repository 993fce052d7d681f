package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// The end-to-end cases of forged callbacks (docs/threat-model.md):
// DingTalk's signature covers the timestamp alone, so whoever captured one
// callback's timestamp and sign posts any body with them.

// capturedPair is the timestamp and sign of one genuine callback, as an
// eavesdropper would keep them.
type capturedPair struct{ timestamp, sign string }

func capture(t *testing.T, st *devstack.Stack, at time.Time) capturedPair {
	t.Helper()
	req, err := dingtalktest.SignedRequest(context.Background(), st.Conversation.URL+"/", st.AppSecret, []byte("{}"), at)
	if err != nil {
		t.Fatal(err)
	}
	return capturedPair{timestamp: req.Header.Get("timestamp"), sign: req.Header.Get("sign")}
}

// post sends body with the captured pair.
func (p capturedPair) post(t *testing.T, st *devstack.Stack, body []byte) devstack.Callback {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, st.Conversation.URL+"/", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("timestamp", p.timestamp)
	req.Header.Set("sign", p.sign)
	resp, err := st.Post(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// edit changes fields of a callback body.
func edit(t *testing.T, body []byte, fields map[string]any) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		b[k] = v
	}
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestForgedOneToOneCallbackWithAGroupsIDNeitherReadsNorChangesItsSystemPrompt(t *testing.T) {
	t.Parallel()
	st := start(t, devstack.Config{
		Model: openaitest.Echo("答："), DingTalkApp: true,
		ReplyEnv:        map[string]string{"SYSTEM_PROMPT": "默认提示词", "ADMIN_USERS": "staff-root"},
		ConversationEnv: map[string]string{"SIGNATURE_MAX_AGE": "300"},
	})
	root, carol := group(t, st, "g1", "root"), group(t, st, "g1", "carol")
	if got := root.ask(`\system 群的秘密提示词`); !strings.Contains(got, "已设置") {
		t.Fatalf(`the administrator's \system answered %q`, got)
	}

	// Mallory has a one-to-one chat with the robot (the webhook she reads
	// answers on), the group's id, and a pair captured a minute ago.
	mallory := single(t, st, "mallory")
	pair := capture(t, st, time.Now().Add(-time.Minute))
	forge := func(text string) int {
		cb := st.DingTalk.TextCallback(dingtalktest.Conversation{ID: root.conv.ID}, mallory.from, text)
		body := edit(t, cb.Body, map[string]any{"sessionWebhook": st.DingTalk.WebhookURL(mallory.session())})
		before := len(mallory.posts())
		if resp := pair.post(t, st, body); resp.Status != http.StatusOK {
			t.Fatalf("the forged callback got %d %q", resp.Status, resp.Body)
		}
		return before + 1
	}
	if got := mallory.waitAnswer(forge(`\system`)); strings.Contains(got, "群的秘密提示词") || !strings.Contains(got, "默认提示词") {
		t.Errorf(`a forged one-to-one \system with the group's id read %q`, got)
	}
	if got := mallory.waitAnswer(forge(`\system 你是海盗`)); !strings.Contains(got, "已设置本会话") {
		t.Errorf(`a forged one-to-one \system change answered %q`, got)
	}
	if got := carol.ask(`\system`); !strings.Contains(got, "群的秘密提示词") || strings.Contains(got, "海盗") {
		t.Errorf(`the group's \system after the forgery: %q`, got)
	}
	carol.ask("群里的问题")
	if r := requestsFor(st, "群里的问题"); len(r) != 1 || r[0].Messages[0].Content != "群的秘密提示词" {
		t.Errorf("the group's question reached the model as %+v; want the administrator's prompt", r)
	}

	// A body for another robot, a pair older than SIGNATURE_MAX_AGE, or one
	// from the future, is refused before anything runs.
	asked := len(st.Model.Requests())
	other := edit(t, st.DingTalk.TextCallback(mallory.conv, mallory.from, "别的机器人").Body, map[string]any{"robotCode": "dingother"})
	if resp := pair.post(t, st, other); resp.Status != http.StatusForbidden || !strings.Contains(resp.Body, "robotCode") {
		t.Errorf("a callback for another robotCode got %d %q", resp.Status, resp.Body)
	}
	fresh := st.DingTalk.TextCallback(mallory.conv, mallory.from, "过期的签名").Body
	for name, at := range map[string]time.Time{"301 s old": time.Now().Add(-301 * time.Second), "2 min ahead": time.Now().Add(2 * time.Minute)} {
		if resp := capture(t, st, at).post(t, st, fresh); resp.Status != http.StatusForbidden {
			t.Errorf("a pair %s got %d %q", name, resp.Status, resp.Body)
		}
	}
	waitFC(t, st)
	if n := len(st.Model.Requests()); n != asked {
		t.Errorf("refused callbacks reached the model %d times", n-asked)
	}
}

func TestTenQuestionsAtOnceAgainstADailyLimitOfTwoReachTheModelTwice(t *testing.T) {
	t.Parallel()
	// createAt is frozen; the day is the one the conversation function
	// received the questions on, which the test cannot freeze: it notes
	// the day in Shanghai around the sending, for the rare run across
	// midnight.
	sent := time.Now()
	st := start(t, devstack.Config{
		Model: openaitest.Echo("答："), DingTalkClock: func() time.Time { return sent }, ReplyInstances: 3,
		ReplyEnv: map[string]string{"DAILY_LIMIT": "2"},
	})
	alice := single(t, st, "alice")
	var cbs []dingtalktest.Callback
	for i := range 10 {
		cbs = append(cbs, st.DingTalk.TextCallback(alice.conv, alice.from, "同时的问题 "+string(rune('A'+i))))
	}
	dayBefore := shanghaiDay()
	deliverAtOnce(t, st, cbs)
	alice.waitAnswer(10)
	waitFC(t, st)
	if shanghaiDay() != dayBefore {
		t.Skip("the questions were sent across midnight in Shanghai: two days, two limits")
	}
	if n := len(st.Model.Requests()); n != 2 {
		t.Errorf("the model was asked %d times; want 2", n)
	}
	refusals := 0
	for _, p := range alice.posts() {
		if strings.Contains(p.Content(), "达到了每日 2 个的上限") {
			refusals++
		}
	}
	if refusals != 8 || len(alice.posts()) != 10 {
		t.Errorf("%d refusals among %d answers; want 8 of 10", refusals, len(alice.posts()))
	}
	if got := alice.ask(`\usage`); !strings.Contains(got, "你问了 2 个问题") || !strings.Contains(got, "还剩 0 个") {
		t.Errorf(`\usage answered %q`, got)
	}
}

func shanghaiDay() string { return time.Now().In(time.FixedZone("CST", 8*3600)).Format("20060102") }
