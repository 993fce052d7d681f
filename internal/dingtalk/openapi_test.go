package dingtalk_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

const (
	appKey    = "dingappkey0000000001"
	appSecret = "app-secret-that-must-not-leak-0123456789"
)

// newOpenAPI starts a fake DingTalk for the app and a client of it, with
// fastRetries; configure changes the client's configuration before it is
// built.
func newOpenAPI(t *testing.T, configure ...func(*dingtalk.OpenAPIConfig)) (*dingtalktest.Server, *dingtalk.OpenAPI) {
	t.Helper()
	fake := dingtalktest.NewServer()
	t.Cleanup(fake.Close)
	fake.SetApp(appKey, appSecret)
	cfg := dingtalk.OpenAPIConfig{HTTPClient: fake.Client(), BaseURL: fake.URL(), AppKey: appKey, AppSecret: appSecret, Retry: fastRetries()}
	for _, c := range configure {
		c(&cfg)
	}
	return fake, dingtalk.NewOpenAPI(cfg)
}

func TestOpenAPISends(t *testing.T) {
	fake, client := newOpenAPI(t)
	ctx := t.Context()

	if err := client.SendToUser(ctx, appKey, []string{"manager4321", "user2"}, dingtalk.TextMessage("你好 \"world\"", "ignored")); err != nil {
		t.Fatalf("SendToUser: %v", err)
	}
	if err := client.SendToGroup(ctx, appKey, "cidGroup0001==", dingtalk.MarkdownMessage("答案", "**粗体**\n- 列表")); err != nil {
		t.Fatalf("SendToGroup: %v", err)
	}
	posts, err := fake.WaitOpenAPIPosts(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []dingtalktest.OpenAPIPost{
		{
			Kind: dingtalktest.OpenAPIOToMessages, RobotCode: appKey, UserIDs: []string{"manager4321", "user2"},
			MsgKey: "sampleText", MsgParam: `{"content":"你好 \"world\""}`, Content: `你好 "world"`, Status: 200,
		},
		{
			Kind: dingtalktest.OpenAPIGroupMessages, RobotCode: appKey, OpenConversationID: "cidGroup0001==",
			MsgKey: "sampleMarkdown", MsgParam: `{"text":"**粗体**\n- 列表","title":"答案"}`, Content: "**粗体**\n- 列表", Title: "答案", Status: 200,
		},
	}
	for i := range want {
		if !equalPosts(posts[i], want[i]) {
			t.Errorf("post %d =\n%+v\nwant\n%+v", i, posts[i], want[i])
		}
	}
	if n := fake.TokenRequests(); n != 1 {
		t.Errorf("%d token requests for two sends, want 1 (the token is cached)", n)
	}
}

func equalPosts(a, b dingtalktest.OpenAPIPost) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestOpenAPITokenIsRenewedBeforeItExpires(t *testing.T) {
	tests := []struct {
		elapsed time.Duration
		want    int // token requests after a second send
	}{
		{time.Hour, 1},
		{dingtalktest.TokenLifetime - 6*time.Minute, 1},
		{dingtalktest.TokenLifetime - 4*time.Minute, 2},
		{dingtalktest.TokenLifetime + time.Hour, 2},
	}
	for _, tt := range tests {
		t.Run(tt.elapsed.String(), func(t *testing.T) {
			var mu sync.Mutex
			now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			clock := func() time.Time {
				mu.Lock()
				defer mu.Unlock()
				return now
			}
			fake, client := newOpenAPI(t, func(c *dingtalk.OpenAPIConfig) { c.Now = clock })
			send := func() {
				if err := client.SendToUser(t.Context(), appKey, []string{"u1"}, dingtalk.TextMessage("hi")); err != nil {
					t.Fatal(err)
				}
			}
			send()
			mu.Lock()
			now = now.Add(tt.elapsed)
			mu.Unlock()
			send()
			if got := fake.TokenRequests(); got != tt.want {
				t.Errorf("%d token requests, want %d", got, tt.want)
			}
		})
	}
}

func TestOpenAPIConcurrentCallersShareOneToken(t *testing.T) {
	fake, client := newOpenAPI(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- client.SendToGroup(t.Context(), appKey, "cid", dingtalk.TextMessage("hi"))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := fake.TokenRequests(); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
	if n := len(fake.OpenAPIPosts()); n != 20 {
		t.Errorf("%d sends, want 20", n)
	}
}

func TestOpenAPIReplacesARefusedToken(t *testing.T) {
	fake, client := newOpenAPI(t)
	if err := client.SendToUser(t.Context(), appKey, []string{"u1"}, dingtalk.TextMessage("one")); err != nil {
		t.Fatal(err)
	}
	fake.ExpireTokens()
	if err := client.SendToUser(t.Context(), appKey, []string{"u1"}, dingtalk.TextMessage("two")); err != nil {
		t.Fatalf("SendToUser after the token expired: %v", err)
	}
	posts := fake.OpenAPIPosts()
	if len(posts) != 3 || posts[1].Code != dingtalk.CodeInvalidAuthentication || posts[2].Status != 200 || posts[2].Content != "two" {
		t.Fatalf("sends %+v, want one delivered, one refused for its token, one delivered", posts)
	}
	if n := fake.TokenRequests(); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}

func TestOpenAPIReplacesATokenOnlyOnce(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			fake, client := newOpenAPI(t)
			code := dingtalk.CodeInvalidAuthentication
			if status != http.StatusBadRequest {
				code = "Unauthorized"
			}
			fake.FailOpenAPINext(10, status, code)
			err := client.SendToUser(t.Context(), appKey, []string{"u1"}, dingtalk.TextMessage("hi"))
			var apiErr *dingtalk.OpenAPIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != status || apiErr.Code != code || !apiErr.TokenRejected() {
				t.Fatalf("SendToUser = %v, want the token refusal", err)
			}
			if n := len(fake.OpenAPIPosts()); n != 2 {
				t.Errorf("%d sends, want 2: the first, and one with a new token", n)
			}
			if n := fake.TokenRequests(); n != 2 {
				t.Errorf("%d token requests, want 2", n)
			}
		})
	}
}

