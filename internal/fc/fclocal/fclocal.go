// Package fclocal is a local stand-in for Function Compute's InvokeFunction
// API and its async delivery, for end-to-end tests, `make run` and
// benchmarks. It checks ACS3-HMAC-SHA256 signatures for real, answers like
// FC (202 and a request id, FC-style JSON errors, 409 on a repeated task id)
// and delivers events to custom runtimes as FC does: POST /invoke with FC's
// headers, retried when the function reports a failure.
package fclocal

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	openapiutil "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	"github.com/alibabacloud-go/tea/dara"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
	"github.com/dingtalk-llm/fcrobot/internal/fc"
)

// Limits FC applies to invocation payloads.
const (
	MaxAsyncPayload = 128 << 10
	MaxSyncPayload  = 32 << 20
)

const (
	signatureAlgorithm = "ACS3-HMAC-SHA256"
	defaultRetries     = 3 // FC's default maxAsyncRetryAttempts
	maxRetryDelay      = 5 * time.Second
)

// Config describes the functions the server knows and whom it lets call them.
type Config struct {
	// Functions maps a function name to the base URL of its custom runtime,
	// e.g. "http://127.0.0.1:9001".
	Functions map[string]string
	// AccessKeys maps an access key id to the secret signatures are checked
	// with.
	AccessKeys map[string]string
	// SecurityTokens maps an access key id to the STS token that must come
	// with it (x-acs-security-token), as for FC's temporary credentials.
	// Keys without an entry are long-lived keys and need no token.
	SecurityTokens map[string]string
	// RoleCredentials are passed to the invoked function in the
	// x-fc-access-key-id, x-fc-access-key-secret and x-fc-security-token
	// headers, as FC passes the function role's credentials.
	RoleCredentials alicloud.Credentials
	// SecurityTokenHeader sends the role's token in x-fc-security-token, as
	// FC does on a Debian 10 custom runtime. Debian 11 and newer (s.yaml's
	// custom.debian12) no longer do: the function then has the key id and
	// secret in headers but must take the whole triple from its
	// ALIBABA_CLOUD_* environment (docs/protocols.md §9). The default is
	// Debian 12's.
	SecurityTokenHeader bool
	AccountID           string
	Region              string
	// MaxAsyncRetryAttempts is how often a failed async delivery is retried:
	// -1 means never, 0 means FC's default of 3.
	MaxAsyncRetryAttempts int
	// RetryDelay is the wait before retry number attempt (1, 2, ...). nil
	// means 200ms doubling per attempt, at most 5 s.
	RetryDelay func(attempt int) time.Duration
	// DuplicateDeliveries posts every delivery of an async invocation
	// twice at the same time, as FC's at-least-once delivery now and then
	// does; the attempt fails when either post reports a failure, or, with
	// DuplicateSuccessCounts, succeeds when either succeeds. FC does not
	// say which outcome of two deliveries it counts; a success counting is
	// what loses a message whose first delivery's instance died while the
	// second waited, unless the second fails too.
	DuplicateDeliveries    bool
	DuplicateSuccessCounts bool
	// Client makes the deliveries; nil means a client of the server's own.
	Client *http.Client
	// Logger gets a line per invocation and per delivery attempt; nil
	// discards them.
	Logger *slog.Logger
}

// Outcome is where an invocation stands.
type Outcome string

const (
	Pending   Outcome = "pending"   // an async delivery is under way or waits for a retry
	Succeeded Outcome = "succeeded" // the function accepted the event
	Failed    Outcome = "failed"    // every attempt failed
	Canceled  Outcome = "canceled"  // the server closed before the delivery ended
)

// Invocation is the record of one accepted invocation.
type Invocation struct {
	RequestID string
	Function  string
	Service   string // FC 2.0 calls only
	Qualifier string
	TaskID    string
	Async     bool
	Payload   []byte
	Attempts  int // deliveries made to the function
	Outcome   Outcome
	// LastStatus is the function's last HTTP status (0 when it could not be
	// reached) and LastError the reason the last attempt failed, if it did.
	LastStatus int
	LastError  string
}

