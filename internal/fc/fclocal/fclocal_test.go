package fclocal_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
	"github.com/dingtalk-llm/fcrobot/internal/fc"
	"github.com/dingtalk-llm/fcrobot/internal/fc/fclocal"
	"github.com/dingtalk-llm/fcrobot/internal/logging/logtest"
)

// Generous safety limit for waits; no test depends on how fast anything is.
const patience = 10 * time.Second

var (
	// callerCreds sign the InvokeFunction calls.
	callerCreds = alicloud.Credentials{AccessKeyID: "STS.caller", AccessKeySecret: "caller-secret-do-not-print", SecurityToken: "caller-token-do-not-print"}
	// roleCreds are what FC hands the invoked function.
	roleCreds = alicloud.Credentials{AccessKeyID: "STS.role", AccessKeySecret: "role-secret-do-not-print", SecurityToken: "role-token-do-not-print"}
)

// fakeFunction is a custom runtime that records deliveries and answers each
// with respond (nil: 200).
type fakeFunction struct {
	respond func(call int, w http.ResponseWriter)

	mu       sync.Mutex
	requests []delivery
}

type delivery struct {
	method, path string
	header       http.Header
	body         string
}

func (f *fakeFunction) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, delivery{r.Method, r.URL.Path, r.Header.Clone(), string(body)})
	call := len(f.requests)
	f.mu.Unlock()
	if f.respond != nil {
		f.respond(call, w)
	}
}

func (f *fakeFunction) deliveries() []delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]delivery(nil), f.requests...)
}

// failWith answers as a custom runtime that reports an error.
func failWith(w http.ResponseWriter) {
	w.Header().Set("x-fc-status", "404")
	w.WriteHeader(http.StatusNotFound)
}

// setup runs fclocal with the function "reply" served by fn (unless cfg
// names functions itself) and returns it with its URL.
func setup(t *testing.T, cfg fclocal.Config, fn http.Handler) (*fclocal.Server, string) {
	t.Helper()
	if cfg.Functions == nil {
		fnSrv := httptest.NewServer(fn)
		t.Cleanup(fnSrv.Close)
		cfg.Functions = map[string]string{"reply": fnSrv.URL}
	}
	if cfg.AccessKeys == nil {
		cfg.AccessKeys = map[string]string{callerCreds.AccessKeyID: callerCreds.AccessKeySecret}
		cfg.SecurityTokens = map[string]string{callerCreds.AccessKeyID: callerCreds.SecurityToken}
	}
	if cfg.RoleCredentials == (alicloud.Credentials{}) {
		cfg.RoleCredentials = roleCreds
	}
	if cfg.AccountID == "" {
		cfg.AccountID, cfg.Region = "1234", "cn-hangzhou"
	}
	if cfg.RetryDelay == nil {
		cfg.RetryDelay = func(int) time.Duration { return 0 }
	}
	srv := fclocal.New(cfg)
	api := httptest.NewServer(srv)
	t.Cleanup(func() {
		api.Close()
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		_ = srv.Close(ctx)
	})
	return srv, api.URL
}

func invoker(t *testing.T, endpoint, service string) *fc.Invoker {
	t.Helper()
	inv, err := fc.NewInvoker(fc.InvokerConfig{Endpoint: endpoint, ServiceName: service})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func invokeAsync(t *testing.T, apiURL string, payload, taskID string) string {
	t.Helper()
	id, err := invoker(t, apiURL, "").InvokeAsync(context.Background(), callerCreds, "reply", []byte(payload), taskID)
	if err != nil {
		t.Fatalf("InvokeAsync: %v", err)
	}
	return id
}

func wait(t *testing.T, srv *fclocal.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := srv.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v", err)
	}
}

func only(t *testing.T, srv *fclocal.Server) fclocal.Invocation {
	t.Helper()
	calls := srv.Invocations()
	if len(calls) != 1 {
		t.Fatalf("recorded %d invocations, want 1: %+v", len(calls), calls)
	}
	return calls[0]
}

