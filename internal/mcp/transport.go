package mcp

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sync"
)

// maxResponseBytes bounds one HTTP response of a server (a tool list, a
// result, one server-sent event): the SDK reads a JSON answer whole, and
// the function has 128 MB.
const maxResponseBytes = 4 << 20

// errTooLarge is a response body cut at maxResponseBytes.
var errTooLarge = errors.New("the response is larger than 4 MiB")

// headerTransport adds a server's headers to each request bound for the
// server's own origin (a redirect elsewhere gets none of them), bounds each
// response body, and notes what came back in the request's exchange, so
// that a failure can be told in words.
type headerTransport struct {
	base    http.RoundTripper
	scheme  string
	host    string
	headers http.Header
}

func newHeaderTransport(base http.RoundTripper, endpoint *url.URL, headers Headers) *headerTransport {
	if base == nil {
		base = http.DefaultTransport
	}
	h := make(http.Header, len(headers))
	for name, value := range headers {
		h.Set(name, value)
	}
	return &headerTransport{base: base, scheme: endpoint.Scheme, host: endpoint.Host, headers: h}
}

func (t *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if len(t.headers) > 0 && req.URL.Scheme == t.scheme && req.URL.Host == t.host {
		req = req.Clone(req.Context())
		for name, values := range t.headers {
			req.Header[name] = values
		}
	}
	x := exchangeFrom(req.Context())
	x.asked()
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	x.answered(resp)
	resp.Body = &limitedBody{body: resp.Body, left: maxResponseBytes, x: x}
	return resp, nil
}

// limitedBody fails a read past maxResponseBytes.
type limitedBody struct {
	body io.ReadCloser
	left int64
	x    *exchange
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		b.x.tooLarge()
		return 0, errTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.body.Close() }

// exchange is what the HTTP responses of one operation (a connection, a
// listing, a call) were like: the SDK's errors say little of it in a form a
// program can read. A nil exchange notes nothing.
type exchange struct {
	mu          sync.Mutex
	requests    int
	responses   int
	status      int
	contentType string
	large       bool
}

type exchangeKey struct{}

func withExchange(ctx context.Context) (context.Context, *exchange) {
	x := new(exchange)
	return context.WithValue(ctx, exchangeKey{}, x), x
}

func exchangeFrom(ctx context.Context) *exchange {
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

func (x *exchange) asked() {
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.requests++
}

func (x *exchange) answered(resp *http.Response) {
	if x == nil {
		return
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	x.mu.Lock()
	defer x.mu.Unlock()
	x.responses++
	x.status = resp.StatusCode
	x.contentType = ct
}

func (x *exchange) tooLarge() {
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.large = true
}

// last returns the latest response's status and media type, how many
// responses came, and whether one was too large.
func (x *exchange) last() (status int, contentType string, responses int, large bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.status, x.contentType, x.responses, x.large
}

// unanswered reports whether a request got no response at all (it could
// not be sent, or the connection closed before an answer).
func (x *exchange) unanswered() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.requests > x.responses
}