// Stats counts what the server did.
type Stats struct {
	Accepted           int // invocations accepted, sync and async
	DeliveryAttempts   int // POST /invoke requests made for async invocations
	Succeeded          int // async invocations the function accepted
	FailedAfterRetries int // async invocations that failed every attempt
	RejectedSignatures int // requests refused for their signature or key
	TaskConflicts      int // async invocations refused for a repeated task id
	InFlight           int // async deliveries not yet ended
}

// Server is the emulated FC endpoint. It is an http.Handler.
type Server struct {
	cfg     Config
	retries int
	delay   func(int) time.Duration
	// duplicates is Config.DuplicateDeliveries.
	duplicates bool
	client     *http.Client
	log        *slog.Logger
	mux        *http.ServeMux

	// ctx ends the deliveries when Close gives up waiting for them.
	ctx    context.Context
	cancel context.CancelFunc

	mu          sync.Mutex
	closed      bool
	inFlight    int
	idle        chan struct{} // closed while inFlight == 0
	tasks       map[string]bool
	invocations []*Invocation
	stats       Stats
}

// New builds a Server from cfg.
func New(cfg Config) *Server {
	s := &Server{
		cfg:        cfg,
		retries:    cfg.MaxAsyncRetryAttempts,
		duplicates: cfg.DuplicateDeliveries,
		delay:      cfg.RetryDelay,
		client:     cfg.Client,
		log:        cfg.Logger,
		mux:        http.NewServeMux(),
		idle:       make(chan struct{}),
		tasks:      make(map[string]bool),
	}
	switch {
	case s.retries == 0:
		s.retries = defaultRetries
	case s.retries < 0:
		s.retries = 0
	}
	if s.delay == nil {
		s.delay = defaultRetryDelay
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	close(s.idle)
	s.ctx, s.cancel = context.WithCancel(context.Background())

	s.mux.HandleFunc("POST /2023-03-30/functions/{function}/invocations", s.invoke)
	s.mux.HandleFunc("POST /2021-04-06/services/{service}/functions/{function}/invocations", s.invoke)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, newRequestID(), http.StatusNotFound, "PathNotSupported", "the emulator serves only InvokeFunction")
	})
	return s
}

func defaultRetryDelay(attempt int) time.Duration {
	d := 200 * time.Millisecond
	for i := 1; i < attempt && d < maxRetryDelay; i++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}

// ServeHTTP answers the InvokeFunction API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.InFlight = s.inFlight
	return st
}

// Invocations returns a copy of the records of every accepted invocation,
// oldest first.
func (s *Server) Invocations() []Invocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Invocation, len(s.invocations))
	for i, inv := range s.invocations {
		out[i] = *inv
		out[i].Payload = bytes.Clone(inv.Payload)
	}
	return out
}

// Wait blocks until no async delivery is under way (retries included) or
// ctx ends.
func (s *Server) Wait(ctx context.Context) error {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting invocations (they are answered 503) and waits for
// the deliveries under way. If ctx ends first, the deliveries are canceled
// and Close returns ctx's error once they have stopped.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	err := s.Wait(ctx)
	s.cancel()
	if err != nil {
		// Canceled deliveries end promptly: their requests and retry waits
		// all watch s.ctx.
		_ = s.Wait(context.Background())
	}
	return err
}