func TestDeliveryCarriesPayloadAndFCHeaders(t *testing.T) {
	fn := &fakeFunction{}
	srv, apiURL := setup(t, fclocal.Config{}, fn)

	requestID := invokeAsync(t, apiURL, `{"msgId":"m1"}`, "msg-m1")
	wait(t, srv)

	got := fn.deliveries()
	if len(got) != 1 {
		t.Fatalf("function got %d deliveries, want 1", len(got))
	}
	d := got[0]
	if d.method != http.MethodPost || d.path != "/invoke" || d.body != `{"msgId":"m1"}` {
		t.Errorf("delivery = %s %s %q, want POST /invoke with the payload", d.method, d.path, d.body)
	}
	want := map[string]string{
		"Content-Type":           "application/octet-stream",
		"x-fc-request-id":        requestID,
		"x-fc-function-name":     "reply",
		"x-fc-region":            "cn-hangzhou",
		"x-fc-account-id":        "1234",
		"x-fc-qualifier":         "LATEST",
		"x-fc-access-key-id":     roleCreds.AccessKeyID,
		"x-fc-access-key-secret": roleCreds.AccessKeySecret,
		"x-fc-async-task-id":     "msg-m1",
	}
	for k, v := range want {
		if got := d.header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	st := srv.Stats()
	if st != (fclocal.Stats{Accepted: 1, DeliveryAttempts: 1, Succeeded: 1}) {
		t.Errorf("Stats() = %+v", st)
	}
	if c := only(t, srv); c.Attempts != 1 || c.Outcome != fclocal.Succeeded || c.LastStatus != http.StatusOK {
		t.Errorf("invocation = %+v", c)
	}
}

func TestFC2DeliveryNamesTheService(t *testing.T) {
	fn := &fakeFunction{}
	srv, apiURL := setup(t, fclocal.Config{}, fn)

	if _, err := invoker(t, apiURL, "robot").InvokeAsync(context.Background(), callerCreds, "reply", []byte("e"), "t-1"); err != nil {
		t.Fatalf("InvokeAsync: %v", err)
	}
	wait(t, srv)

	d := fn.deliveries()
	if len(d) != 1 || d[0].header.Get("x-fc-service-name") != "robot" || d[0].header.Get(fc.HeaderStatefulInvocationID) != "t-1" {
		t.Fatalf("deliveries = %+v, want one naming service robot and task t-1", d)
	}
	if c := only(t, srv); c.Service != "robot" || c.TaskID != "t-1" {
		t.Errorf("invocation = %+v", c)
	}
}

func TestRetriesAFailedDeliveryUntilItSucceeds(t *testing.T) {
	fn := &fakeFunction{respond: func(call int, w http.ResponseWriter) {
		if call < 3 {
			failWith(w)
		}
	}}
	var mu sync.Mutex
	var delays []int
	srv, apiURL := setup(t, fclocal.Config{RetryDelay: func(attempt int) time.Duration {
		mu.Lock()
		delays = append(delays, attempt)
		mu.Unlock()
		return 0
	}}, fn)

	invokeAsync(t, apiURL, "event", "")
	wait(t, srv)

	got := fn.deliveries()
	if n := len(got); n != 3 {
		t.Fatalf("function got %d deliveries, want 3", n)
	}
	for i, d := range got {
		if rc := d.header.Get("x-fc-retry-count"); rc != strconv.Itoa(i) || d.header.Get("x-fc-request-id") != got[0].header.Get("x-fc-request-id") {
			t.Errorf("delivery %d: x-fc-retry-count %q, request id %q; want %d and the invocation's one id", i, rc, d.header.Get("x-fc-request-id"), i)
		}
	}
	if c := only(t, srv); c.Attempts != 3 || c.Outcome != fclocal.Succeeded {
		t.Errorf("invocation = %+v, want success at attempt 3", c)
	}
	if st := srv.Stats(); st.DeliveryAttempts != 3 || st.Succeeded != 1 || st.FailedAfterRetries != 0 {
		t.Errorf("Stats() = %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(delays) != 2 || delays[0] != 1 || delays[1] != 2 {
		t.Errorf("RetryDelay called for attempts %v, want [1 2]", delays)
	}
}

func TestGivesUpAfterTheRetries(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	tests := []struct {
		name         string
		retries      int
		respond      func(int, http.ResponseWriter)
		unreachable  bool
		wantAttempts int
	}{
		{name: "x-fc-status 404, FC default", retries: 0, respond: func(_ int, w http.ResponseWriter) { failWith(w) }, wantAttempts: 4},
		{name: "x-fc-status 404, no retries", retries: -1, respond: func(_ int, w http.ResponseWriter) { failWith(w) }, wantAttempts: 1},
		{name: "5xx, two retries", retries: 2, respond: func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) }, wantAttempts: 3},
		{name: "unreachable, one retry", retries: 1, unreachable: true, wantAttempts: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fclocal.Config{MaxAsyncRetryAttempts: tt.retries}
			if tt.unreachable {
				cfg.Functions = map[string]string{"reply": gone.URL}
			}
			fn := &fakeFunction{respond: tt.respond}
			srv, apiURL := setup(t, cfg, fn)

			invokeAsync(t, apiURL, "event", "")
			wait(t, srv)

			c := only(t, srv)
			if c.Attempts != tt.wantAttempts || c.Outcome != fclocal.Failed || c.LastError == "" {
				t.Errorf("invocation = %+v, want failure after %d attempts", c, tt.wantAttempts)
			}
			if st := srv.Stats(); st.DeliveryAttempts != tt.wantAttempts || st.FailedAfterRetries != 1 || st.Succeeded != 0 {
				t.Errorf("Stats() = %+v", st)
			}
		})
	}
}

