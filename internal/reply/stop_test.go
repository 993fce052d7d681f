package reply

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/bucket"
	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/fcruntime"
)

// writingModel writes its first piece and then goes on writing until the
// request ends: an answer only \stop (or TIMEOUT) ends.
type writingModel struct {
	first   string
	started chan struct{}
}

func (m writingModel) Complete(context.Context, chat.Prompt) (chat.Completion, error) {
	panic("an answer that can be stopped is streamed")
}

func (m writingModel) Stream(ctx context.Context, _ chat.Prompt, onDelta func(string) error) (chat.Completion, error) {
	if err := onDelta(m.first); err != nil {
		return chat.Completion{}, err
	}
	m.started <- struct{}{}
	<-ctx.Done()
	return chat.Completion{}, ctx.Err()
}

func stopFixture(t *testing.T, drafts bool) (*fixture, writingModel) {
	t.Helper()
	stops := bucket.NewStops(mountAt(t, t.TempDir()))
	questions := bucket.NewQuestions(mountAt(t, t.TempDir()))
	model := writingModel{first: "第一段：```go\nfmt.Println(", started: make(chan struct{}, 1)}
	f := newFixture(t, nil, func(c *testConfig) {
		c.Model, c.Stops, c.StopPoll, c.Questions = model, stops, 10*time.Millisecond, questions
	})
	f.out.drafts = drafts
	return f, model
}

func TestAStopSentToAnotherInstanceEndsTheAnswerAndKeepsNoTurn(t *testing.T) {
	for _, drafts := range []bool{true, false} {
		name := map[bool]string{true: "card", false: "message"}[drafts]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f, model := stopFixture(t, drafts)
				q := event("m1", "写一段很长的代码", clock)
				answered := make(chan error, 1)
				go func() { answered <- f.handle(t, "r1", q) }()
				<-model.started

				stop := event("m2", `\stop`, clock.Add(3*time.Second))
				if err := f.deliver(t, f.instance("instance-2"), fcruntime.Invocation{RequestID: "r2"}, stop); err != nil {
					t.Fatal(err)
				}
				if err := <-answered; err != nil {
					t.Fatal(err)
				}
				want := "第一段：```go\nfmt.Println(\n```\n\n（已停止）"
				got := map[string]bool{}
				for _, a := range f.out.answers {
					got[a.Text] = true
					if a.Text == want && (a.Draft != nil) != drafts {
						t.Errorf("the stopped answer's draft: %v; want one only where a card was open", a.Draft)
					}
				}
				confirmed := false
				for text := range got {
					confirmed = confirmed || strings.Contains(text, "停下")
				}
				// The stop's confirmation and the stopped answer go out in
				// either order.
				if len(f.out.answers) != 2 || !got[want] || !confirmed {
					t.Errorf("delivered %+v; want the stop confirmed and %q", f.out.answers, want)
				}
				turns, err := f.history.Load(t.Context(), q.Message.HistoryOwner(), 5)
				if err != nil || len(turns) != 0 {
					t.Errorf("history %+v (%v); a stopped answer keeps no turn", turns, err)
				}
				day, err := f.cfg.Questions.Day(t.Context(), usageSender(q.Message), "20261123")
				if err != nil || day.Questions != 1 || day.Prompt == 0 {
					t.Errorf("the day's usage %+v (%v); a stopped question still counts what it cost", day, err)
				}
			})
		})
	}
}

func TestAStopLeavesTheQuestionsSentAfterIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _ := stopFixture(t, false)
		if err := f.handle(t, "r1", event("m1", `\stop`, clock)); err != nil {
			t.Fatal(err)
		}
		// This question comes after the stop: it is answered whole, though
		// its answer takes many polls.
		cfg := f.cfg
		cfg.Model = modelFunc(func(ctx context.Context, p chat.Prompt) (string, error) {
			time.Sleep(20 * cfg.StopPoll) // in the bubble's time
			return "完整的回答", ctx.Err()
		})
		if err := f.deliver(t, assemble(cfg), fcruntime.Invocation{RequestID: "r2"}, event("m2", "问题", clock.Add(time.Second))); err != nil {
			t.Fatal(err)
		}
		if got := f.out.last(conversationID); got != "完整的回答" {
			t.Errorf("the answer to a question sent after a stop: %q", got)
		}
	})
}
