package dingtalk

import (
	"log/slog"
	"net/http"
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

// defaultHTTPTimeout bounds a request when the caller gives no HTTP client.
const defaultHTTPTimeout = 30 * time.Second

// retryPolicy fills in the defaults of a configured policy, field by
// field: a Base of 0 or less is DefaultRetryBase, a Max of 0 or less is
// DefaultRetryMax, a Max below the Base is the Base, and Attempts below 1
// is DefaultMaxAttempts. MinAttempt is kept as given.
func retryPolicy(p retry.Policy) retry.Policy {
	if p.Base <= 0 {
		p.Base = DefaultRetryBase
	}
	if p.Max <= 0 {
		p.Max = DefaultRetryMax
	}
	p.Max = max(p.Base, p.Max)
	if p.Attempts < 1 {
		p.Attempts = DefaultMaxAttempts
	}
	return p
}

// orDiscard is logger, or a logger that discards when it is nil.
func orDiscard(logger *slog.Logger) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger
}

// noRedirects returns a copy of httpClient (a client with a
// defaultHTTPTimeout when nil) that never follows a redirect.
func noRedirects(httpClient *http.Client) *http.Client {
	var hc http.Client
	if httpClient != nil {
		hc = *httpClient
	} else {
		hc.Timeout = defaultHTTPTimeout
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &hc
}
