package dingtalktest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
)

// InMemory makes the server listen on connections made in memory
// (net.Pipe) rather than on a loopback port, and its Client dial them:
// the same HTTP, on connections a testing/synctest bubble can wait on. A
// test in a bubble makes the server inside it, so that the server's
// goroutines are the bubble's, and reaches it only through Client.
func InMemory() Option {
	return func(s *Server) { s.inMemory = true }
}

// pipeListener is a net.Listener whose connections are the far ends of the
// pipes its dial makes.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is a loopback address, for the URL httptest builds from it; nothing
// listens there.
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }

// dial connects to the listener whatever the address.
func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		client.Close()
		server.Close()
		return nil, net.ErrClosed
	case <-ctx.Done():
		client.Close()
		server.Close()
		return nil, ctx.Err()
	}
}

// startInMemory starts hs on a pipe listener and points its client at it.
func startInMemory(hs *httptest.Server) {
	ln := newPipeListener()
	hs.Listener.Close() // the loopback port httptest opened, unused
	hs.Listener = ln
	hs.Start()
	hs.Client().Transport.(*http.Transport).DialContext = ln.dial
}
