package reply

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/bucket"
	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/fcruntime"
)

// confirmTools are a ticket maker whose calls wait for a yes.
type confirmTools struct{ fakeTools }

func (c *confirmTools) Describe(call chat.ToolCall) chat.ToolUse {
	use := c.fakeTools.Describe(call)
	use.Confirm = call.Name == "create_ticket"
	return use
}

// ticketModel asks for a ticket, then answers with what the call gave.
var ticketModel = func(_ context.Context, p chat.Prompt) (chat.Completion, error) {
	if n := len(p.Rounds); n > 0 {
		return chat.Completion{Text: "结果：" + p.Rounds[n-1].Results[0].Content}, nil
	}
	return chat.Completion{ToolCalls: []chat.ToolCall{{ID: "t1", Name: "create_ticket", Arguments: `{"title":"部署失败"}`}}}, nil
}

// askingDraft is a card with buttons: it records the question and how it
// ended.
type askingDraft struct {
	draft
	mu       sync.Mutex
	question string
	outcome  string
}

func (d *askingDraft) CardID() string { return "card-1" }
func (d *askingDraft) Ask(q string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.question = q
	return true
}
func (d *askingDraft) Asked(o string) {
	d.mu.Lock()
	d.outcome = o
	d.mu.Unlock()
}

func confirmFixture(t *testing.T, tools *confirmTools, edits ...func(*testConfig)) (*fixture, *bucket.Decisions) {
	t.Helper()
	decisions := bucket.NewDecisions(mountAt(t, t.TempDir()))
	f := toolFixture(t, &toolModel{turn: ticketModel}, &tools.fakeTools, append([]func(*testConfig){func(c *testConfig) {
		c.Tools, c.Decisions, c.StopPoll = tools, decisions, 10*time.Millisecond
	}}, edits...)...)
	f.runClock()
	return f, decisions
}

func TestACallToConfirmIsMadeOnceTheAskerSaysYes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tools := &confirmTools{}
		f, _ := confirmFixture(t, tools)
		done := make(chan error, 1)
		go func() { done <- f.handle(t, "r1", event("m1", "帮我建个工单", clock)) }()
		synctest.Wait() // the question is asked, the answer waits
		if asked := f.out.last(conversationID); !strings.Contains(asked, "docs.create_ticket") || !strings.Contains(asked, `\yes `+questionCode("m1")) {
			t.Fatalf("the asker was asked %q", asked)
		}
		if n := tools.count("create_ticket"); n != 0 {
			t.Fatalf("the ticket was made before anyone said yes")
		}
		if err := f.handle(t, "r2", event("m2", `\yes `+questionCode("m1"), clock.Add(2*time.Second))); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := f.out.last(conversationID); got != "结果：create_ticket 的结果" || tools.count("create_ticket") != 1 {
			t.Errorf("the answer %q, %d tickets; want the one made after the yes", got, tools.count("create_ticket"))
		}
	})
}

func TestACallToConfirmIsNotMadeOnANoOrWithoutAnAnswer(t *testing.T) {
	for _, c := range []struct {
		name, say, want string
	}{{"no", `\no ` + questionCode("m1"), deniedResult}, {"nothing", "", unheardResult}} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tools := &confirmTools{}
				f, _ := confirmFixture(t, tools, func(tc *testConfig) { tc.ConfirmWait = 30 * time.Second })
				done := make(chan error, 1)
				go func() { done <- f.handle(t, "r1", event("m1", "帮我建个工单", clock)) }()
				synctest.Wait()
				if c.say != "" {
					if err := f.handle(t, "r2", event("m2", c.say, clock.Add(time.Second))); err != nil {
						t.Fatal(err)
					}
				}
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				if got := f.out.last(conversationID); got != "结果："+c.want || tools.count("create_ticket") != 0 {
					t.Errorf("the answer %q, %d tickets; want none made, the model told why", got, tools.count("create_ticket"))
				}
			})
		})
	}
}