func TestNotFoundWithoutStatusHeaderIsASuccess(t *testing.T) {
	fn := &fakeFunction{respond: func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) }}
	srv, apiURL := setup(t, fclocal.Config{}, fn)

	invokeAsync(t, apiURL, "event", "")
	wait(t, srv)

	if c := only(t, srv); c.Attempts != 1 || c.Outcome != fclocal.Succeeded || c.LastStatus != http.StatusNotFound {
		t.Errorf("invocation = %+v, want one attempt that counts as success", c)
	}
}

func TestAnswers202BeforeTheFunctionFinishes(t *testing.T) {
	release, finished := make(chan struct{}), make(chan struct{})
	fn := &fakeFunction{respond: func(int, http.ResponseWriter) {
		<-release
		close(finished)
	}}
	srv, apiURL := setup(t, fclocal.Config{}, fn)

	invokeAsync(t, apiURL, "slow", "")
	select {
	case <-finished:
		t.Fatal("the function finished before InvokeAsync returned")
	default:
	}
	if st := srv.Stats(); st.InFlight != 1 || st.Succeeded != 0 {
		t.Errorf("Stats() after the 202 = %+v, want one delivery in flight", st)
	}
	close(release)
	wait(t, srv)
	<-finished
	if c := only(t, srv); c.Outcome != fclocal.Succeeded {
		t.Errorf("invocation = %+v", c)
	}
}

func TestRepeatedTaskIDIsRefused(t *testing.T) {
	fn := &fakeFunction{}
	srv, apiURL := setup(t, fclocal.Config{}, fn)
	inv := invoker(t, apiURL, "")

	invokeAsync(t, apiURL, "first", "msg-1")
	_, err := inv.InvokeAsync(context.Background(), callerCreds, "reply", []byte("second"), "msg-1")
	var ie *fc.InvokeError
	if !errors.Is(err, fc.ErrTaskExists) || !errors.As(err, &ie) {
		t.Fatalf("repeat: err = %v, want ErrTaskExists", err)
	}
	if ie.StatusCode != http.StatusConflict || ie.Code != "ResourceConflict" || ie.RequestID == "" {
		t.Errorf("InvokeError = %+v", ie)
	}
	wait(t, srv)

	if d := fn.deliveries(); len(d) != 1 || d[0].body != "first" {
		t.Errorf("deliveries = %+v, want only the first", d)
	}
	if st := srv.Stats(); st.Accepted != 1 || st.TaskConflicts != 1 {
		t.Errorf("Stats() = %+v", st)
	}
}

func TestAsyncPayloadLimit(t *testing.T) {
	srv, apiURL := setup(t, fclocal.Config{}, &fakeFunction{})
	inv := invoker(t, apiURL, "")

	if _, err := inv.InvokeAsync(context.Background(), callerCreds, "reply", make([]byte, fclocal.MaxAsyncPayload), ""); err != nil {
		t.Fatalf("payload of exactly 128 KB: %v", err)
	}
	_, err := inv.InvokeAsync(context.Background(), callerCreds, "reply", make([]byte, fclocal.MaxAsyncPayload+1), "")
	var ie *fc.InvokeError
	if !errors.As(err, &ie) || ie.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("payload over 128 KB: err = %v, want an InvokeError with status 413", err)
	}
	wait(t, srv)
	if st := srv.Stats(); st.Accepted != 1 {
		t.Errorf("Stats() = %+v, want only the first accepted", st)
	}
}

