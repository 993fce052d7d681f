package fc_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
	"github.com/dingtalk-llm/fcrobot/internal/fc"
	"github.com/dingtalk-llm/fcrobot/internal/fc/fclocal"
)

// The role's temporary credentials the caller signs with, as FC hands them.
var stsCreds = alicloud.Credentials{
	AccessKeyID:     "STS.test-key-id",
	AccessKeySecret: "sts-secret-do-not-print",
	SecurityToken:   "sts-token-do-not-print",
}

// function is a fake custom runtime that records what FC delivers to it.
type function struct {
	mu       sync.Mutex
	payloads []string
	headers  []http.Header
}

func (f *function) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.payloads = append(f.payloads, string(body))
	f.headers = append(f.headers, r.Header.Clone())
	f.mu.Unlock()
}

func (f *function) received() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.payloads...)
}

// emulator is fclocal serving one function, "reply", and accepting stsCreds.
type emulator struct {
	*fclocal.Server
	url      string
	function *function
}

func newEmulator(t *testing.T) *emulator {
	t.Helper()
	fn := &function{}
	fnSrv := httptest.NewServer(fn)
	t.Cleanup(fnSrv.Close)
	srv := fclocal.New(fclocal.Config{
		Functions:      map[string]string{"reply": fnSrv.URL, "with space": fnSrv.URL},
		AccessKeys:     map[string]string{stsCreds.AccessKeyID: stsCreds.AccessKeySecret, "LTAI.long-lived": "long-lived-secret"},
		SecurityTokens: map[string]string{stsCreds.AccessKeyID: stsCreds.SecurityToken},
		AccountID:      "1234",
		Region:         "cn-hangzhou",
	})
	api := httptest.NewServer(srv)
	t.Cleanup(func() {
		api.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("closing the emulator: %v", err)
		}
	})
	return &emulator{Server: srv, url: api.URL, function: fn}
}

func (e *emulator) wait(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Wait(ctx); err != nil {
		t.Fatalf("deliveries did not end: %v", err)
	}
}

func newInvoker(t *testing.T, cfg fc.InvokerConfig) *fc.Invoker {
	t.Helper()
	inv, err := fc.NewInvoker(cfg)
	if err != nil {
		t.Fatalf("NewInvoker: %v", err)
	}
	return inv
}

func TestInvokeAsyncDeliversThroughFC3(t *testing.T) {
	emu := newEmulator(t)
	inv := newInvoker(t, fc.InvokerConfig{Endpoint: emu.url})

	requestID, err := inv.InvokeAsync(context.Background(), stsCreds, "reply", []byte(`{"msgId":"m1"}`), "msg-m1")
	if err != nil {
		t.Fatalf("InvokeAsync: %v", err)
	}
	emu.wait(t)

	if got := emu.function.received(); len(got) != 1 || got[0] != `{"msgId":"m1"}` {
		t.Fatalf("function received %q, want the payload once", got)
	}
	calls := emu.Invocations()
	if len(calls) != 1 {
		t.Fatalf("emulator recorded %d invocations, want 1", len(calls))
	}
	c := calls[0]
	if requestID == "" || c.RequestID != requestID {
		t.Errorf("request id = %q, emulator's = %q", requestID, c.RequestID)
	}
	if c.Function != "reply" || c.Service != "" || c.TaskID != "msg-m1" || !c.Async || c.Outcome != fclocal.Succeeded {
		t.Errorf("invocation = %+v, want an async FC 3.0 call of reply with task msg-m1 that succeeded", c)
	}
}

func TestInvokeAsyncUsesFC2WhenServiceIsSet(t *testing.T) {
	emu := newEmulator(t)
	inv := newInvoker(t, fc.InvokerConfig{Endpoint: emu.url, ServiceName: "robot"})

	if _, err := inv.InvokeAsync(context.Background(), stsCreds, "reply", []byte("event"), "task-7"); err != nil {
		t.Fatalf("InvokeAsync: %v", err)
	}
	emu.wait(t)

	calls := emu.Invocations()
	if len(calls) != 1 || calls[0].Service != "robot" || calls[0].TaskID != "task-7" || calls[0].Outcome != fclocal.Succeeded {
		t.Fatalf("invocations = %+v, want one FC 2.0 call in service robot with task task-7", calls)
	}
}

