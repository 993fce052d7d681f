package fcruntime

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/logging"
	"github.com/dingtalk-llm/fcrobot/internal/logging/logtest"
)

func TestListenAddrFollowsFC(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"FC_CUSTOM_LISTEN_PORT": "9100", "FC_SERVER_PORT": "9200"}, "0.0.0.0:9100"},
		{map[string]string{"FC_SERVER_PORT": "9200"}, "0.0.0.0:9200"},
		{map[string]string{}, "0.0.0.0:9000"},
	}
	for _, tt := range tests {
		if got := ListenAddr(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("ListenAddr(%v) = %s, want %s", tt.env, got, tt.want)
		}
	}
}

func TestHandlerSeesTheInvocation(t *testing.T) {
	var got Invocation
	var gotRequestID string
	log := &logtest.Buffer{}
	rt := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = FromContext(r.Context())
		gotRequestID = logging.RequestID(r.Context())
		w.WriteHeader(http.StatusAccepted)
	}), Config{Log: log})

	req := httptest.NewRequest(http.MethodPost, "/invoke", strings.NewReader("{}"))
	for k, v := range map[string]string{
		"x-fc-request-id": "rid-1", "x-fc-function-name": "reply", "x-fc-region": "cn-hangzhou",
		"x-fc-account-id": "123", "x-fc-qualifier": "LATEST", "x-fc-async-task-id": "task-1",
		"x-fc-access-key-id": "STS.id", "x-fc-access-key-secret": "s3cret", "x-fc-security-token": "tok",
	} {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, req)

	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d", rec.Code)
	}
	want := Invocation{RequestID: "rid-1", FunctionName: "reply", Region: "cn-hangzhou", AccountID: "123",
		Qualifier: "LATEST", AsyncTaskID: "task-1"}
	want.Credentials.AccessKeyID, want.Credentials.AccessKeySecret, want.Credentials.SecurityToken = "STS.id", "s3cret", "tok"
	if got != want {
		t.Errorf("invocation = %+v, want %+v", got, want)
	}
	if gotRequestID != "rid-1" {
		t.Errorf("log request id = %q", gotRequestID)
	}
	if want := "FC Invoke Start RequestId: rid-1\nFC Invoke End RequestId: rid-1\n"; log.String() != want {
		t.Errorf("log = %q, want %q", log.String(), want)
	}
	if strings.Contains(log.String(), "s3cret") {
		t.Error("secret logged")
	}
}

func TestRequestWithoutFCHeadersGetsAnID(t *testing.T) {
	var id string
	rt := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inv, _ := FromContext(r.Context())
		id = inv.RequestID
	}), Config{})
	rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", nil))
	if !strings.HasPrefix(id, "local-") || len(id) < 10 {
		t.Errorf("request id %q", id)
	}
}

func TestPreStopWaitsForRequestsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		started := make(chan struct{})
		release := make(chan struct{})
		finished := make(chan struct{})
		rt := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-release
			close(finished)
		}), Config{DrainTimeout: time.Minute})

		go rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/invoke", nil))
		<-started

		preStopped := make(chan int)
		go func() {
			rec := httptest.NewRecorder()
			rt.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/pre-stop", nil))
			select {
			case <-finished:
			default:
				t.Error("pre-stop answered before the request in flight finished")
			}
			preStopped <- rec.Code
		}()

		// Once stopping, new work is refused with FC's failure status, so FC
		// sends it to another instance.
		synctest.Wait() // pre-stop waits for the request in flight
		if !rt.isStopping() {
			t.Fatal("the runtime is not stopping after pre-stop")
		}
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/invoke", nil))
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("x-fc-status") != "404" {
			t.Errorf("work after pre-stop: %d %v", rec.Code, rec.Header())
		}

		close(release)
		if code := <-preStopped; code != http.StatusOK {
			t.Errorf("pre-stop answered %d", code)
		}
	})
}

// isStopping reports whether the runtime has stopped taking work.
func (rt *Runtime) isStopping() bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.stopping
}

// shutdownSignal is a log handler that closes began when the runtime logs
// that it shuts down: a test learns from it, without polling, that Serve
// saw its context end.
type shutdownSignal struct {
	slog.Handler
	once  *sync.Once
	began chan struct{}
}

func (h shutdownSignal) Enabled(context.Context, slog.Level) bool { return true }

func (h shutdownSignal) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "shutting down") {
		h.once.Do(func() { close(h.began) })
	}
	return h.Handler.Handle(ctx, r)
}

func TestServeDrainsOnShutdown(t *testing.T) {
	shutdown := shutdownSignal{Handler: slog.DiscardHandler, once: &sync.Once{}, began: make(chan struct{})}
	started := make(chan struct{})
	release := make(chan struct{})
	rt := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		w.Write([]byte("done"))
	}), Config{DrainTimeout: time.Minute, Logger: slog.New(shutdown)})

	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	served := make(chan error, 1)
	go func() { served <- rt.Serve(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	addr := <-addrc

	respc := make(chan string, 1)
	go func() {
		resp, err := http.Post("http://"+addr.String()+"/x", "text/plain", nil)
		if err != nil {
			respc <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		respc <- b.String()
	}()
	<-started
	cancel() // SIGTERM while a request is in flight
	<-shutdown.began
	close(release)
	if got := <-respc; got != "done" {
		t.Errorf("request in flight at shutdown got %q", got)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestTheFunctionsTimeoutIsTheRequestsDeadline(t *testing.T) {
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	var inv Invocation
	var deadline time.Time
	var hasDeadline bool
	rt := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inv, _ = FromContext(r.Context())
		deadline, hasDeadline = r.Context().Deadline()
	}), Config{FunctionTimeout: 120 * time.Second, Now: func() time.Time { return start }})
	rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/invoke", nil))
	want := start.Add(120 * time.Second)
	if !inv.Deadline.Equal(want) || !hasDeadline || !deadline.Equal(want) {
		t.Errorf("invocation deadline %v, context deadline %v (%v), want both %v", inv.Deadline, deadline, hasDeadline, want)
	}

	// Without the function's timeout, the request has no deadline.
	rt = New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inv, _ = FromContext(r.Context())
		_, hasDeadline = r.Context().Deadline()
	}), Config{})
	rt.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/invoke", nil))
	if !inv.Deadline.IsZero() || hasDeadline {
		t.Errorf("deadline %v (context has one: %v) without a function timeout", inv.Deadline, hasDeadline)
	}
}

func TestABodyThatNeverArrivesWholeIsGivenUp(t *testing.T) {
	read := make(chan error, 1)
	rt := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		read <- err
	}), Config{ReadTimeout: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	go rt.Serve(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a })
	conn, err := net.Dial("tcp", (<-addrc).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A body promised at 100 bytes that stops after 3, and the client stays.
	fmt.Fprint(conn, "POST /x HTTP/1.1\r\nHost: fc\r\nContent-Length: 100\r\n\r\nabc")
	if err := <-read; err == nil {
		t.Error("the handler read a body that never came whole")
	}
}
