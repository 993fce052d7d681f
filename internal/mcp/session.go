package mcp

import (
	"context"
	"errors"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// ErrClosed is the error of an operation on a closed Client.
var ErrClosed = errors.New("the MCP client is closed")

// session is one MCP session with a server, shared by the operations of
// an instance (several questions at once) while it works and is younger
// than ListFor; then it is retired, and closed once nobody uses it. Its
// fields but cs and opened are guarded by the remote's mu.
type session struct {
	cs      *sdk.ClientSession
	opened  time.Time
	users   int
	retired bool
	closing bool
}

// retire stops s from being handed out and reports whether it is to be
// closed now, nobody using it.
func (s *session) retire() bool {
	s.retired = true
	if s.users == 0 && !s.closing {
		s.closing = true
		return true
	}
	return false
}

// acquire returns a session to use, the current one or a new one (fresh);
// release it after. Sessions are made one at a time per server, so that a
// burst of questions on a cold instance makes one, not one each.
func (r *remote) acquire(ctx context.Context) (s *session, fresh bool, err error) {
	if s, err := r.current(); s != nil || err != nil {
		return s, false, err
	}
	select {
	case r.connect <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	defer func() { <-r.connect }()
	if s, err := r.current(); s != nil || err != nil {
		return s, false, err
	}
	cs, err := r.sdk.Connect(ctx, r.transport(), nil)
	if err != nil {
		return nil, false, err
	}
	s = &session{cs: cs, opened: r.c.cfg.Now(), users: 1}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		cs.Close()
		return nil, false, ErrClosed
	}
	r.session = s
	r.mu.Unlock()
	return s, true, nil
}

// current hands out the current session if it may still be used, and
// retires it if not.
func (r *remote) current() (*session, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	s := r.session
	if s == nil {
		r.mu.Unlock()
		return nil, nil
	}
	if r.c.cfg.Now().Sub(s.opened) < r.c.cfg.ListFor {
		s.users++
		r.mu.Unlock()
		return s, nil
	}
	r.session = nil
	closeNow := s.retire()
	r.mu.Unlock()
	if closeNow {
		r.c.closeSession(s)
	}
	return nil, nil
}

// release gives back a session acquire returned; err is what its
// operation ended with. A broken connection, a lost session or garbage
// retires it; the server's own error answer does not, nor a timeout or a
// caller that gave up: a slow tool is no sign of a bad session, and closing
// a stateful session while the server still runs a call of it makes the
// server hold our DELETE until the call ends.
func (r *remote) release(s *session, err error) {
	broken := err != nil && serverError(err) == nil &&
		!errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
	r.mu.Lock()
	s.users--
	if broken && r.session == s {
		r.session = nil
	}
	closeNow := false
	if broken || s.retired {
		closeNow = s.retire()
	}
	r.mu.Unlock()
	if closeNow {
		r.c.closeSession(s)
	}
}

func (r *remote) transport() sdk.Transport {
	return &sdk.StreamableClientTransport{
		Endpoint:   r.cfg.URL,
		HTTPClient: r.http,
		// One invocation asks and listens for the answer: nothing to
		// hear from the server between questions.
		DisableStandaloneSSE: true,
		MaxEventSize:         maxResponseBytes,
	}
}

// closeSession closes s in the background (a stateful server is told with
// a DELETE, which the SDK bounds); Close waits for it.
func (c *Client) closeSession(s *session) {
	c.closingMu.Lock()
	c.closing.Add(1)
	c.closingMu.Unlock()
	go func() {
		defer c.closing.Done()
		s.cs.Close()
	}()
}