func TestInvokeAsyncEscapesTheFunctionName(t *testing.T) {
	emu := newEmulator(t)
	inv := newInvoker(t, fc.InvokerConfig{Endpoint: emu.url})

	if _, err := inv.InvokeAsync(context.Background(), stsCreds, "with space", []byte("x"), ""); err != nil {
		t.Fatalf("InvokeAsync: %v", err)
	}
	emu.wait(t)
	if calls := emu.Invocations(); len(calls) != 1 || calls[0].Function != "with space" {
		t.Fatalf("invocations = %+v, want one call of %q", calls, "with space")
	}
}

func TestInvokeAsyncWithLongLivedKey(t *testing.T) {
	emu := newEmulator(t)
	inv := newInvoker(t, fc.InvokerConfig{Endpoint: emu.url})

	key := alicloud.Credentials{AccessKeyID: "LTAI.long-lived", AccessKeySecret: "long-lived-secret"}
	if _, err := inv.InvokeAsync(context.Background(), key, "reply", []byte("x"), ""); err != nil {
		t.Fatalf("InvokeAsync with a key that needs no token: %v", err)
	}
}

// TestInvokeAsyncRefusals checks that FC's refusals reach the caller as
// InvokeErrors and that no error string shows a secret.
func TestInvokeAsyncRefusals(t *testing.T) {
	tests := []struct {
		name     string
		creds    alicloud.Credentials
		function string
		status   int
		code     string
	}{
		{
			name:     "wrong secret",
			creds:    alicloud.Credentials{AccessKeyID: stsCreds.AccessKeyID, AccessKeySecret: "wrong-secret-do-not-print", SecurityToken: stsCreds.SecurityToken},
			function: "reply", status: http.StatusForbidden, code: "SignatureNotMatch",
		},
		{
			name:     "unknown key",
			creds:    alicloud.Credentials{AccessKeyID: "STS.unknown", AccessKeySecret: "other-secret-do-not-print", SecurityToken: "other-token-do-not-print"},
			function: "reply", status: http.StatusForbidden, code: "InvalidAccessKeyId",
		},
		{
			name:     "security token missing",
			creds:    alicloud.Credentials{AccessKeyID: stsCreds.AccessKeyID, AccessKeySecret: stsCreds.AccessKeySecret},
			function: "reply", status: http.StatusForbidden, code: "InvalidSecurityToken",
		},
		{
			name:     "wrong security token",
			creds:    alicloud.Credentials{AccessKeyID: stsCreds.AccessKeyID, AccessKeySecret: stsCreds.AccessKeySecret, SecurityToken: "stale-token-do-not-print"},
			function: "reply", status: http.StatusForbidden, code: "InvalidSecurityToken",
		},
		{
			name:     "unknown function",
			creds:    stsCreds,
			function: "nope", status: http.StatusNotFound, code: "FunctionNotFound",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := newEmulator(t)
			inv := newInvoker(t, fc.InvokerConfig{Endpoint: emu.url})

			_, err := inv.InvokeAsync(context.Background(), tt.creds, tt.function, []byte("x"), "task")
			var ie *fc.InvokeError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want an *fc.InvokeError", err)
			}
			if ie.StatusCode != tt.status || ie.Code != tt.code || ie.RequestID == "" || ie.Message == "" {
				t.Errorf("InvokeError = %+v, want status %d, code %s, a message and a request id", ie, tt.status, tt.code)
			}
			if errors.Is(err, fc.ErrTaskExists) {
				t.Errorf("err = %v matches ErrTaskExists", err)
			}
			assertNoSecret(t, err.Error(), tt.creds)
			if calls := emu.Invocations(); len(calls) != 0 {
				t.Errorf("refused call was recorded as an invocation: %+v", calls)
			}
		})
	}
}

