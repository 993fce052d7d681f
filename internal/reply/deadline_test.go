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

	"github.com/dingtalk-llm/fcrobot/internal/bucket"
	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/fcruntime"
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
	f := newFixture(t, nil, func(c *testConfig) {
		c.Model, c.Timeout, c.ClaimLease = m, 15*time.Second, 30*time.Second
	})
	f.out.drafts = drafts
	return f
}

// handleBy hands ev to the service as invocation r1, which FC ends at
// deadline (zero: none).
func (f *fixture) handleBy(t *testing.T, ev chat.Event, deadline time.Time) error {
	return f.deliverBy(t, f.svc, ev, deadline)
}

// deliverBy hands ev to svc as a delivery of invocation r1, which FC ends
// at deadline (zero: none).
func (f *fixture) deliverBy(t *testing.T, svc *Service, ev chat.Event, deadline time.Time) error {
	ctx := fcruntime.NewContext(t.Context(), fcruntime.Invocation{RequestID: "r1", Deadline: deadline})
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	return svc.Handle(ctx, ev)
}

// A second delivery of the attempt answering at length waits for it as
// long as the function's time allows, not TIMEOUT: the first may write
// until 20 s before the end.
func TestATwinWaitsForALongAnswerUntilTheFunctionsEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := pacedModel{pieces: paragraphs(18), every: 5 * time.Second} // 90 s of answer
		f := deadlineFixture(t, m, false)
		ev := event("m1", "写一篇长文", clock)
		deadline := time.Now().Add(120 * time.Second)
		first := make(chan error, 1)
		go func() { first <- f.handleBy(t, ev, deadline) }()
		synctest.Wait() // the first holds the message, and the model writes
		if err := f.deliverBy(t, f.instance("instance-2"), ev, deadline); err != nil {
			t.Errorf("the twin of an attempt that answered: %v", err)
		}
		if n := f.out.count(conversationID); n != 1 {
			t.Errorf("the twin ended with %d answers delivered; want it to wait for the first's", n)
		}
		if err := <-first; err != nil {
			t.Fatal(err)
		}
	})
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
		// written is what the model wrote before it was cut.
		written string
	}{
		{
			name:  "the model falls silent mid-answer",
			model: pacedModel{pieces: []string{"一、", "二、", "```go\nx := 1"}, every: 5 * time.Second, stall: true},
			mark:  cutByTime, took: 15*time.Second + 15*time.Second, written: "一、二、```go\nx := 1",
		},
		{
			name:  "the function's time runs out while the answer flows",
			model: pacedModel{pieces: paragraphs(100), every: 5 * time.Second},
			// A piece every 5 s, the first at 5 s: twenty by the end at 102 s.
			deadline: 122 * time.Second, mark: cutByTime, took: 102 * time.Second,
			written: strings.Join(paragraphs(100)[:20], ""),
		},
		{
			name:  "the connection drops mid-answer",
			model: pacedModel{pieces: []string{"一、", "二、", "```go\nx := 1"}, every: 5 * time.Second, err: modelFailure{kind: chat.ErrModelUnavailable, said: "unexpected EOF"}},
			mark:  cutByConnection, took: 15 * time.Second, written: "一、二、```go\nx := 1",
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
					if want := cutText(tt.written, tt.mark); got != want {
						t.Errorf("the user read %q, want what was written marked: %q", got, want)
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
	*bucket.Receipts
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
		f.svc = assemble(f.cfg)
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

// When what came before the model took the answer's time, FC's retry asks
// it, with the function's whole time.
func TestNoTimeLeftToAskIsLeftToFCsRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := deadlineFixture(t, pacedModel{pieces: []string{"答"}, every: time.Second}, false)
		ev := event("m1", "你好", clock)
		if err := f.handleBy(t, ev, time.Now().Add(DefaultDeliveryReserve)); !retry.Retryable(err) {
			t.Errorf("an answer with no time left: %v; want FC's retry", err)
		}
		if n := f.askedCount(); n != 0 || f.out.count(conversationID) != 0 {
			t.Errorf("the model was asked %d times, %d answers delivered; want neither", n, f.out.count(conversationID))
		}
		if err := f.handleBy(t, ev, time.Now().Add(120*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := f.out.last(conversationID); got != "答" {
			t.Errorf("FC's retry answered %q", got)
		}
	})
}
