package dingtalk

import (
	"log/slog"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/retry"
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
	retry  retry.Policy
	logger *slog.Logger
	now    func() time.Time
}

func newClientOptions(opts []Option) clientOptions {
	o := clientOptions{
		retry:  retry.Policy{Base: DefaultRetryBase, Max: DefaultRetryMax, Attempts: DefaultMaxAttempts},
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
			o.retry.Base = base
		}
		o.retry.Max = max(o.retry.Base, ceiling)
	}
}

// WithMaxAttempts bounds how many times one message is sent, the first
// time included; 1 turns retries off. Less than 1 keeps the default.
func WithMaxAttempts(n int) Option {
	return func(o *clientOptions) {
		if n >= 1 {
			o.retry.Attempts = n
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
