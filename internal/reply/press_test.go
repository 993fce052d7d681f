package reply

import (
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/bucket"
	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/fcruntime"
)

// pressFixture is a service whose cards have buttons: the card "card-1"
// answers alice's question m1 in a group.
func pressFixture(t *testing.T) (*fixture, *bucket.Stops, *bucket.Decisions) {
	t.Helper()
	stops := bucket.NewStops(mountAt(t, t.TempDir()))
	decisions := bucket.NewDecisions(mountAt(t, t.TempDir()))
	cards := bucket.NewCards(mountAt(t, t.TempDir()), bucket.Config{})
	votes := bucket.NewVotes(mountAt(t, t.TempDir()), bucket.Config{Now: func() time.Time { return clock }})
	f := newFixture(t, nil, func(c *testConfig) {
		c.Stops, c.Decisions, c.Cards, c.Votes = stops, decisions, cards, votes
		c.Access = Access{Admins: []string{"boss"}}
	})
	rec := chat.CardRecord{
		MessageID: "m1", ConversationID: conversationID, ConversationType: chat.GroupChat,
		Owner: "group\x00" + conversationID + "\x00u1", AskerStaffID: "alice", SenderID: "u1", AskedAt: clock,
	}
	if err := cards.Keep(t.Context(), "card-1", rec, clock); err != nil {
		t.Fatal(err)
	}
	return f, stops, decisions
}

func (f *fixture) press(t *testing.T, action chat.PressAction, who string, at time.Time) {
	t.Helper()
	ev := chat.Event{Version: chat.EventVersion, Press: &chat.Press{CardID: "card-1", UserID: who, Action: action, At: at}}
	if err := f.svc.Handle(fcruntime.NewContext(t.Context(), fcruntime.Invocation{RequestID: "p-" + who}), ev); err != nil {
		t.Fatal(err)
	}
}

func TestStopIsTheAskersOrAnAdminsToPress(t *testing.T) {
	owner := "group\x00" + conversationID + "\x00u1"
	for _, c := range []struct {
		who     string
		stopped bool
	}{{"bob", false}, {"alice", true}, {"boss", true}} {
		f, stops, _ := pressFixture(t)
		f.press(t, chat.PressStop, c.who, clock.Add(10*time.Second))
		if stopped, err := stops.StoppedSince(t.Context(), owner, clock); err != nil || stopped != c.stopped {
			t.Errorf("%s's Stop on alice's answer: stopped %v (%v); want %v", c.who, stopped, err, c.stopped)
		}
		// Pressed on a card that was finished, it never ends the answer to
		// a question asked after the card's.
		if stopped, _ := stops.StoppedSince(t.Context(), owner, clock.Add(time.Second)); stopped {
			t.Errorf("%s's Stop reaches an answer to a later question", c.who)
		}
	}
}

func TestAVoteCountsOncePerPersonAndShowsOnTheCard(t *testing.T) {
	f, _, _ := pressFixture(t)
	f.press(t, chat.PressLike, "bob", clock.Add(time.Second))
	f.press(t, chat.PressLike, "bob", clock.Add(2*time.Second))
	f.press(t, chat.PressDislike, "bob", clock.Add(3*time.Second))
	f.press(t, chat.PressDislike, "carol", clock.Add(4*time.Second))
	if got := f.out.votes["card-1"]; got != [2]int{1, 1} {
		t.Errorf("the card shows %v; want one 👍 and one 👎", got)
	}
	for who, want := range map[string]string{"boss": "👍 1　👎 1", "bob": "只有管理员"} {
		ev := event("m-"+who, `\feedback`, clock.Add(time.Minute))
		ev.Message.SenderStaffID = who
		if err := f.handle(t, "r-"+who, ev); err != nil {
			t.Fatal(err)
		}
		if got := f.out.last(conversationID); !strings.Contains(got, want) {
			t.Errorf(`%s's \feedback: %q; want %q`, who, got, want)
		}
	}
}

func TestADecisionPressedIsKeptUnderItsConversationAndWhoPressed(t *testing.T) {
	f, _, decisions := pressFixture(t)
	f.press(t, chat.PressDeny, "boss", clock.Add(time.Second))
	key := decisionKey(conversationID, questionCode("m1"))
	if decided, approve, err := decisions.DecidedSince(t.Context(), key, clock, []string{"boss"}); err != nil || !decided || approve {
		t.Errorf("the admin's deny: decided %v, approve %v, %v", decided, approve, err)
	}
}

func TestAPressOnACardWithNoRecordChangesNothing(t *testing.T) {
	f, _, _ := pressFixture(t)
	ev := chat.Event{Version: chat.EventVersion, Press: &chat.Press{CardID: "card-forged", UserID: "bob", Action: chat.PressLike, At: clock}}
	if err := f.svc.Handle(fcruntime.NewContext(t.Context(), fcruntime.Invocation{RequestID: "p"}), ev); err != nil {
		t.Errorf("a press on an unknown card: %v; want it dropped", err)
	}
	if len(f.out.votes) != 0 {
		t.Errorf("a card was updated: %v", f.out.votes)
	}
}