func TestOpenAPIWrongSecret(t *testing.T) {
	fake := dingtalktest.NewServer()
	defer fake.Close()
	fake.SetApp(appKey, "the-right-secret")
	logs := newLogRecorder()
	client := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: fake.Client(), BaseURL: fake.URL(), AppKey: appKey, AppSecret: appSecret, Retry: fastRetries(), Logger: slog.New(logs)})

	err := client.SendToGroup(t.Context(), appKey, "cid", dingtalk.TextMessage("hi"))
	var apiErr *dingtalk.OpenAPIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Code != dingtalk.CodeInvalidClient {
		t.Fatalf("SendToGroup = %v, want HTTP 400 invalidClientIdOrSecret", err)
	}
	if apiErr.Retryable() || apiErr.TokenRejected() {
		t.Errorf("Retryable() = %v, TokenRejected() = %v; want neither", apiErr.Retryable(), apiErr.TokenRejected())
	}
	if apiErr.RequestID == "" || !strings.Contains(err.Error(), apiErr.RequestID) {
		t.Errorf("error %q does not carry DingTalk's requestid", err)
	}
	if strings.Contains(err.Error(), appSecret) || strings.Contains(logs.text(), appSecret) {
		t.Errorf("the app secret leaks: error %q, log %q", err, logs.text())
	}
	if n := fake.TokenRequests(); n != 1 {
		t.Errorf("%d token requests, want 1", n)
	}
	if n := len(fake.OpenAPIPosts()); n != 0 {
		t.Errorf("%d sends without a token, want none", n)
	}
}

func TestOpenAPIRetries(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		code      string
		wantSends int
		wantErr   bool
	}{
		{"server error", http.StatusServiceUnavailable, "ServiceUnavailable", 3, false},
		{"HTTP 429", http.StatusTooManyRequests, "Throttling", 3, false},
		{"per-second limit", http.StatusForbidden, "Forbidden.AccessDenied.QpsLimitForApi", 3, false},
		{"per-second limit of the app", http.StatusForbidden, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", 3, false},
		{"bad parameter", http.StatusBadRequest, "InvalidParameter", 1, true},
		{"not found", http.StatusNotFound, "resource.not.found", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, client := newOpenAPI(t)
			fake.FailOpenAPINext(2, tt.status, tt.code)
			err := client.SendToUser(t.Context(), appKey, []string{"u1"}, dingtalk.TextMessage("hi"))
			if (err != nil) != tt.wantErr {
				t.Fatalf("SendToUser = %v", err)
			}
			var apiErr *dingtalk.OpenAPIError
			if tt.wantErr && (!errors.As(err, &apiErr) || apiErr.StatusCode != tt.status || apiErr.Code != tt.code) {
				t.Errorf("SendToUser = %v, want HTTP %d %s", err, tt.status, tt.code)
			}
			if n := len(fake.OpenAPIPosts()); n != tt.wantSends {
				t.Errorf("%d sends, want %d", n, tt.wantSends)
			}
			if n := fake.TokenRequests(); n != 1 {
				t.Errorf("%d token requests, want 1: the token was not refused", n)
			}
		})
	}
}