// signedRequest is an InvokeFunction request as the SDK sent it.
type signedRequest struct {
	path   string
	header http.Header
	body   []byte
}

// captureSigned lets the real client sign an invocation and returns the
// request as the emulator received it.
func captureSigned(t *testing.T, srv *fclocal.Server) signedRequest {
	t.Helper()
	var captured signedRequest
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		captured = signedRequest{r.URL.RequestURI(), r.Header.Clone(), body}
		r.Body = io.NopCloser(bytes.NewReader(body))
		srv.ServeHTTP(w, r)
	}))
	defer api.Close()
	invokeAsync(t, api.URL, "original", "")
	return captured
}

func TestRejectsRequestsNotSignedWithTheKey(t *testing.T) {
	srv, apiURL := setup(t, fclocal.Config{}, &fakeFunction{})
	good := captureSigned(t, srv)
	wait(t, srv)
	// The capture and every replay reach the same emulator, on a different
	// port, so the host is what the replay must carry.
	host := strings.TrimPrefix(apiURL, "http://")

	tests := []struct {
		name   string
		change func(r *signedRequest)
		code   string
	}{
		{"no authorization", func(r *signedRequest) { r.header.Del("Authorization") }, "InvalidAccessKeyId"},
		{"not ACS3", func(r *signedRequest) { r.header.Set("Authorization", "Bearer x") }, "InvalidAccessKeyId"},
		{"body changed", func(r *signedRequest) { r.body = []byte("forged") }, "SignatureNotMatch"},
		{"body and its hash changed", func(r *signedRequest) {
			r.body = []byte("forged")
			sum := sha256.Sum256(r.body)
			r.header.Set("x-acs-content-sha256", hex.EncodeToString(sum[:]))
		}, "SignatureNotMatch"},
		{"other function", func(r *signedRequest) { r.path = strings.Replace(r.path, "/reply/", "/other/", 1) }, "SignatureNotMatch"},
		{"signed header changed", func(r *signedRequest) { r.header.Set("x-acs-signature-nonce", "replayed") }, "SignatureNotMatch"},
		{"token changed", func(r *signedRequest) { r.header.Set("x-acs-security-token", "forged") }, "InvalidSecurityToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := signedRequest{good.path, good.header.Clone(), bytes.Clone(good.body)}
			tt.change(&r)
			status, fcErr := replay(t, apiURL+r.path, host, r)
			if status != http.StatusForbidden || fcErr.Code != tt.code || fcErr.RequestID == "" {
				t.Errorf("answer = %d %+v, want 403 %s with a request id", status, fcErr, tt.code)
			}
		})
	}
	if st := srv.Stats(); st.RejectedSignatures != len(tests) || st.Accepted != 1 {
		t.Errorf("Stats() = %+v, want %d rejected and only the capture accepted", st, len(tests))
	}
}

type fcError struct {
	Code      string `json:"Code"`
	Message   string `json:"Message"`
	RequestID string `json:"RequestId"`
}

func replay(t *testing.T, rawURL, host string, r signedRequest) (int, fcError) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = r.header
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e fcError
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("error body is not FC's JSON: %v", err)
	}
	if resp.Header.Get("x-fc-request-id") != e.RequestID {
		t.Errorf("x-fc-request-id %q differs from the body's %q", resp.Header.Get("x-fc-request-id"), e.RequestID)
	}
	return resp.StatusCode, e
}

