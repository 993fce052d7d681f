// Package retry is the robot's one way to say that a failure is worth
// another try, and its one backoff policy.
//
// An error says it is worth another try with a method Retryable() bool;
// Retryable finds one anywhere in an error's chain, so that no caller needs
// to know the concrete error types of the packages below it. Each outside
// system's package decides which of its failures are retryable; the FC
// runtime adapter turns a retryable failure of an invocation into FC's
// retry.
//
// It depends on the standard library alone.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Retryable reports whether err, or an error it wraps, says that trying
// again later may succeed.
func Retryable(err error) bool {
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}

// Mark returns err marked as worth another try; nil stays nil.
func Mark(err error) error {
	if err == nil {
		return nil
	}
	return marked{err}
}

type marked struct{ err error }

func (m marked) Error() string   { return m.err.Error() }
func (m marked) Unwrap() error   { return m.err }
func (m marked) Retryable() bool { return true }

// Policy is an exponential backoff with jitter and a bounded number of
// attempts, which never waits past a deadline. Each caller sets its numbers
// for the service it calls; the rules are the same for all.
type Policy struct {
	// Base is the wait after the first failed attempt; it doubles after
	// each next one, up to Max.
	Base, Max time.Duration
	// Attempts bounds the attempts, the first included; 1 turns retries
	// off.
	Attempts int
	// MinAttempt is the least time a deadline must leave after a wait for
	// another attempt to be worth starting: one cut short by the deadline
	// turns an informative refusal into a bare timeout. Zero means Base.
	MinAttempt time.Duration
}

// Wait is the pause after failed attempt n (1 for the first): half of
// Base·2^(n-1), capped at Max, plus a random part of the other half, so that
// clients refused together do not come back together.
func (p Policy) Wait(n int) time.Duration {
	d := p.Max
	if shift := n - 1; shift >= 0 && shift < 32 && p.Base<<shift > 0 && p.Base<<shift < p.Max {
		d = p.Base << shift
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// Next tells whether another attempt should follow failed attempt n, and
// after which wait. hint, when hasHint, is how long the service asked to be
// left alone (Retry-After): it replaces the backoff, but without a deadline
// it is followed only up to Max.
func (p Policy) Next(ctx context.Context, n int, hint time.Duration, hasHint bool) (time.Duration, bool) {
	if n >= p.Attempts {
		return 0, false
	}
	wait := p.Wait(n)
	if hasHint {
		wait = hint
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		return wait, wait <= p.Max
	}
	minAttempt := p.MinAttempt
	if minAttempt <= 0 {
		minAttempt = p.Base
	}
	return wait, wait+minAttempt <= time.Until(deadline)
}

// Do calls attempt until it succeeds, fails in a way Retryable does not
// accept, or Next says to stop; before each wait it calls onRetry. It
// returns the last attempt's error; when ctx ends during a wait, that error
// joined with ctx's cause.
func (p Policy) Do(ctx context.Context, attempt func(context.Context) error, onRetry func(n int, wait time.Duration, err error)) error {
	for n := 1; ; n++ {
		err := attempt(ctx)
		if err == nil || !Retryable(err) {
			return err
		}
		wait, again := p.Next(ctx, n, 0, false)
		if !again {
			return err
		}
		onRetry(n, wait, err)
		if waitErr := Sleep(ctx, wait); waitErr != nil {
			return fmt.Errorf("%w (not retried: %w)", err, waitErr)
		}
	}
}

// Sleep waits d, or until ctx ends: then it returns ctx's cause.
func Sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-timer.C:
		return nil
	}
}
