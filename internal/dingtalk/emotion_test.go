package dingtalk_test

import (
	"net/http"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

func TestTheThinkingBadgeGoesOnAUsersMessageAndComesOff(t *testing.T) {
	fake := dingtalktest.NewServer()
	t.Cleanup(fake.Close)
	fake.SetApp(appKey, appSecret)
	api := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: &http.Client{Transport: fake.Client().Transport}, BaseURL: fake.URL(), AppKey: appKey, AppSecret: appSecret, Retry: fastRetries()})
	r := dingtalk.Reactions{OpenAPI: api, RobotCode: appKey}

	conv := dingtalktest.Conversation{ID: "cid-1"}
	cb := fake.TextCallback(conv, dingtalktest.Sender{ID: "u1"}, "你好")
	m, err := dingtalk.ParseCallback(cb.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Thinking(t.Context(), m); err != nil {
		t.Fatalf("Thinking: %v", err)
	}
	if got := fake.Reactions(); len(got) != 1 || got[0].MsgID != cb.MsgID || got[0].Text != dingtalk.ThinkingText || got[0].Recalled {
		t.Errorf("badges %+v; want %q on the message", got, dingtalk.ThinkingText)
	}
	if err := r.Done(t.Context(), m); err != nil {
		t.Fatalf("Done: %v", err)
	}
	if got := fake.Reactions(); len(got) != 1 || !got[0].Recalled {
		t.Errorf("badges %+v; want it taken off", got)
	}

	// Not on a message no user sent in that conversation, as DingTalk.
	other := m
	other.ID = "msg-of-the-robot"
	if err := r.Thinking(t.Context(), other); err == nil {
		t.Errorf("a badge on a message no user sent was taken")
	}
	// Refusals DingTalk is known for come back as errors.
	fake.FailReactionsNext(1)
	if err := r.Thinking(t.Context(), m); err == nil {
		t.Errorf("an injected failure was not reported")
	}
	if err := (dingtalk.Reactions{OpenAPI: api}).Thinking(t.Context(), chat.Message{ID: "x"}); err == nil {
		t.Errorf("a badge without robot code or conversation was sent")
	}

	// Near the month's budget no badge goes on: the calls go to answers.
	low := dingtalk.Reactions{OpenAPI: api, RobotCode: appKey, CallsLeft: func() (int, bool) { return 3, true }, Reserve: 5}
	cb2 := fake.TextCallback(conv, dingtalktest.Sender{ID: "u1"}, "再问")
	m2, err := dingtalk.ParseCallback(cb2.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := low.Thinking(t.Context(), m2); err != nil || len(fake.Reactions()) != 1 {
		t.Errorf("near the budget: %v, badges %+v; want none put", err, fake.Reactions())
	}
}