func TestSyncInvocationReturnsTheFunctionsAnswer(t *testing.T) {
	fn := &fakeFunction{respond: func(call int, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/plain")
		if call == 2 {
			w.Header().Set("x-fc-status", "404")
		}
		_, _ = io.WriteString(w, "answer")
	}}
	srv, apiURL := setup(t, fclocal.Config{}, fn)

	status, header, body := invokeSync(t, apiURL, "question")
	if status != http.StatusOK || body != "answer" || header.Get("x-fc-error-type") != "" {
		t.Errorf("sync call = %d %q %v, want 200 answer", status, body, header)
	}
	_, header, _ = invokeSync(t, apiURL, "question")
	if header.Get("x-fc-error-type") != "UnhandledInvocationError" {
		t.Errorf("a failed sync call has x-fc-error-type %q", header.Get("x-fc-error-type"))
	}
	d := fn.deliveries()
	if len(d) != 2 || d[0].body != "question" || d[0].header.Get("x-fc-access-key-id") != roleCreds.AccessKeyID {
		t.Errorf("deliveries = %+v", d)
	}
	calls := srv.Invocations()
	if len(calls) != 2 || calls[0].Async || calls[0].Outcome != fclocal.Succeeded || calls[1].Outcome != fclocal.Failed {
		t.Errorf("invocations = %+v", calls)
	}
}

// invokeSync makes a signed synchronous call with the SDK, which our
// Invoker does not offer.
func invokeSync(t *testing.T, apiURL, payload string) (int, http.Header, string) {
	t.Helper()
	u, err := url.Parse(apiURL)
	if err != nil {
		t.Fatal(err)
	}
	client, err := openapi.NewClient(&openapi.Config{
		AccessKeyId:     dara.String(callerCreds.AccessKeyID),
		AccessKeySecret: dara.String(callerCreds.AccessKeySecret),
		SecurityToken:   dara.String(callerCreds.SecurityToken),
		Endpoint:        dara.String(u.Host),
		Protocol:        dara.String("HTTP"),
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.CallApiWithCtx(context.Background(), &openapi.Params{
		Action: dara.String("InvokeFunction"), Version: dara.String("2023-03-30"), Protocol: dara.String("HTTP"),
		Pathname: dara.String("/2023-03-30/functions/reply/invocations"), Method: dara.String("POST"),
		AuthType: dara.String("AK"), Style: dara.String("ROA"), ReqBodyType: dara.String("json"), BodyType: dara.String("binary"),
	}, &openapi.OpenApiRequest{Stream: strings.NewReader(payload)}, &dara.RuntimeOptions{})
	if err != nil {
		t.Fatalf("sync call: %v", err)
	}
	header := http.Header{}
	for k, v := range res["headers"].(map[string]*string) {
		header.Set(k, dara.StringValue(v))
	}
	body := res["body"].(io.ReadCloser)
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return res["statusCode"].(int), header, string(b)
}

func TestUnknownPath(t *testing.T) {
	_, apiURL := setup(t, fclocal.Config{}, &fakeFunction{})
	resp, err := http.Get(apiURL + "/2023-03-30/functions")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e fcError
	if resp.StatusCode != http.StatusNotFound || json.NewDecoder(resp.Body).Decode(&e) != nil || e.Code == "" {
		t.Errorf("answer = %d %+v, want 404 with an FC error", resp.StatusCode, e)
	}
}

func TestCloseWaitsForDeliveries(t *testing.T) {
	release := make(chan struct{})
	fn := &fakeFunction{respond: func(int, http.ResponseWriter) { <-release }}
	srv, apiURL := setup(t, fclocal.Config{}, fn)
	invokeAsync(t, apiURL, "event", "")

	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		closed <- srv.Close(ctx)
	}()
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while a delivery was under way", err)
	default:
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if c := only(t, srv); c.Outcome != fclocal.Succeeded {
		t.Errorf("invocation = %+v", c)
	}

	_, err := invoker(t, apiURL, "").InvokeAsync(context.Background(), callerCreds, "reply", []byte("late"), "")
	var ie *fc.InvokeError
	if !errors.As(err, &ie) || ie.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after Close: err = %v, want an InvokeError with status 503", err)
	}
}

func TestCloseCancelsDeliveriesWhenItsContextEnds(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	fn := &fakeFunction{respond: func(int, http.ResponseWriter) { <-release }}
	srv, apiURL := setup(t, fclocal.Config{}, fn)
	invokeAsync(t, apiURL, "event", "")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want context.Canceled", err)
	}
	if c := only(t, srv); c.Outcome != fclocal.Canceled {
		t.Errorf("invocation = %+v, want canceled", c)
	}
	if st := srv.Stats(); st.InFlight != 0 {
		t.Errorf("Stats() = %+v, want nothing in flight", st)
	}
}