// invoke handles both API versions; the service of FC 2.0 plays no part in
// routing and is only recorded.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	function, service := r.PathValue("function"), r.PathValue("service")
	log := s.log.With("request_id", requestID, "function", function)

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxSyncPayload))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, requestID, http.StatusRequestEntityTooLarge, "PayloadTooLarge", fmt.Sprintf("payload exceeds %d bytes", MaxSyncPayload))
			return
		}
		writeError(w, requestID, http.StatusBadRequest, "InvalidArgument", "could not read the request body")
		return
	}

	keyID, status, code, msg := s.authenticate(r, body)
	if status != 0 {
		s.mu.Lock()
		s.stats.RejectedSignatures++
		s.mu.Unlock()
		log.Warn("fclocal: request refused", "access_key_id", keyID, "code", code)
		writeError(w, requestID, status, code, msg)
		return
	}

	baseURL, ok := s.cfg.Functions[function]
	if !ok {
		writeError(w, requestID, http.StatusNotFound, "FunctionNotFound", fmt.Sprintf("function '%s' does not exist", function))
		return
	}

	async := strings.EqualFold(r.Header.Get("x-fc-invocation-type"), "Async")
	taskHeader := fc.HeaderAsyncTaskID
	if service != "" {
		taskHeader = fc.HeaderStatefulInvocationID
	}
	inv := &Invocation{
		RequestID: requestID,
		Function:  function,
		Service:   service,
		Qualifier: r.URL.Query().Get("qualifier"),
		Async:     async,
		Payload:   body,
		Outcome:   Pending,
	}
	if inv.Qualifier == "" {
		inv.Qualifier = "LATEST"
	}
	if !async {
		s.invokeSync(r.Context(), w, log, baseURL, inv)
		return
	}
	inv.TaskID = r.Header.Get(taskHeader)

	if len(body) > MaxAsyncPayload {
		writeError(w, requestID, http.StatusRequestEntityTooLarge, "PayloadTooLarge",
			fmt.Sprintf("async payload of %d bytes exceeds %d bytes", len(body), MaxAsyncPayload))
		return
	}

	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		writeError(w, requestID, http.StatusServiceUnavailable, "ServiceUnavailable", "the emulator is shutting down")
		return
	case inv.TaskID != "" && s.tasks[inv.TaskID]:
		s.stats.TaskConflicts++
		s.mu.Unlock()
		log.Info("fclocal: repeated async task refused", "task_id", inv.TaskID)
		writeError(w, requestID, http.StatusConflict, "ResourceConflict", fmt.Sprintf("async task '%s' already exists", inv.TaskID))
		return
	}
	if inv.TaskID != "" {
		s.tasks[inv.TaskID] = true
	}
	s.stats.Accepted++
	s.invocations = append(s.invocations, inv)
	// Counted in flight before the 202 goes out, so that a Wait right
	// after the caller's InvokeAsync returns sees the delivery.
	if s.inFlight == 0 {
		s.idle = make(chan struct{})
	}
	s.inFlight++
	s.mu.Unlock()

	log.Info("fclocal: async invocation accepted", "service", service, "task_id", inv.TaskID,
		"bytes", len(body), "access_key_id", keyID)
	go s.deliver(log, baseURL, inv)

	w.Header().Set(fc.HeaderRequestID, requestID)
	w.WriteHeader(http.StatusAccepted)
}

// deliver runs an async invocation to its end, retrying as FC does.
func (s *Server) deliver(log *slog.Logger, baseURL string, inv *Invocation) {
	defer s.deliveryDone()
	for attempt := 1; ; attempt++ {
		status, failure := s.postAttempt(baseURL, inv, attempt-1)

		s.mu.Lock()
		s.stats.DeliveryAttempts++
		inv.Attempts = attempt
		inv.LastStatus, inv.LastError = status, failure
		s.mu.Unlock()
		log.Info("fclocal: delivery attempt", "attempt", attempt, "status", status, "failure", failure)

		if failure == "" {
			s.finish(inv, Succeeded)
			return
		}
		if s.ctx.Err() != nil {
			s.finish(inv, Canceled)
			return
		}
		if attempt > s.retries {
			log.Warn("fclocal: async invocation failed after retries", "attempts", attempt)
			s.finish(inv, Failed)
			return
		}
		timer := time.NewTimer(s.delay(attempt))
		select {
		case <-timer.C:
		case <-s.ctx.Done():
			timer.Stop()
			s.finish(inv, Canceled)
			return
		}
	}
}

