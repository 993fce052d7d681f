package retry_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// refusal is a service's refusal that knows whether it is worth another try.
type refusal struct{ again bool }

func (r refusal) Error() string   { return fmt.Sprintf("refused (again: %v)", r.again) }
func (r refusal) Retryable() bool { return r.again }

func TestRetryableFindsTheMethodAnywhereInTheChain(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("plain"), false},
		{refusal{again: true}, true},
		{refusal{again: false}, false},
		{fmt.Errorf("post: %w", refusal{again: true}), true},
		{errors.Join(errors.New("other"), refusal{again: true}), true},
		{retry.Mark(errors.New("plain")), true},
		{fmt.Errorf("deeper: %w", retry.Mark(errors.New("plain"))), true},
	}
	for _, tt := range tests {
		if got := retry.Retryable(tt.err); got != tt.want {
			t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	if retry.Mark(nil) != nil {
		t.Error("Mark(nil) is not nil")
	}
	inner := errors.New("inner")
	if marked := retry.Mark(inner); !errors.Is(marked, inner) || marked.Error() != "inner" {
		t.Errorf("Mark hides its error: %v", marked)
	}
}

func TestWaitGrowsWithJitterWithinMax(t *testing.T) {
	p := retry.Policy{Base: time.Second, Max: 10 * time.Second, Attempts: 5}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		for range 50 {
			if got := p.Wait(n); got < want/2 || got > want {
				t.Fatalf("Wait(%d) = %v, want within [%v, %v]", n, got, want/2, want)
			}
		}
	}
}

func TestNextStopsAtTheAttemptsAndTheDeadline(t *testing.T) {
	p := retry.Policy{Base: time.Second, Max: 8 * time.Second, Attempts: 3}
	if _, again := p.Next(context.Background(), 3, 0, false); again {
		t.Error("a fourth attempt after three")
	}
	if wait, again := p.Next(context.Background(), 1, 0, false); !again || wait > time.Second {
		t.Errorf("after the first failure: %v %v", wait, again)
	}
	if wait, again := p.Next(context.Background(), 1, 3*time.Second, true); !again || wait != 3*time.Second {
		t.Errorf("a Retry-After within Max is followed: %v %v", wait, again)
	}
	if _, again := p.Next(context.Background(), 1, time.Hour, true); again {
		t.Error("without a deadline a Retry-After past Max was followed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	// A wait of 1 s plus the least attempt (Base, 1 s) does not fit 1.5 s.
	if _, again := p.Next(ctx, 2, 0, false); again {
		t.Error("a retry was planned that the deadline cannot hold")
	}
}

func TestDoRetriesOnlyWhatIsRetryable(t *testing.T) {
	p := retry.Policy{Base: time.Millisecond, Max: 2 * time.Millisecond, Attempts: 4}
	calls := 0
	err := p.Do(context.Background(), func(context.Context) error {
		calls++
		if calls < 3 {
			return refusal{again: true}
		}
		return nil
	}, func(int, time.Duration, error) {})
	if err != nil || calls != 3 {
		t.Errorf("Do = %v after %d calls, want success on the third", err, calls)
	}

	calls = 0
	err = p.Do(context.Background(), func(context.Context) error { calls++; return refusal{again: false} }, func(int, time.Duration, error) {})
	if calls != 1 || !errors.As(err, new(refusal)) {
		t.Errorf("a final refusal was tried %d times: %v", calls, err)
	}

	calls = 0
	var retried []int
	err = p.Do(context.Background(), func(context.Context) error { calls++; return refusal{again: true} }, func(n int, _ time.Duration, _ error) { retried = append(retried, n) })
	if calls != 4 || len(retried) != 3 || !retry.Retryable(err) {
		t.Errorf("%d calls, retries %v, err %v; want 4 calls and the last refusal", calls, retried, err)
	}
}

func TestDoStopsWaitingWhenTheContextEnds(t *testing.T) {
	p := retry.Policy{Base: time.Hour, Max: time.Hour, Attempts: 2}
	ctx, cancel := context.WithCancel(context.Background())
	err := p.Do(ctx, func(context.Context) error { return refusal{again: true} }, func(int, time.Duration, error) { cancel() })
	if !errors.Is(err, context.Canceled) || !errors.As(err, new(refusal)) {
		t.Errorf("Do = %v, want the refusal joined with the cancellation", err)
	}
}