func TestOpenAPIGivesUpAfterMaxAttempts(t *testing.T) {
	fake, client := newOpenAPI(t, func(c *dingtalk.OpenAPIConfig) { c.Retry.Attempts = 4 })
	fake.FailOpenAPINext(100, http.StatusBadGateway, "BadGateway")
	err := client.SendToGroup(t.Context(), appKey, "cid", dingtalk.TextMessage("hi"))
	var apiErr *dingtalk.OpenAPIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadGateway || !apiErr.Retryable() {
		t.Fatalf("SendToGroup = %v, want the last HTTP 502", err)
	}
	if n := len(fake.OpenAPIPosts()); n != 4 {
		t.Errorf("%d sends, want 4", n)
	}
}

func TestOpenAPIRefusesBadRequestsWithoutCalling(t *testing.T) {
	fake, client := newOpenAPI(t)
	ctx := t.Context()
	tooMany := make([]string, dingtalk.MaxUsersPerSend+1)
	for i := range tooMany {
		tooMany[i] = "u" + strings.Repeat("x", i)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"no robot code", func() error { return client.SendToUser(ctx, "", []string{"u1"}, dingtalk.TextMessage("hi")) }},
		{"no user", func() error { return client.SendToUser(ctx, appKey, nil, dingtalk.TextMessage("hi")) }},
		{"an empty user id", func() error { return client.SendToUser(ctx, appKey, []string{"u1", ""}, dingtalk.TextMessage("hi")) }},
		{"too many users", func() error { return client.SendToUser(ctx, appKey, tooMany, dingtalk.TextMessage("hi")) }},
		{"no conversation", func() error { return client.SendToGroup(ctx, appKey, "", dingtalk.TextMessage("hi")) }},
		{"no robot code for a group", func() error { return client.SendToGroup(ctx, "", "cid", dingtalk.TextMessage("hi")) }},
		{"a link message", func() error {
			return client.SendToGroup(ctx, appKey, "cid", dingtalk.WebhookMessage{MsgType: "link"})
		}},
		{"a text message without its text", func() error {
			return client.SendToGroup(ctx, appKey, "cid", dingtalk.WebhookMessage{MsgType: "text"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, dingtalk.ErrInvalidRequest) {
				t.Fatalf("error %v, want ErrInvalidRequest", err)
			}
		})
	}
	if fake.TokenRequests() != 0 || len(fake.OpenAPIPosts()) != 0 {
		t.Errorf("%d token requests and %d sends, want none", fake.TokenRequests(), len(fake.OpenAPIPosts()))
	}
}

// TestOpenAPIKeepsSecretsOutOfErrorsAndLogs runs against a DingTalk that
// quotes the secret and the token back in its error messages.
func TestOpenAPIKeepsSecretsOutOfErrorsAndLogs(t *testing.T) {
	const token = "access-token-that-must-not-leak-987654321"
	var sends atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case dingtalk.AccessTokenPath:
			if body["appSecret"] != appSecret {
				t.Errorf("token request with appSecret %v", body["appSecret"])
			}
			json.NewEncoder(w).Encode(map[string]any{"accessToken": token, "expireIn": 7200})
		default:
			sends.Add(1)
			if got := r.Header.Get(dingtalk.AccessTokenHeader); got != token {
				t.Errorf("send with token %q", got)
			}
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{
				"code":      "Unauthorized",
				"message":   "token " + token + " of the app with secret " + appSecret + " is refused",
				"requestid": "REQ-1",
			})
		}
	}))
	defer srv.Close()
	logs := newLogRecorder()
	client := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: srv.Client(), BaseURL: srv.URL + "/", AppKey: appKey, AppSecret: appSecret, Retry: fastRetries(), Logger: slog.New(logs)})

	err := client.SendToGroup(t.Context(), appKey, "cid", dingtalk.TextMessage("hi"))
	var apiErr *dingtalk.OpenAPIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		t.Fatalf("SendToGroup = %v, want HTTP 401", err)
	}
	for what, text := range map[string]string{"error": err.Error(), "log": logs.text()} {
		if strings.Contains(text, token) || strings.Contains(text, appSecret) {
			t.Errorf("the %s reveals a secret: %q", what, text)
		}
	}
	if !strings.Contains(err.Error(), "token REDACTED of the app with secret REDACTED") {
		t.Errorf("error %q lost DingTalk's message", err)
	}
	if n := sends.Load(); n != 2 {
		t.Errorf("%d sends, want 2 (one with a new token)", n)
	}
}