func TestInvokeAsyncRepeatedTaskMatchesErrTaskExists(t *testing.T) {
	emu := newEmulator(t)
	inv := newInvoker(t, fc.InvokerConfig{Endpoint: emu.url})
	ctx := context.Background()

	if _, err := inv.InvokeAsync(ctx, stsCreds, "reply", []byte("first"), "msg-1"); err != nil {
		t.Fatalf("first InvokeAsync: %v", err)
	}
	_, err := inv.InvokeAsync(ctx, stsCreds, "reply", []byte("again"), "msg-1")
	if !errors.Is(err, fc.ErrTaskExists) {
		t.Fatalf("repeated task: err = %v, want ErrTaskExists", err)
	}
	var ie *fc.InvokeError
	if !errors.As(err, &ie) || ie.StatusCode != http.StatusConflict {
		t.Errorf("repeated task: err = %v, want an InvokeError with status 409 too", err)
	}
	assertNoSecret(t, err.Error(), stsCreds)

	// Without a task id FC does not deduplicate.
	for range 2 {
		if _, err := inv.InvokeAsync(ctx, stsCreds, "reply", []byte("no task"), ""); err != nil {
			t.Fatalf("InvokeAsync without task id: %v", err)
		}
	}
	emu.wait(t)
	got := emu.function.received()
	slices.Sort(got) // deliveries run concurrently
	if want := []string{"first", "no task", "no task"}; !slices.Equal(got, want) {
		t.Errorf("function received %q, want %q", got, want)
	}
}

func TestInvokeAsyncUnreadableErrorBody(t *testing.T) {
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html>502 Bad Gateway</html>")
	}))
	defer gateway.Close()
	inv := newInvoker(t, fc.InvokerConfig{Endpoint: gateway.URL})

	_, err := inv.InvokeAsync(context.Background(), stsCreds, "reply", []byte("x"), "")
	var ie *fc.InvokeError
	if !errors.As(err, &ie) || ie.StatusCode != http.StatusBadGateway {
		t.Fatalf("err = %v, want an InvokeError with status 502", err)
	}
}

func TestInvokeAsyncUnreachable(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	inv := newInvoker(t, fc.InvokerConfig{Endpoint: gone.URL})

	_, err := inv.InvokeAsync(context.Background(), stsCreds, "reply", []byte("x"), "")
	var ie *fc.InvokeError
	if err == nil || errors.As(err, &ie) {
		t.Fatalf("err = %v, want a transport error, not an InvokeError", err)
	}
	assertNoSecret(t, err.Error(), stsCreds)
}

func TestInvokeAsyncValidatesInput(t *testing.T) {
	// No server: a bad call must fail before anything is sent.
	inv := newInvoker(t, fc.InvokerConfig{Endpoint: "http://127.0.0.1:1"})
	tests := []struct {
		name     string
		creds    alicloud.Credentials
		function string
		want     error
	}{
		{"no key id", alicloud.Credentials{AccessKeySecret: "s"}, "reply", fc.ErrNoCredentials},
		{"no secret", alicloud.Credentials{AccessKeyID: "id", SecurityToken: "t"}, "reply", fc.ErrNoCredentials},
		{"no function", stsCreds, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := inv.InvokeAsync(context.Background(), tt.creds, tt.function, nil, "")
			if err == nil {
				t.Fatal("InvokeAsync succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if tt.want == nil && !strings.Contains(err.Error(), "function") {
				t.Errorf("err = %v, want it to say the function name is missing", err)
			}
		})
	}
}

