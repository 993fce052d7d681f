package openai

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// DefaultRetry is how a Client retries a failed call: a model endpoint
// that is overloaded or rate limiting often recovers within seconds, and
// the deadline of the question bounds it all.
var DefaultRetry = retry.Policy{
	Base:       500 * time.Millisecond,
	Max:        8 * time.Second,
	Attempts:   6,
	MinAttempt: time.Second,
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
//
// It also adds keys to the request's body (bodyKeys: ExtraBody's, the
// tools) and puts the request's pictures into it as it is sent
// (inlineImages), in that order: the keys are added to the small body that
// holds the pictures' marks, not their data.
type recordingDoer struct {
	client *http.Client
	header http.Header
	keys   bodyKeys
	inline *inlineImages
}

func (d *recordingDoer) Do(req *http.Request) (*http.Response, error) {
	var err error
	if req, err = d.keys.into(req); err != nil {
		return nil, err
	}
	if d.inline != nil && req.Body != nil {
		if req, err = d.inline.into(req); err != nil {
			return nil, err
		}
	}
	resp, err := d.client.Do(req)
	if resp != nil {
		d.header = resp.Header
	}
	return resp, err
}
