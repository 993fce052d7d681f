package dingtalk_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

// buttonsConfig is cardConfig with buttons.
var buttonsConfig = func() dingtalk.CardConfig {
	c := cardConfig
	c.RouteKey, c.IDs = routeKey, dingtalk.CardIDs{Secret: cardSecret}
	return c
}()

func TestOutboxCardWithButtonsShowsStopThenTheVotes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newOutbox(t, true, buttonsConfig, dingtalktest.InMemory())
		m := w.message(true)
		d := w.outbox.Open(t.Context(), m, attempt1)
		write(d, "按下停止键也不怕", time.Millisecond)
		cards, err := w.fake.WaitCards(t.Context(), 1, false)
		if err != nil {
			t.Fatal(err)
		}
		c := cards[0]
		if c.CallbackType != "HTTP" || c.CallbackRouteKey != routeKey {
			t.Errorf("created with callbackType %q, route key %q; want HTTP and %s", c.CallbackType, c.CallbackRouteKey, routeKey)
		}
		if !buttonsConfig.IDs.Check(c.OutTrackID) || c.OutTrackID != w.outbox.CardID(m, attempt1) {
			t.Errorf("outTrackId %q is not the robot's tagged id %q", c.OutTrackID, w.outbox.CardID(m, attempt1))
		}
		for key, want := range map[string]string{
			dingtalk.CardVarStopVisible: "true", dingtalk.CardVarFeedbackVisible: "false", dingtalk.CardVarLikes: "0",
			dingtalk.CardVarDislikes: "0", dingtalk.CardVarConfirmVisible: "false", contentKey: "思考中…",
		} {
			if c.Data[key] != want {
				t.Errorf("created with %s = %q, want %q", key, c.Data[key], want)
			}
		}
		if _, err := w.deliver(t, chat.Answer{To: m, Text: "按下停止键也不怕", Draft: d}); err != nil {
			t.Fatal(err)
		}
		c = w.fake.Cards()[0]
		if c.Var(dingtalk.CardVarStopVisible) != "false" || c.Var(dingtalk.CardVarFeedbackVisible) != "true" || c.Var(dingtalk.CardVarLikes) != "0" {
			t.Errorf("the finished card shows stop %q, votes %q (likes %q); want no Stop, the votes, the counts kept",
				c.Var(dingtalk.CardVarStopVisible), c.Var(dingtalk.CardVarFeedbackVisible), c.Var(dingtalk.CardVarLikes))
		}
		if !c.Finalized() || c.Content(contentKey) != "按下停止键也不怕" || len(c.DataUpdates) != 1 {
			t.Errorf("finalized %v, content %q, %d updates for everyone; want the answer and one update", c.Finalized(), c.Content(contentKey), len(c.DataUpdates))
		}
	})
}

func TestOutboxCardWithoutARouteKeyHasNoButtons(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A secret alone gives no buttons: DingTalk has no route to send
		// presses to.
		cfg := cardConfig
		cfg.IDs = dingtalk.CardIDs{Secret: cardSecret}
		w := newOutbox(t, true, cfg, dingtalktest.InMemory())
		m := w.message(false)
		d := w.outbox.Open(t.Context(), m, attempt1)
		if _, err := w.deliver(t, chat.Answer{To: m, Text: "答", Draft: d}); err != nil {
			t.Fatal(err)
		}
		c := w.fake.Cards()[0]
		if c.CallbackType != "STREAM" || c.CallbackRouteKey != "" || len(c.Data) != 1 || len(c.DataUpdates) != 0 || strings.Contains(c.OutTrackID, "_") {
			t.Errorf("card %+v; want one as before buttons", c)
		}
		if err := w.outbox.UpdateCard(t.Context(), c.OutTrackID, map[string]string{"likes": "1"}); err == nil {
			t.Error("a card without buttons was updated")
		}
	})
}

func TestOutboxCardWithButtonsThatFailsShowsNone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newOutbox(t, true, buttonsConfig, dingtalktest.InMemory())
		m := w.message(false)
		d := w.outbox.Open(t.Context(), m, attempt1)
		if _, err := w.fake.WaitCards(t.Context(), 1, false); err != nil {
			t.Fatal(err)
		}
		w.fake.FailCardStreamingNext(1, 400, "param.stream.content", "content is too large")
		write(d, "写到一半", time.Millisecond)
		time.Sleep(time.Second)
		if _, err := w.deliver(t, chat.Answer{To: m, Text: "写到一半的回答", Draft: d}); err != nil {
			t.Fatal(err)
		}
		c := w.fake.Cards()[0]
		if c.Var(dingtalk.CardVarStopVisible) != "false" || c.Var(dingtalk.CardVarFeedbackVisible) != "false" {
			t.Errorf("the failed card shows stop %q, votes %q; want neither", c.Var(dingtalk.CardVarStopVisible), c.Var(dingtalk.CardVarFeedbackVisible))
		}
		if got := w.posted(m); len(got) != 1 || got[0] != "写到一半的回答" {
			t.Errorf("messages %q; want the answer below the failed card", got)
		}
	})
}