func TestLogsShowNoSecret(t *testing.T) {
	var logs logtest.Buffer
	fn := &fakeFunction{respond: func(call int, w http.ResponseWriter) {
		if call == 1 {
			failWith(w)
		}
	}}
	srv, apiURL := setup(t, fclocal.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, fn)

	invokeAsync(t, apiURL, "event", "task")
	wrong := callerCreds
	wrong.AccessKeySecret = "wrong-secret-do-not-print"
	_, _ = invoker(t, apiURL, "").InvokeAsync(context.Background(), wrong, "reply", []byte("x"), "")
	wait(t, srv)

	out := logs.String()
	if !strings.Contains(out, "delivery attempt") || !strings.Contains(out, "refused") {
		t.Fatalf("logs lack the invocation and delivery lines:\n%s", out)
	}
	for _, secret := range []string{callerCreds.AccessKeySecret, callerCreds.SecurityToken, roleCreds.AccessKeySecret, roleCreds.SecurityToken, wrong.AccessKeySecret} {
		if strings.Contains(out, secret) {
			t.Errorf("logs show %q:\n%s", secret, out)
		}
	}
}

func TestDuplicateDeliveriesPostEachAttemptTwiceAtOnce(t *testing.T) {
	arrived := make(chan struct{}, 4)
	release := make(chan struct{})
	fn := &fakeFunction{respond: func(call int, w http.ResponseWriter) {
		arrived <- struct{}{}
		<-release // both posts of the attempt are in flight together
		if call == 2 {
			failWith(w) // one of the two fails: the attempt fails
		}
	}}
	srv, apiURL := setup(t, fclocal.Config{DuplicateDeliveries: true, RetryDelay: func(int) time.Duration { return 0 }}, fn)
	invokeAsync(t, apiURL, "event", "")
	<-arrived
	<-arrived
	close(release)
	wait(t, srv)
	got := fn.deliveries()
	if len(got) != 4 {
		t.Fatalf("function got %d deliveries; want the first attempt and its retry, each twice", len(got))
	}
	for i, d := range got {
		if rc := d.header.Get("x-fc-retry-count"); rc != strconv.Itoa(i/2) {
			t.Errorf("delivery %d: x-fc-retry-count %q, want %d", i, rc, i/2)
		}
	}
	if c := only(t, srv); c.Attempts != 2 || c.Outcome != fclocal.Succeeded {
		t.Errorf("invocation = %+v, want success at attempt 2", c)
	}
}

// With DuplicateSuccessCounts an attempt delivered twice succeeds when
// either of its deliveries does: one failing alone brings no retry.
func TestWithDuplicateSuccessCountsOneSuccessEndsTheInvocation(t *testing.T) {
	for _, successCounts := range []bool{false, true} {
		fn := &fakeFunction{respond: func(call int, w http.ResponseWriter) {
			if call == 1 {
				failWith(w)
			}
		}}
		srv, apiURL := setup(t, fclocal.Config{DuplicateDeliveries: true, DuplicateSuccessCounts: successCounts, RetryDelay: func(int) time.Duration { return 0 }}, fn)
		invokeAsync(t, apiURL, "event", "")
		wait(t, srv)
		want := 2
		if successCounts {
			want = 1
		}
		if c := only(t, srv); c.Attempts != want || c.Outcome != fclocal.Succeeded {
			t.Errorf("success counts %v: invocation = %+v, want success at attempt %d", successCounts, c, want)
		}
	}
}

// FC's Debian 11 and newer custom runtimes pass the role's key id and secret
// but no token; a Debian 10 runtime passes all three.
func TestTheSecurityTokenHeaderIsDebian10s(t *testing.T) {
	for _, debian10 := range []bool{false, true} {
		fn := &fakeFunction{}
		srv, apiURL := setup(t, fclocal.Config{SecurityTokenHeader: debian10}, fn)
		invokeAsync(t, apiURL, "event", "")
		wait(t, srv)
		got := fn.deliveries()
		if len(got) != 1 {
			t.Fatalf("function got %d deliveries", len(got))
		}
		want := ""
		if debian10 {
			want = roleCreds.SecurityToken
		}
		if tok := got[0].header.Get("x-fc-security-token"); tok != want || got[0].header.Get("x-fc-access-key-secret") != roleCreds.AccessKeySecret {
			t.Errorf("Debian 10 %v: x-fc-security-token %q, want %q, with the key id and secret", debian10, tok, want)
		}
	}
}