func TestOpenAPIThrottledAndInvalidUsers(t *testing.T) {
	var mu sync.Mutex
	var userIDs [][]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == dingtalk.AccessTokenPath {
			w.Write([]byte(`{"accessToken":"t","expireIn":7200}`))
			return
		}
		var body struct {
			UserIDs []string `json:"userIds"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		userIDs = append(userIDs, body.UserIDs)
		first := len(userIDs) == 1
		mu.Unlock()
		answer := map[string]any{"processQueryKey": "k", "invalidStaffIdList": []string{}, "flowControlledStaffIdList": []string{}}
		if first {
			// "stranger" was not addressed: an answer naming it is ignored.
			answer["invalidStaffIdList"] = []string{"gone"}
			answer["flowControlledStaffIdList"] = []string{"busy", "stranger"}
		}
		json.NewEncoder(w).Encode(answer)
	}))
	defer srv.Close()
	client := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: srv.Client(), BaseURL: srv.URL, AppKey: appKey, AppSecret: appSecret, Retry: fastRetries()})

	err := client.SendToUser(t.Context(), appKey, []string{"ok", "busy", "gone"}, dingtalk.TextMessage("hi"))
	var undelivered *dingtalk.UndeliveredError
	if !errors.As(err, &undelivered) || strings.Join(undelivered.InvalidUserIDs, ",") != "gone" || len(undelivered.FlowControlledUserIDs) != 0 {
		t.Fatalf("SendToUser = %v, want the invalid user reported", err)
	}
	if undelivered.Retryable() {
		t.Error("an invalid user is retryable")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(userIDs) != 2 || strings.Join(userIDs[1], ",") != "busy" {
		t.Errorf("sends addressed %q, want everyone, then the throttled user alone", userIDs)
	}
}

func TestOpenAPIDefaultBaseURL(t *testing.T) {
	var got string
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r.URL.String()
		return nil, errors.New("no network in tests")
	})}
	client := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: hc, AppKey: appKey, AppSecret: appSecret, Retry: retry.Policy{Attempts: 1}})
	err := client.SendToGroup(t.Context(), appKey, "cid", dingtalk.TextMessage("hi"))
	if err == nil || strings.Contains(err.Error(), appSecret) {
		t.Fatalf("SendToGroup = %v", err)
	}
	if got != "https://api.dingtalk.com/v1.0/oauth2/accessToken" {
		t.Errorf("requested %q", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestOpenAPIRetriesTheTokenRequest(t *testing.T) {
	var tokenRequests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == dingtalk.AccessTokenPath {
			if tokenRequests.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte(`{"code":"ServiceUnavailable","message":"busy","requestid":"R"}`))
				return
			}
			w.Write([]byte(`{"accessToken":"t","expireIn":7200}`))
			return
		}
		w.Write([]byte(`{"processQueryKey":"k"}`))
	}))
	defer srv.Close()
	client := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: srv.Client(), BaseURL: srv.URL, AppKey: appKey, AppSecret: appSecret, Retry: fastRetries()})
	if err := client.SendToGroup(t.Context(), appKey, "cid", dingtalk.TextMessage("hi")); err != nil {
		t.Fatalf("SendToGroup = %v, want success once the token request is retried", err)
	}
	if n := tokenRequests.Load(); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}

func TestOpenAPIPrintsNoSecret(t *testing.T) {
	_, client := newOpenAPI(t)
	if err := client.SendToGroup(t.Context(), appKey, "cid", dingtalk.TextMessage("hi")); err != nil {
		t.Fatal(err)
	}
	logs := newLogRecorder()
	slog.New(logs).Info("client", "openapi", client)
	for _, text := range []string{fmt.Sprintf("%v %+v %#v %s", client, client, client, client), logs.text()} {
		if strings.Contains(text, appSecret) || !strings.Contains(text, appKey) {
			t.Errorf("%q shows the secret or not the app key", text)
		}
	}
}
