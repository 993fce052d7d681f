// Package pipenet carries a fake service's HTTP over connections made in
// memory (net.Pipe) rather than over a loopback port. A testing/synctest
// bubble can wait on such connections, for their reads and writes block on
// channels; a loopback socket blocks in the kernel, where a bubble cannot
// tell waiting from working. The fakes (dingtalktest, openaitest) offer it
// for the tests that run in a bubble.
package pipenet

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
)

// Listener is a net.Listener whose connections are the far ends of the
// pipes its Dial makes.
type Listener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// NewListener returns a listener that accepts what Dial makes.
func NewListener() *Listener {
	return &Listener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for the next Dial.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and Dial; it may be called more than once.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is a loopback address, for the URL httptest builds from it; nothing
// listens there.
func (l *Listener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }

// Dial connects to the listener, whatever the address: an
// http.Transport's DialContext.
func (l *Listener) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
	case <-ctx.Done():
	}
	client.Close()
	server.Close()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, net.ErrClosed
}

// Start starts an unstarted httptest server on a Listener and points the
// server's Client at it.
func Start(hs *httptest.Server) {
	ln := NewListener()
	hs.Listener.Close() // the loopback port httptest opened, unused
	hs.Listener = ln
	hs.Start()
	hs.Client().Transport.(*http.Transport).DialContext = ln.Dial
}
