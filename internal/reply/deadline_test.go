package reply

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/fcruntime"
	"github.com/dingtalk-llm/fcrobot/internal/ossmount"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// pacedModel streams its pieces one every `every`, as a model writing at
// its own pace does; after them it says nothing more until the request
// ends (stall), fails with err, or finishes. Within a synctest bubble its
// minutes pass at once.
type pacedModel struct {
	// thinking is how many pauses of `every` it spends reasoning before
	// the first piece: words the user does not see, but words.
	thinking int
	pieces   []string
	every    time.Duration
	stall    bool
	err      error
}

func (m pacedModel) Complete(context.Context, chat.Prompt) (chat.Completion, error) {
	panic("every answer is streamed")
}

func (m pacedModel) Stream(ctx context.Context, _ chat.Prompt, onDelta func(string) error) (chat.Completion, error) {
	wait := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(m.every):
			return nil
		}
	}
	for range m.thinking {
		if err := wait(); err != nil {
			return chat.Completion{}, err
		}
		if err := onDelta(""); err != nil { // reasoning: nothing to show yet
			return chat.Completion{}, err
		}
	}
	var text strings.Builder
	for _, p := range m.pieces {
		if err := wait(); err != nil {
			return chat.Completion{}, err
		}
		text.WriteString(p)
		if err := onDelta(text.String()); err != nil {
			return chat.Completion{}, err
		}
	}
	switch {
	case m.stall:
		<-ctx.Done()
		return chat.Completion{}, ctx.Err()
	case m.err != nil:
		return chat.Completion{}, m.err
	}
	return chat.Completion{Text: text.String()}, nil
}

// paragraphs are n pieces of an answer, numbered.
func paragraphs(n int) []string {
	p := make([]string, n)
	for i := range p {
		p[i] = "第" + strings.Repeat("段", i%3+1) + "。"
	}
	return p
}

// deadlineFixture is a fixture whose model is m, TIMEOUT 15 s, and whose
// lease is long enough that renewals do not fill minutes of fake time.
func deadlineFixture(t *testing.T, m Model, drafts bool) *fixture {
	f := newFixture(t, nil, func(c *Config) {
		c.Model, c.Timeout, c.ClaimLease = m, 15*time.Second, 30*time.Second
	})
	f.out.drafts = drafts
	return f
}

// handleBy hands ev to the service as an invocation FC ends at deadline
// (zero: none).
func (f *fixture) handleBy(t *testing.T, ev chat.Event, deadline time.Time) error {
	ctx := fcruntime.NewContext(t.Context(), fcruntime.Invocation{RequestID: "r1", Deadline: deadline})
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	return f.svc.Handle(ctx, ev)
}

func TestAnAnswerThatFlowsPastTIMEOUTIsDeliveredWhole(t *testing.T) {
	for _, drafts := range []bool{false, true} {
		t.Run(map[bool]string{false: "message", true: "card"}[drafts], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// Forty pieces ten seconds apart: six minutes of answer, and
				// never fifteen seconds of silence. A reasoning model thinks
				// for a minute first.
				m := pacedModel{thinking: 6, pieces: paragraphs(40), every: 10 * time.Second}
				f := deadlineFixture(t, m, drafts)
				ev := event("m1", "写一篇长文", clock)
				if err := f.handleBy(t, ev, time.Time{}); err != nil {
					t.Fatal(err)
				}
				want := strings.Join(m.pieces, "")
				if got := f.out.last(conversationID); got != want {
					t.Errorf("the user read %q, want the whole answer %q", got, want)
				}
				turns, _ := f.history.Load(t.Context(), ev.Message.HistoryOwner(), 5)
				if len(turns) != 1 || turns[0].Answer != want {
					t.Errorf("history %+v, want the whole answer", turns)
				}
			})
		})
	}
}