func TestOutboxButtonsThatCannotBeShownLoseNoAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newOutbox(t, true, buttonsConfig, dingtalktest.InMemory())
		m := w.message(false)
		d := w.outbox.Open(t.Context(), m, attempt1)
		w.fake.FailCardUpdateNext(10, 403, dingtalk.CodePermissionDenied, "no")
		pieces, err := w.deliver(t, chat.Answer{To: m, Text: "答案在卡片里", Draft: d})
		if err != nil || len(pieces) != 1 {
			t.Fatalf("Deliver = %v, %v", err, pieces)
		}
		if c := w.fake.Cards()[0]; c.Content(contentKey) != "答案在卡片里" || len(w.posted(m)) != 0 {
			t.Errorf("the card shows %q, messages %q; want the answer in the card alone", c.Content(contentKey), w.posted(m))
		}
	})
}

func TestOutboxRecoverHidesTheButtonsOfADeadAttemptsCard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newOutbox(t, true, buttonsConfig, dingtalktest.InMemory())
		m := w.message(false)
		w.outbox.Open(t.Context(), m, attempt1).Show("写到")
		if _, err := w.fake.WaitCards(t.Context(), 1, false); err != nil {
			t.Fatal(err)
		}
		retry := chat.Attempt{RequestID: attempt1.RequestID, Retry: 1, Instance: "i-2"}
		w.outbox.Recover(t.Context(), m, retry)
		c := w.fake.Cards()[0]
		if !c.Finalized() || c.Var(dingtalk.CardVarStopVisible) != "false" || c.Var(dingtalk.CardVarFeedbackVisible) != "false" {
			t.Errorf("the dead attempt's card: finalized %v, stop %q, votes %q; want finished, no button",
				c.Finalized(), c.Var(dingtalk.CardVarStopVisible), c.Var(dingtalk.CardVarFeedbackVisible))
		}
	})
}

func TestOutboxButtonsCountInTheMonthsBudget(t *testing.T) {
	if n := buttonsConfig.CallsPerAnswer(); n != 3+dingtalk.DefaultCardMaxUpdates {
		t.Errorf("a card with buttons costs %d calls at most, want %d", n, 3+dingtalk.DefaultCardMaxUpdates)
	}
	if n := cardConfig.CallsPerAnswer(); n != 2+dingtalk.DefaultCardMaxUpdates {
		t.Errorf("a card without buttons costs %d calls at most, want %d", n, 2+dingtalk.DefaultCardMaxUpdates)
	}
	synctest.Test(t, func(t *testing.T) {
		fake := dingtalktest.NewServer(dingtalktest.InMemory(), dingtalktest.WithClock(func() time.Time { return outboxClock }))
		t.Cleanup(fake.Close)
		fake.SetApp(appKey, appSecret)
		fake.AddCardTemplate(templateID, contentKey)
		var left atomic.Int64
		left.Store(int64(2 + dingtalk.DefaultCardMaxUpdates))
		outbox := dingtalk.NewOutbox(dingtalk.OutboxConfig{
			Webhooks: dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: fake.Client(), AllowedHosts: []string{fake.Host()}, Retry: fastRetries()}),
			OpenAPI: dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{
				HTTPClient: fake.Client(), BaseURL: fake.URL(), AppKey: appKey, AppSecret: appSecret, Retry: fastRetries(),
				OnCall: func() { left.Add(-1) },
			}),
			RobotCode: appKey, Card: buttonsConfig, Now: func() time.Time { return outboxClock },
			CallsLeft: func() (int, bool) { return int(left.Load()), true },
		})
		w := outboxWorld{fake: fake, outbox: outbox}
		m := w.message(false)
		if d := outbox.Open(t.Context(), m, attempt1); d != nil {
			t.Errorf("a card with buttons with %d calls left, one fewer than it may cost", left.Load())
		}
		left.Store(0)
		if err := outbox.UpdateCard(t.Context(), "any", map[string]string{"likes": "1"}); err == nil || !strings.Contains(err.Error(), "DINGTALK_MONTHLY_API_CALLS") {
			t.Errorf("UpdateCard with the budget spent: %v", err)
		}
	})
}
