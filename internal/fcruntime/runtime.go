// Package fcruntime adapts a handler to Function Compute's custom runtime
// (docs/protocols.md §8): it listens where FC expects, reads the metadata FC
// attaches to each request into the request's context (an Invocation),
// writes FC's invocation markers to the log, answers FC's lifecycle hooks,
// and drains in-flight work before the instance goes away.
//
// An HTTP-triggered function is an http.Handler as it is. An event function
// is a func(ctx, E) error served by Events, which owns the rest of FC's
// protocol: it reads and bounds the payload, decodes it, and tells FC
// whether to retry. x-fc-status is written here and nowhere else.
//
// It owns FC's wire protocol and nothing else: what a request means is the
// handler's business. It depends on the standard library and on the
// packages that name its values (alicloud, logging, retry), so that a
// function links no SDK it does not call.
package fcruntime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/logging"
)

// ListenAddr is the address FC expects the program to serve on: all
// interfaces (FC cannot reach 127.0.0.1) at FC_CUSTOM_LISTEN_PORT, set by FC,
// else FC_SERVER_PORT, set by the `s local` emulator, else FC's default 9000.
func ListenAddr(getenv func(string) string) string {
	for _, k := range []string{"FC_CUSTOM_LISTEN_PORT", "FC_SERVER_PORT"} {
		if p := getenv(k); p != "" {
			return net.JoinHostPort("0.0.0.0", p)
		}
	}
	return "0.0.0.0:9000"
}

// Config configures a Runtime. The zero value is usable.
type Config struct {
	// Log receives FC's "FC Invoke Start/End RequestId:" markers, as plain
	// lines because FC's log console groups a request's lines by them.
	Log io.Writer
	// Logger receives the runtime's own structured lines.
	Logger *slog.Logger
	// DrainTimeout bounds how long a pre-stop hook or a shutdown waits for
	// requests in flight. Zero means 30 s.
	DrainTimeout time.Duration
	// FunctionTimeout is the function's timeout in FC (s.yaml's timeout),
	// after which FC ends an invocation wherever it is. Each request's
	// context then has that deadline, as a Lambda handler's has, so that a
	// handler can stop its work in time to finish it (deliver what it has).
	// FC sends no header that says it: the operator sets it
	// (docs/protocols.md §8). Zero sets no deadline.
	FunctionTimeout time.Duration
	// ReadTimeout bounds the reading of a request, body included: a client
	// that sends its body slowly, or never, holds no connection and no
	// handler longer. Zero means DefaultReadTimeout.
	ReadTimeout time.Duration
	// Now is the clock the deadline is measured by; nil means time.Now.
	Now func() time.Time
}

// DefaultReadTimeout is how long a request may take to arrive whole: FC
// hands a function its requests from its own network, at once.
const DefaultReadTimeout = 30 * time.Second

// Runtime serves a handler as an FC custom runtime.
type Runtime struct {
	handler http.Handler
	cfg     Config

	mu       sync.Mutex
	inFlight int
	idle     chan struct{} // closed when inFlight drops to zero; nil while idle
	stopping bool
}

// New wraps h.
func New(h http.Handler, cfg Config) *Runtime {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	return &Runtime{handler: h, cfg: cfg}
}

// ServeHTTP implements FC's side of each request.
func (rt *Runtime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/initialize" && r.Method == http.MethodPost:
		// Nothing to warm up: the programs start ready.
		w.WriteHeader(http.StatusOK)
		return
	case r.URL.Path == "/pre-stop" && r.Method == http.MethodGet:
		rt.preStop(w, r)
		return
	}

	inv := invocationFrom(r)
	if rt.cfg.FunctionTimeout > 0 {
		inv.Deadline = rt.cfg.Now().Add(rt.cfg.FunctionTimeout)
	}
	if !rt.begin() {
		// After pre-stop, FC sends no more work; a straggler is told to go
		// elsewhere rather than started and cut off.
		reportRetry(w.Header())
		http.Error(w, "instance is stopping", http.StatusServiceUnavailable)
		return
	}
	defer rt.end()

	fmt.Fprintf(rt.cfg.Log, "FC Invoke Start RequestId: %s\n", inv.RequestID)
	defer fmt.Fprintf(rt.cfg.Log, "FC Invoke End RequestId: %s\n", inv.RequestID)

	ctx := logging.WithRequestID(NewContext(r.Context(), inv), inv.RequestID)
	if !inv.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, inv.Deadline)
		defer cancel()
	}
	w.Header().Set("x-fc-request-id", inv.RequestID)
	rt.handler.ServeHTTP(w, r.WithContext(ctx))
}

func (rt *Runtime) begin() bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.stopping {
		return false
	}
	rt.inFlight++
	if rt.idle == nil {
		rt.idle = make(chan struct{})
	}
	return true
}

func (rt *Runtime) end() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.inFlight--
	if rt.inFlight == 0 {
		close(rt.idle)
		rt.idle = nil
	}
}

// drain stops taking work and waits, up to the drain timeout, for the
// requests in flight. It reports how many were still running at the end.
func (rt *Runtime) drain(ctx context.Context) int {
	rt.mu.Lock()
	rt.stopping = true
	idle := rt.idle
	rt.mu.Unlock()
	if idle != nil {
		ctx, cancel := context.WithTimeout(ctx, rt.cfg.DrainTimeout)
		defer cancel()
		select {
		case <-idle:
		case <-ctx.Done():
		}
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.inFlight
}

// preStop is FC's hook before it stops an instance (a scale-in): finish what
// is in flight, so that no answer is lost, then say we are done.
func (rt *Runtime) preStop(w http.ResponseWriter, r *http.Request) {
	left := rt.drain(r.Context())
	if left > 0 {
		rt.cfg.Logger.Warn("pre-stop: requests still in flight after the drain timeout", "inFlight", left)
	} else {
		rt.cfg.Logger.Info("pre-stop: drained")
	}
	w.WriteHeader(http.StatusOK)
}

// ListeningMarker starts the line Serve writes to Config.Log once it
// listens, followed by the address it bound: with port 0 the kernel picks
// the port, and a local stack reads it back from this line.
const ListeningMarker = "FC custom runtime listening on "

// Serve listens on addr and serves until ctx is done, then stops taking work
// and drains what is in flight (bounded by DrainTimeout). ready, when not
// nil, is called with the bound address once the listener is open.
func (rt *Runtime) Serve(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           rt,
		ReadHeaderTimeout: min(10*time.Second, rt.cfg.ReadTimeout),
		// Go clears the read deadline once the body is read, so a handler
		// that works for minutes afterwards is not cut off.
		ReadTimeout: rt.cfg.ReadTimeout,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:    slog.NewLogLogger(rt.cfg.Logger.Handler(), slog.LevelWarn),
	}
	// A plain line, whatever the log level, like FC's invocation markers:
	// whoever started the program learns from it where it listens.
	fmt.Fprintf(rt.cfg.Log, "%s%s\n", ListeningMarker, ln.Addr())
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	rt.cfg.Logger.Info("shutting down: draining requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), rt.cfg.DrainTimeout)
	defer cancel()
	if left := rt.drain(shutdownCtx); left > 0 {
		rt.cfg.Logger.Warn("shutdown: requests still in flight after the drain timeout", "inFlight", left)
	}
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