func TestNewInvokerEndpoint(t *testing.T) {
	tests := []struct {
		name    string
		cfg     fc.InvokerConfig
		want    string
		wantErr []string // substrings of the error
	}{
		{name: "bare host is https", cfg: fc.InvokerConfig{Endpoint: "1234.cn-hangzhou.fc.aliyuncs.com"}, want: "https://1234.cn-hangzhou.fc.aliyuncs.com"},
		{name: "bare host with port", cfg: fc.InvokerConfig{Endpoint: "127.0.0.1:9100"}, want: "https://127.0.0.1:9100"},
		{name: "http kept", cfg: fc.InvokerConfig{Endpoint: "http://127.0.0.1:1234"}, want: "http://127.0.0.1:1234"},
		{name: "https kept", cfg: fc.InvokerConfig{Endpoint: "https://1234.cn-shanghai.fc.aliyuncs.com"}, want: "https://1234.cn-shanghai.fc.aliyuncs.com"},
		{name: "trailing slash", cfg: fc.InvokerConfig{Endpoint: "https://1234.cn-hangzhou.fc.aliyuncs.com/"}, want: "https://1234.cn-hangzhou.fc.aliyuncs.com"},
		{name: "bare host trailing slash", cfg: fc.InvokerConfig{Endpoint: "1234.cn-hangzhou.fc.aliyuncs.com/"}, want: "https://1234.cn-hangzhou.fc.aliyuncs.com"},
		{name: "spaces and case", cfg: fc.InvokerConfig{Endpoint: " HTTP://LocalHost:8080 "}, want: "http://localhost:8080"},
		{name: "endpoint wins over account", cfg: fc.InvokerConfig{Endpoint: "http://127.0.0.1:1", AccountID: "1234", Region: "cn-hangzhou"}, want: "http://127.0.0.1:1"},
		{name: "account and region give the internal endpoint", cfg: fc.InvokerConfig{AccountID: "1234", Region: "cn-hangzhou"}, want: "https://1234.cn-hangzhou-internal.fc.aliyuncs.com"},
		{name: "nothing", cfg: fc.InvokerConfig{}, wantErr: []string{"ENDPOINT", "FC_ACCOUNT_ID", "FC_REGION"}},
		{name: "no region", cfg: fc.InvokerConfig{AccountID: "1234"}, wantErr: []string{"ENDPOINT", "missing FC_REGION"}},
		{name: "no account", cfg: fc.InvokerConfig{Region: "cn-hangzhou"}, wantErr: []string{"ENDPOINT", "missing FC_ACCOUNT_ID"}},
		{name: "other scheme", cfg: fc.InvokerConfig{Endpoint: "ftp://example.com"}, wantErr: []string{"http or https"}},
		{name: "path", cfg: fc.InvokerConfig{Endpoint: "https://example.com/prefix"}, wantErr: []string{"path"}},
		{name: "no host", cfg: fc.InvokerConfig{Endpoint: "https://"}, wantErr: []string{"no host"}},
		{name: "user info not echoed", cfg: fc.InvokerConfig{Endpoint: "https://user:hunter2@example.com"}, wantErr: []string{"user info"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := fc.NewInvoker(tt.cfg)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("NewInvoker succeeded with endpoint %q", inv.Endpoint())
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("err = %q, want it to mention %q", err, s)
					}
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("err = %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewInvoker: %v", err)
			}
			if got := inv.Endpoint(); got != tt.want {
				t.Errorf("Endpoint() = %q, want %q", got, tt.want)
			}
		})
	}
}

func assertNoSecret(t *testing.T, s string, creds alicloud.Credentials) {
	t.Helper()
	for _, secret := range []string{creds.AccessKeySecret, creds.SecurityToken, stsCreds.AccessKeySecret, stsCreds.SecurityToken} {
		if secret != "" && strings.Contains(s, secret) {
			t.Errorf("%q shows a secret", s)
		}
	}
}

// BenchmarkInvokeAsync measures a whole signed call to the emulator over
// loopback, delivery excluded.
func BenchmarkInvokeAsync(b *testing.B) {
	fnSrv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer fnSrv.Close()
	srv := fclocal.New(fclocal.Config{
		Functions:      map[string]string{"reply": fnSrv.URL},
		AccessKeys:     map[string]string{stsCreds.AccessKeyID: stsCreds.AccessKeySecret},
		SecurityTokens: map[string]string{stsCreds.AccessKeyID: stsCreds.SecurityToken},
	})
	api := httptest.NewServer(srv)
	defer api.Close()
	inv, err := fc.NewInvoker(fc.InvokerConfig{Endpoint: api.URL})
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"message":{"id":"m1","text":"hello"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := inv.InvokeAsync(context.Background(), stsCreds, "reply", payload, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		b.Fatal(err)
	}
}