// postAttempt makes the delivery of one attempt, retry counting FC's
// retries before it: one post, or two at once with DuplicateDeliveries.
func (s *Server) postAttempt(baseURL string, inv *Invocation, retry int) (status int, failure string) {
	if !s.duplicates {
		return s.post(s.ctx, baseURL, inv, retry)
	}
	type result struct {
		status  int
		failure string
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			status, failure := s.post(s.ctx, baseURL, inv, retry)
			results <- result{status, failure}
		}()
	}
	a, b := <-results, <-results
	// The outcome that counts: a failure of either, or, with
	// DuplicateSuccessCounts, a success of either, whichever ended first.
	counts := func(r result) bool { return (r.failure == "") == s.cfg.DuplicateSuccessCounts }
	if counts(b) && !counts(a) {
		a = b
	}
	return a.status, a.failure
}

func (s *Server) finish(inv *Invocation, outcome Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv.Outcome = outcome
	switch outcome {
	case Succeeded:
		s.stats.Succeeded++
	case Failed:
		s.stats.FailedAfterRetries++
	}
}

func (s *Server) deliveryDone() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight--
	if s.inFlight == 0 {
		close(s.idle)
	}
}

// post makes one delivery and says why it failed, or "" if it did not. As
// in FC, a failure is x-fc-status: 404 (the custom runtime's way to report
// an error), a 5xx, or no answer; a 404 without x-fc-status is a success.
func (s *Server) post(ctx context.Context, baseURL string, inv *Invocation, retry int) (status int, failure string) {
	resp, err := s.send(ctx, baseURL, inv, retry)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	switch {
	case resp.Header.Get("x-fc-status") == "404":
		return resp.StatusCode, "function reported an error (x-fc-status: 404)"
	case resp.StatusCode >= 500:
		return resp.StatusCode, fmt.Sprintf("function answered HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, ""
}

// send posts the payload to the function's /invoke with FC's headers.
func (s *Server) send(ctx context.Context, baseURL string, inv *Invocation, retry int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(baseURL, "/")+"/invoke", bytes.NewReader(inv.Payload))
	if err != nil {
		return nil, err
	}
	h := req.Header
	h.Set("Content-Type", "application/octet-stream")
	h.Set(fc.HeaderRequestID, inv.RequestID)
	h.Set("x-fc-retry-count", strconv.Itoa(retry))
	h.Set("x-fc-function-name", inv.Function)
	h.Set("x-fc-region", s.cfg.Region)
	h.Set("x-fc-account-id", s.cfg.AccountID)
	h.Set("x-fc-qualifier", inv.Qualifier)
	h.Set("x-fc-access-key-id", s.cfg.RoleCredentials.AccessKeyID)
	h.Set("x-fc-access-key-secret", s.cfg.RoleCredentials.AccessKeySecret)
	if s.cfg.SecurityTokenHeader {
		h.Set("x-fc-security-token", s.cfg.RoleCredentials.SecurityToken)
	}
	if inv.Service != "" {
		h.Set("x-fc-service-name", inv.Service)
	}
	if inv.TaskID != "" {
		if inv.Service != "" {
			h.Set(fc.HeaderStatefulInvocationID, inv.TaskID)
		} else {
			h.Set(fc.HeaderAsyncTaskID, inv.TaskID)
		}
	}
	return s.client.Do(req)
}

// invokeSync forwards a synchronous invocation and relays the function's
// answer. A function's x-fc-status: 404 is surfaced as FC's
// x-fc-error-type header.
func (s *Server) invokeSync(ctx context.Context, w http.ResponseWriter, log *slog.Logger, baseURL string, inv *Invocation) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeError(w, inv.RequestID, http.StatusServiceUnavailable, "ServiceUnavailable", "the emulator is shutting down")
		return
	}
	s.stats.Accepted++
	s.invocations = append(s.invocations, inv)
	s.mu.Unlock()

	resp, err := s.send(ctx, baseURL, inv, 0)
	if err != nil {
		s.recordSync(inv, 0, err.Error(), Failed)
		log.Warn("fclocal: sync invocation could not reach the function", "err", err)
		writeError(w, inv.RequestID, http.StatusBadGateway, "FunctionNotReachable", "the function's runtime did not answer")
		return
	}
	defer resp.Body.Close()
	outcome, failure := Succeeded, ""
	if resp.Header.Get("x-fc-status") == "404" {
		outcome, failure = Failed, "function reported an error (x-fc-status: 404)"
		w.Header().Set("x-fc-error-type", "UnhandledInvocationError")
	}
	s.recordSync(inv, resp.StatusCode, failure, outcome)
	log.Info("fclocal: sync invocation", "status", resp.StatusCode, "outcome", outcome)

	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set(fc.HeaderRequestID, inv.RequestID)
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func (s *Server) recordSync(inv *Invocation, status int, failure string, outcome Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv.Attempts = 1
	inv.LastStatus, inv.LastError, inv.Outcome = status, failure, outcome
}

