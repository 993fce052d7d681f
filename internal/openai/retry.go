package openai

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryPolicy says how long to wait between attempts and when to stop.
type retryPolicy struct {
	// initialDelay is the backoff before the second attempt; it doubles
	// with each attempt up to maxDelay.
	initialDelay time.Duration
	maxDelay     time.Duration
	maxAttempts  int
	// minAttemptTime is the least time that must remain before the
	// deadline for another attempt to be worth starting: an attempt cut
	// short by the deadline turns an informative error (the provider's 503)
	// into a bare timeout.
	minAttemptTime time.Duration
}

func defaultRetryPolicy() retryPolicy {
	return retryPolicy{
		initialDelay:   500 * time.Millisecond,
		maxDelay:       8 * time.Second,
		maxAttempts:    6,
		minAttemptTime: time.Second,
	}
}

// backoff is the wait after the given failed attempt (1 for the first):
// exponential, with jitter so that robots that failed together do not
// retry together.
func (p retryPolicy) backoff(attempt int) time.Duration {
	d := p.maxDelay
	if shift := attempt - 1; shift < 30 {
		d = min(p.initialDelay<<shift, p.maxDelay)
	}
	half := d / 2
	return half + rand.N(half+1)
}

// nextWait decides whether to try again after the given failed attempt and
// how long to wait first. retryAfter is the server's wish, when it said.
func (p retryPolicy) nextWait(ctx context.Context, attempt int, retryAfter time.Duration, hasRetryAfter bool) (time.Duration, bool) {
	if attempt >= p.maxAttempts {
		return 0, false
	}
	wait := p.backoff(attempt)
	if hasRetryAfter {
		wait = retryAfter
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		// Without a deadline only our own bound limits a server's wish.
		return wait, wait <= p.maxDelay
	}
	return wait, wait+p.minAttemptTime <= time.Until(deadline)
}

// retryAfter reads how long the server asked the client to wait: the
// retry-after-ms header some providers send (OpenAI among them), or the
// standard Retry-After in seconds or as an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		// Bound the multiplication; a day is as good as forever here.
		return time.Duration(min(secs, 86400)) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

// recordingDoer is the HTTP client of one attempt. It keeps the last
// response's headers, which go-openai's errors do not carry, so that a
// retry can honour Retry-After.
type recordingDoer struct {
	client *http.Client
	header http.Header
}

func (d *recordingDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.client.Do(req)
	if resp != nil {
		d.header = resp.Header
	}
	return resp, err
}