// In a group with administrators, a member's yes decides nothing; an
// administrator's does, pressed on the card's buttons.
func TestInAGroupWithAdminsAnAdminDecides(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tools := &confirmTools{}
		f, decisions := confirmFixture(t, tools, func(c *testConfig) { c.Access = Access{Admins: []string{"boss"}} })
		card := &askingDraft{}
		f.out.asking = card
		ev := event("m1", "帮我建个工单", clock)
		ev.Message.ConversationType, ev.Message.SenderStaffID = chat.GroupChat, "member"
		done := make(chan error, 1)
		go func() { done <- f.handle(t, "r1", ev) }()
		synctest.Wait()
		card.mu.Lock()
		question := card.question
		card.mu.Unlock()
		if !strings.Contains(question, "管理员") || !strings.Contains(question, "允许") {
			t.Fatalf("the card asks %q", question)
		}
		yes := event("m2", `\yes `+questionCode("m1"), clock.Add(time.Second))
		yes.Message.ConversationType, yes.Message.SenderStaffID = chat.GroupChat, "member"
		if err := f.handle(t, "r2", yes); err != nil {
			t.Fatal(err)
		}
		if got := f.out.last(conversationID); !strings.Contains(got, "只有管理员") {
			t.Errorf("a member's \\yes answered %q", got)
		}
		time.Sleep(time.Second) // in the bubble's time: the answer looks again
		if n := tools.count("create_ticket"); n != 0 {
			t.Fatal("a member's yes made the ticket")
		}
		// The admin presses the card's button.
		if err := decisions.Decide(t.Context(), decisionKey(conversationID, questionCode("m1")), "boss", f.now(), true); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		card.mu.Lock()
		defer card.mu.Unlock()
		if tools.count("create_ticket") != 1 || card.outcome != allowedOutcome {
			t.Errorf("%d tickets, the card ends %q; want one, allowed", tools.count("create_ticket"), card.outcome)
		}
	})
}

// A retry after the answer died while waiting asks again: nothing was
// recorded, nothing made.
func TestAnAnswerThatDiesWaitingLeavesNothingMade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tools := &confirmTools{}
		f, _ := confirmFixture(t, tools)
		ev := event("m1", "帮我建个工单", clock)
		ctx, kill := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- f.svc.Handle(fcruntime.NewContext(ctx, fcruntime.Invocation{RequestID: "r1"}), ev) }()
		synctest.Wait()
		kill()
		<-done
		go func() {
			done <- f.deliver(t, f.instance("instance-2"), fcruntime.Invocation{RequestID: "r1", RetryCount: 1}, ev)
		}()
		synctest.Wait()
		if err := f.handle(t, "r2", event("m2", `\yes `+questionCode("m1"), f.now().Add(time.Second))); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := tools.count("create_ticket"); n != 1 {
			t.Errorf("%d tickets; want the one the retry made once allowed", n)
		}
	})
}

// Two questions wait for a decision in one conversation: a decision names
// its question, and reaches that question's call alone.
func TestADecisionReachesItsOwnQuestionAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tools := &confirmTools{}
		f, _ := confirmFixture(t, tools, func(c *testConfig) { c.ConfirmWait = 30 * time.Second })
		done := make(chan error, 2)
		go func() { done <- f.handle(t, "r1", event("m1", "建工单一", clock)) }()
		go func() { done <- f.handle(t, "r2", event("m2", "建工单二", clock.Add(time.Millisecond))) }()
		synctest.Wait()
		if err := f.handle(t, "r3", event("m3", `\yes `+questionCode("m2"), clock.Add(time.Second))); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if n := tools.count("create_ticket"); n != 1 {
			t.Errorf("%d tickets; want the one of the question the yes named", n)
		}
		var answers []string
		for _, a := range f.out.answers {
			answers = append(answers, a.Text)
		}
		all := strings.Join(answers, "\n")
		if !strings.Contains(all, "结果：create_ticket 的结果") || !strings.Contains(all, "结果："+unheardResult) {
			t.Errorf("the answers:\n%s\nwant one made, one not allowed in time", all)
		}
	})
}

func TestAYesWithoutItsCodeAsksForIt(t *testing.T) {
	tools := &confirmTools{}
	f, _ := confirmFixture(t, tools)
	if err := f.handle(t, "r1", event("m1", `\yes`, clock)); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); !strings.Contains(got, "请带上") {
		t.Errorf(`\yes alone answered %q`, got)
	}
}

// Arguments too long to show a person whole are not asked about: the call
// is not made, and the model is told why.
func TestArgumentsTooLongToShowAreNotAskedAbout(t *testing.T) {
	tools := &confirmTools{}
	long := `{"title":"` + strings.Repeat("长", 2000) + `"}`
	f := toolFixture(t, &toolModel{turn: func(_ context.Context, p chat.Prompt) (chat.Completion, error) {
		if len(p.Rounds) > 0 {
			return chat.Completion{Text: p.Rounds[0].Results[0].Content}, nil
		}
		return chat.Completion{ToolCalls: []chat.ToolCall{{ID: "t1", Name: "create_ticket", Arguments: long}}}, nil
	}}, &tools.fakeTools, func(c *testConfig) { c.Tools, c.Decisions = tools, bucket.NewDecisions(mountAt(t, t.TempDir())) })
	if err := f.handle(t, "r1", event("m1", "建个长工单", clock)); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); got != tooLongResult || tools.count("create_ticket") != 0 || f.out.count(conversationID) != 1 {
		t.Errorf("%d messages, the last %q, %d tickets; want no question, none made, the model told", f.out.count(conversationID), got, tools.count("create_ticket"))
	}
}
