package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// buttonsStack is a stack whose answers stream into cards with buttons,
// their callback registered with the fake DingTalk at the conversation
// function's /card.
func buttonsStack(t *testing.T, answer string) *devstack.Stack {
	t.Helper()
	st := start(t, devstack.Config{
		DingTalkApp: true, CardButtons: true,
		Model:    openaitest.Fixed(openaitest.Response{Content: answer, Chunks: chunked(answer), ChunkDelay: 10 * time.Millisecond}),
		ReplyEnv: map[string]string{"CARD_TEMPLATE_ID": "fcrobot-test.schema", "CARD_CONTENT_KEY": "answer", "CARD_UPDATE_INTERVAL": "100ms"},
	})
	st.DingTalk.AddCardTemplate("fcrobot-test.schema", "answer")
	// The reply function is to register the callback; until it does, the
	// stack does, as it will: through the robot's OpenAPI client.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.RegisterCardCallback(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// A card with buttons shows Stop while the answer streams, then the votes;
// a signed press of one of them reaches the reply function as an event,
// answered {} well within DingTalk's 2 s.
func TestAPressOfACardsButtonReachesTheReplyFunction(t *testing.T) {
	t.Parallel()
	answer := "函数计算按调用计费，空闲不收费。"
	st := buttonsStack(t, answer)
	alice := single(t, st, "alice")
	card := alice.askCard("介绍一下函数计算")
	waitFC(t, st)
	card = st.DingTalk.Cards()[0]
	if card.CallbackType != "HTTP" || card.CallbackRouteKey != st.CardRouteKey || card.Content("answer") != answer {
		t.Fatalf("card %+v; want the answer in a card for HTTP callbacks on the stack's route key", card)
	}
	if card.Data[dingtalk.CardVarStopVisible] != "true" || card.Var(dingtalk.CardVarStopVisible) != "false" || card.Var(dingtalk.CardVarFeedbackVisible) != "true" {
		t.Errorf("the card was created with stop %q and shows stop %q, votes %q; want Stop while it streamed, then the votes",
			card.Data[dingtalk.CardVarStopVisible], card.Var(dingtalk.CardVarStopVisible), card.Var(dingtalk.CardVarFeedbackVisible))
	}
	// Each message's event names the callback URL, the conversation
	// function's own address with /card: the one the reply function is to
	// register.
	waitOutput(t, st.Conversation, `"cardCallbackUrl":"`+st.CardCallbackURL()+`"`)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// DingTalk sends the press twice, as a retry would: one FC task.
	like := dingtalktest.PressRequest{OutTrackID: card.OutTrackID, UserID: "staff-alice", Params: map[string]string{"action": "like"}, Timestamp: time.Now()}
	for range 2 {
		res, err := st.DingTalk.PressWith(ctx, like)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Answered() || res.Body != "{}" || res.Took >= dingtalktest.PressAnswerWindow {
			t.Errorf("DingTalk got %d %q after %v; want 200 {} within %v", res.Status, res.Body, res.Took, dingtalktest.PressAnswerWindow)
		}
	}
	out := waitOutput(t, st.Reply, "press events are not handled yet")
	for _, want := range []string{`"action":"like"`, `"outTrackId":"` + card.OutTrackID + `"`, `"userId":"staff-alice"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the reply function's log of the press lacks %s", want)
		}
	}
	waitFC(t, st)
	if n := pressTasks(st); n != 1 {
		t.Errorf("%d FC tasks of presses; want the press sent twice handed over once", n)
	}
	if n := len(st.DingTalk.Cards()); n != 1 || len(alice.posts()) != 0 {
		t.Errorf("after the press: %d cards, %d messages; want the press answered by nothing yet", n, len(alice.posts()))
	}
}

// A press with a wrong signature, on a card the robot never made, or of a
// button the robot has not, is refused within DingTalk's 2 s and reaches
// nothing.
func TestForgedPressesAreRefusedAndReachNothing(t *testing.T) {
	t.Parallel()
	st := buttonsStack(t, "答。")
	alice := single(t, st, "alice")
	card := alice.askCard("你好")
	waitFC(t, st)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stop := map[string]string{"action": "stop"}
	for _, tt := range []struct {
		name   string
		req    dingtalktest.PressRequest
		status int
	}{
		{"a wrong signature", dingtalktest.PressRequest{OutTrackID: card.OutTrackID, UserID: "staff-alice", Params: stop, Secret: "a-forgers-secret-0123456789"}, http.StatusForbidden},
		{"an hour-old signature", dingtalktest.PressRequest{OutTrackID: card.OutTrackID, UserID: "staff-alice", Params: stop, Timestamp: time.Now().Add(-2 * time.Hour)}, http.StatusForbidden},
		{"a card the robot never made", dingtalktest.PressRequest{RouteKey: st.CardRouteKey, OutTrackID: "fcrobot-0123456789abcdef0123456789abcdef_0123456789abcdef", UserID: "staff-alice", Params: stop}, http.StatusForbidden},
		{"a button the robot has not", dingtalktest.PressRequest{OutTrackID: card.OutTrackID, UserID: "staff-alice", Params: map[string]string{"action": "delete_everything"}}, http.StatusBadRequest},
	} {
		res, err := st.DingTalk.PressWith(ctx, tt.req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if res.Status != tt.status || res.TimedOut || res.Took >= dingtalktest.PressAnswerWindow {
			t.Errorf("%s: DingTalk got %d after %v; want %d within %v", tt.name, res.Status, res.Took, tt.status, dingtalktest.PressAnswerWindow)
		}
	}
	waitFC(t, st)
	if n := pressTasks(st); n != 0 {
		t.Errorf("%d refused presses were handed to the reply function", n)
	}
	for _, want := range []string{"card callback refused", "signature mismatch", "too far from the current time", "not one of this robot's cards", "not one of the robot's buttons"} {
		waitOutput(t, st.Conversation, want)
	}
}

// pressTasks counts the presses the conversation function handed to FC.
func pressTasks(st *devstack.Stack) int {
	n := 0
	for _, inv := range st.FC.Invocations() {
		if strings.HasPrefix(inv.TaskID, "dingtalk-press-") {
			n++
		}
	}
	return n
}
