package dingtalk

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// The default retry policy. DingTalk lets a robot send about 20 messages a
// minute: a refused message has a chance a few seconds later, not at once.
const (
	DefaultRetryBase   = time.Second
	DefaultRetryMax    = 10 * time.Second
	DefaultMaxAttempts = 5
)

// Option configures a WebhookClient or an OpenAPI client.
type Option func(*clientOptions)

type clientOptions struct {
	retry  retryPolicy
	logger *slog.Logger
	now    func() time.Time
}

func newClientOptions(opts []Option) clientOptions {
	o := clientOptions{
		retry:  retryPolicy{base: DefaultRetryBase, max: DefaultRetryMax, attempts: DefaultMaxAttempts},
		logger: slog.New(slog.DiscardHandler),
		now:    time.Now,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithRetryBackoff sets the wait before the first retry (doubled before
// each next one, with jitter) and its cap. A base of 0 or less keeps the
// default; a cap below the base is the base.
func WithRetryBackoff(base, ceiling time.Duration) Option {
	return func(o *clientOptions) {
		if base > 0 {
			o.retry.base = base
		}
		o.retry.max = max(o.retry.base, ceiling)
	}
}

// WithMaxAttempts bounds how many times one message is sent, the first
// time included; 1 turns retries off. Less than 1 keeps the default.
func WithMaxAttempts(n int) Option {
	return func(o *clientOptions) {
		if n >= 1 {
			o.retry.attempts = n
		}
	}
}

// WithLogger sets where retries and token refreshes are logged; by default
// nowhere.
func WithLogger(logger *slog.Logger) Option {
	return func(o *clientOptions) {
		if logger != nil {
			o.logger = logger
		}
	}
}

// WithClock sets the clock an OpenAPI client judges its access token's age
// by; by default time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *clientOptions) {
		if now != nil {
			o.now = now
		}
	}
}

// retryPolicy is an exponential backoff with jitter and a bounded number of
// attempts.
type retryPolicy struct {
	base, max time.Duration
	attempts  int
}

// wait is the pause after the given failed attempt (1 for the first): half
// of base*2^(attempt-1), capped at max, plus a random part of the other
// half, so that robots refused together do not come back together.
func (p retryPolicy) wait(attempt int) time.Duration {
	d := p.max
	if shift := attempt - 1; shift < 32 && p.base<<shift > 0 && p.base<<shift < p.max {
		d = p.base << shift
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// do calls attempt until it succeeds or fails in a way retryable does not
// accept, the attempts run out, or the next try would start too late: after
// the wait, ctx's deadline must leave at least the base delay for the
// request itself. It returns the last attempt's error; when ctx ends during
// a wait, that error joined with ctx's cause.
func (p retryPolicy) do(ctx context.Context, attempt func(context.Context) error, retryable func(error) bool, onRetry func(n int, wait time.Duration, err error)) error {
	for n := 1; ; n++ {
		err := attempt(ctx)
		if err == nil || n >= p.attempts || !retryable(err) {
			return err
		}
		wait := p.wait(n)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait+p.base {
			return err
		}
		onRetry(n, wait, err)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%w (not retried: %w)", err, context.Cause(ctx))
		case <-timer.C:
		}
	}
}