// authenticate checks the request's ACS3-HMAC-SHA256 signature by computing
// it again, with the SDK's own signer, over the request as received. It
// returns the key id and, when the request is refused, the status, FC-style
// code and message to answer with.
func (s *Server) authenticate(r *http.Request, body []byte) (keyID string, status int, code, msg string) {
	auth := r.Header.Get("Authorization")
	keyID, ok := credentialOf(auth)
	if !ok {
		return "", http.StatusForbidden, "InvalidAccessKeyId", "the request has no valid ACS3-HMAC-SHA256 Authorization header"
	}
	secret, ok := s.cfg.AccessKeys[keyID]
	if !ok {
		return keyID, http.StatusForbidden, "InvalidAccessKeyId", fmt.Sprintf("the access key id '%s' does not exist", keyID)
	}
	if want, ok := s.cfg.SecurityTokens[keyID]; ok {
		got := r.Header.Get("x-acs-security-token")
		if got == "" || !hmac.Equal([]byte(got), []byte(want)) {
			return keyID, http.StatusForbidden, "InvalidSecurityToken", "the security token is missing or invalid"
		}
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if r.Header.Get("x-acs-content-sha256") != payloadHash {
		return keyID, http.StatusForbidden, "SignatureNotMatch", "x-acs-content-sha256 does not match the body"
	}

	signed := dara.NewRequest()
	signed.Method = dara.String(r.Method)
	signed.Pathname = dara.String(r.URL.EscapedPath())
	for k, vs := range r.URL.Query() {
		signed.Query[k] = dara.String(vs[0])
	}
	for k, vs := range r.Header {
		signed.Headers[strings.ToLower(k)] = dara.String(strings.Join(vs, ","))
	}
	signed.Headers["host"] = dara.String(r.Host)
	delete(signed.Headers, "authorization")
	want := openapiutil.GetAuthorization(signed, dara.String(signatureAlgorithm), dara.String(payloadHash),
		dara.String(keyID), dara.String(secret))
	if !hmac.Equal([]byte(dara.StringValue(want)), []byte(auth)) {
		return keyID, http.StatusForbidden, "SignatureNotMatch", "the request signature does not match; check the access key secret and the signing method"
	}
	return keyID, 0, "", ""
}

// credentialOf extracts the access key id from
// "ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=...,Signature=...".
func credentialOf(auth string) (string, bool) {
	rest, ok := strings.CutPrefix(auth, signatureAlgorithm+" ")
	if !ok {
		return "", false
	}
	for _, part := range strings.Split(rest, ",") {
		if id, ok := strings.CutPrefix(strings.TrimSpace(part), "Credential="); ok && id != "" {
			return id, true
		}
	}
	return "", false
}

// writeError answers in FC's error shape.
func writeError(w http.ResponseWriter, requestID string, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(fc.HeaderRequestID, requestID)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Code      string `json:"Code"`
		Message   string `json:"Message"`
		RequestID string `json:"RequestId"`
	}{code, message, requestID})
}

// newRequestID makes an id shaped like FC's (a UUID).
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