func TestAnAnswerCutShortIsDeliveredAndKeptMarked(t *testing.T) {
	tests := []struct {
		name     string
		model    pacedModel
		deadline time.Duration // from the start; 0: none
		mark     string
		// took is how long the answer may run by the bubble's clock.
		took time.Duration
	}{
		{
			name:  "the model falls silent mid-answer",
			model: pacedModel{pieces: []string{"一、", "二、", "```go\nx := 1"}, every: 5 * time.Second, stall: true},
			mark:  cutByTime, took: 15*time.Second + 15*time.Second,
		},
		{
			name:     "the function's time runs out while the answer flows",
			model:    pacedModel{pieces: paragraphs(100), every: 5 * time.Second},
			deadline: 120 * time.Second, mark: cutByTime, took: 100 * time.Second,
		},
		{
			name:  "the connection drops mid-answer",
			model: pacedModel{pieces: []string{"一、", "二、", "```go\nx := 1"}, every: 5 * time.Second, err: modelFailure{kind: chat.ErrModelUnavailable, said: "unexpected EOF"}},
			mark:  cutByConnection, took: 15 * time.Second,
		},
	}
	for _, tt := range tests {
		for _, drafts := range []bool{false, true} {
			t.Run(tt.name+"/"+map[bool]string{false: "message", true: "card"}[drafts], func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					f := deadlineFixture(t, tt.model, drafts)
					ev := event("m1", "写一篇长文", clock)
					start := time.Now()
					var deadline time.Time
					if tt.deadline > 0 {
						deadline = start.Add(tt.deadline)
					}
					if err := f.handleBy(t, ev, deadline); err != nil {
						t.Fatal(err)
					}
					if took := time.Since(start); took > tt.took {
						t.Errorf("the answer ended after %v, want at most %v", took, tt.took)
					}
					got := f.out.last(conversationID)
					if !strings.HasSuffix(got, "\n\n"+tt.mark) || !strings.HasPrefix(got, "一、二、") && !strings.HasPrefix(got, "第段。") {
						t.Errorf("the user read %q, want what was written marked %q", got, tt.mark)
					}
					if strings.Count(got, "```")%2 != 0 {
						t.Errorf("the mark went into an open code block: %q", got)
					}
					turns, _ := f.history.Load(t.Context(), ev.Message.HistoryOwner(), 5)
					if len(turns) != 1 || turns[0].Answer != got {
						t.Errorf("history %+v, want the cut answer as the user read it", turns)
					}
				})
			})
		}
	}
}

func TestAModelSilentFromTheStartIsExplained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := deadlineFixture(t, pacedModel{stall: true}, false)
		ev := event("m1", "你好", clock)
		if err := f.handleBy(t, ev, time.Now().Add(120*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := f.out.last(conversationID); !strings.Contains(got, "15 秒没有回应") {
			t.Errorf("the user read %q, want the model's silence explained", got)
		}
		if turns, _ := f.history.Load(t.Context(), ev.Message.HistoryOwner(), 5); len(turns) != 0 {
			t.Errorf("history %+v after no answer", turns)
		}
	})
}

func TestAModelThatOnlyReasonsUntilTheFunctionsTimeIsExplained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := deadlineFixture(t, pacedModel{thinking: 1000, every: 5 * time.Second}, false)
		if err := f.handleBy(t, event("m1", "难题", clock), time.Now().Add(120*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := f.out.last(conversationID); !strings.Contains(got, "思考太久") {
			t.Errorf("the user read %q, want the time that ran out explained", got)
		}
	})
}

// slowRenewals are receipts whose renewals take a second to land, and
// which record the order in which renewals land and releases are made.
type slowRenewals struct {
	*ossmount.Receipts
	mu     sync.Mutex
	events []string
}

func (r *slowRenewals) note(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *slowRenewals) Renew(ctx context.Context, m chat.Message, a chat.Attempt, lease time.Duration) error {
	time.Sleep(time.Second) // a slow bucket, in the bubble's time
	err := r.Receipts.Renew(ctx, m, a, lease)
	r.note("renewed")
	return err
}

func (r *slowRenewals) Release(ctx context.Context, m chat.Message, a chat.Attempt) error {
	r.note("released")
	return r.Receipts.Release(ctx, m, a)
}

func TestAFailedAttemptReleasesItsClaimAfterItsLastRenewal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The model answers half a second into the first renewal (at 10 s
		// of a 30 s lease), and the delivery fails for a retry: the release
		// must come after that renewal lands, or the renewal would hold the
		// message for a whole lease against FC's retry.
		m := pacedModel{pieces: []string{"答"}, every: 10*time.Second + 500*time.Millisecond}
		f := deadlineFixture(t, m, false)
		receipts := &slowRenewals{Receipts: f.receipts}
		f.cfg.Receipts = receipts
		f.svc = New(f.cfg)
		f.out.fail = func(int) error { return retry.Mark(errors.New("sending too fast")) }
		err := f.handleBy(t, event("m1", "你好", clock), time.Time{})
		if !retry.Retryable(err) {
			t.Fatalf("a failed delivery returned %v, want a retry", err)
		}
		receipts.mu.Lock()
		defer receipts.mu.Unlock()
		if want := []string{"renewed", "released"}; !slices.Equal(receipts.events, want) {
			t.Errorf("the receipts saw %q, want %q", receipts.events, want)
		}
	})
}
