package dingtalk_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// fastRetries keeps the retry policy's shape with waits too short to slow
// the tests down.
func fastRetries() retry.Policy {
	return retry.Policy{Base: time.Microsecond, Max: 4 * time.Microsecond}
}

func TestWebhookMessageJSON(t *testing.T) {
	tests := []struct {
		name string
		msg  dingtalk.WebhookMessage
		want string
	}{
		{
			name: "text with a mention",
			msg:  dingtalk.TextMessage("@manager4321 你好", "manager4321"),
			want: `{"msgtype":"text","text":{"content":"@manager4321 你好"},"at":{"atUserIds":["manager4321"],"isAtAll":false}}`,
		},
		{
			name: "text without mention",
			msg:  dingtalk.TextMessage("hi"),
			want: `{"msgtype":"text","text":{"content":"hi"}}`,
		},
		{
			name: "markdown",
			msg:  dingtalk.MarkdownMessage("Answer", "**bold**", "u1", "u2"),
			want: `{"msgtype":"markdown","markdown":{"title":"Answer","text":"**bold**"},"at":{"atUserIds":["u1","u2"],"isAtAll":false}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("JSON =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestRedactWebhook(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://oapi.dingtalk.com/robot/sendBySession?session=abc123", "https://oapi.dingtalk.com/robot/sendBySession?session=REDACTED"},
		{"https://oapi.dingtalk.com/robot/sendBySession?session=abc&x=1&flag", "https://oapi.dingtalk.com/robot/sendBySession?session=REDACTED&x=REDACTED&REDACTED"},
		{"http://user:pw@127.0.0.1:8080/robot/sendBySession?session=abc#frag", "http://127.0.0.1:8080/robot/sendBySession?session=REDACTED"},
		{"https://oapi.dingtalk.com/robot/sendBySession", "https://oapi.dingtalk.com/robot/sendBySession"},
		{"https://oapi.dingtalk.com/a%20b?session=x", "https://oapi.dingtalk.com/a%20b?session=REDACTED"},
		{"http://[::1]:80/x?session=%zz", "http://[::1]:80/x?session=REDACTED"},
		{"::not a url?session=abc", "(invalid URL)"},
	}
	for _, tt := range tests {
		if got := dingtalk.RedactWebhook(tt.in); got != tt.want {
			t.Errorf("RedactWebhook(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSendDelivers(t *testing.T) {
	fake := dingtalktest.NewServer()
	defer fake.Close()
	client := dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: fake.Client(), AllowedHosts: []string{fake.Host()}})
	session := fake.Session("cidSingle")

	msg := dingtalk.TextMessage("@manager4321 42", "manager4321")
	if err := client.Send(t.Context(), fake.WebhookURL(session), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	posts, err := fake.WaitPosts(t.Context(), session, 1)
	if err != nil {
		t.Fatal(err)
	}
	got := posts[0]
	if got.Content() != "@manager4321 42" || got.Message.At == nil || len(got.Message.At.AtUserIDs) != 1 || got.Message.At.AtUserIDs[0] != "manager4321" {
		t.Fatalf("DingTalk received %s", got.Raw)
	}
}

func TestSendFailures(t *testing.T) {
	fake := dingtalktest.NewServer()
	defer fake.Close()
	client := dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: fake.Client(), AllowedHosts: []string{"OAPI.dingtalk.com", fake.Host()}, Retry: fastRetries()})
	session := fake.Session("cidSecret")
	webhook := fake.WebhookURL(session)
	hostPort := strings.TrimPrefix(fake.URL(), "http://")

	tests := []struct {
		name       string
		setup      func()
		url        string
		msg        dingtalk.WebhookMessage
		wantIs     error
		wantCode   int // errcode of the *APIError; 0 when none expected
		retryable  bool
		expired    bool
		wantInText string
	}{
		{
			name:      "rate limited at every attempt",
			setup:     func() { fake.FailNext(dingtalk.DefaultMaxAttempts, dingtalk.ErrcodeTooFast, "send too fast") },
			url:       webhook,
			msg:       dingtalk.TextMessage("hi"),
			wantCode:  dingtalk.ErrcodeTooFast,
			retryable: true,
		},
		{
			name:      "rate limited at every attempt, other code",
			setup:     func() { fake.FailNext(dingtalk.DefaultMaxAttempts, dingtalk.ErrcodeTooFastAlt, "send too fast") },
			url:       webhook,
			msg:       dingtalk.TextMessage("hi"),
			wantCode:  dingtalk.ErrcodeTooFastAlt,
			retryable: true,
		},
		{
			name:     "content rejected",
			setup:    func() { fake.FailNext(1, 430101, "content rejected") },
			url:      webhook,
			msg:      dingtalk.TextMessage("hi"),
			wantCode: 430101,
		},
		{
			name:     "too long",
			url:      webhook,
			msg:      dingtalk.TextMessage(strings.Repeat("字", 7000)),
			wantCode: dingtalk.ErrcodeMessageTooLong,
		},
		{
			name:     "unsupported msgtype",
			url:      webhook,
			msg:      dingtalk.WebhookMessage{MsgType: "empty"},
			wantCode: dingtalk.ErrcodeUnsupportedType,
		},
		{
			name:     "expired session",
			setup:    func() { fake.ExpireSession(session) },
			url:      webhook,
			msg:      dingtalk.TextMessage("hi"),
			wantCode: dingtalk.ErrcodeSessionNotFound,
			expired:  true,
		},
		{
			name:       "host not allowed",
			url:        "https://evil.example.com/robot/sendBySession?session=" + session,
			msg:        dingtalk.TextMessage("hi"),
			wantIs:     dingtalk.ErrWebhookNotAllowed,
			wantInText: "evil.example.com",
		},
		{
			name:       "host allowed only by a look-alike",
			url:        "https://oapi.dingtalk.com.evil.example/robot/sendBySession?session=" + session,
			msg:        dingtalk.TextMessage("hi"),
			wantIs:     dingtalk.ErrWebhookNotAllowed,
			wantInText: "oapi.dingtalk.com.evil.example",
		},
		{
			name:       "plain http on DingTalk's host",
			url:        "http://oapi.dingtalk.com/robot/sendBySession?session=" + session,
			msg:        dingtalk.TextMessage("hi"),
			wantIs:     dingtalk.ErrWebhookNotAllowed,
			wantInText: "not https",
		},
		{
			name:       "another port on DingTalk's host",
			url:        "https://oapi.dingtalk.com:8443/robot/sendBySession?session=" + session,
			msg:        dingtalk.TextMessage("hi"),
			wantIs:     dingtalk.ErrWebhookNotAllowed,
			wantInText: "port 8443",
		},
		{
			name:       "user info before DingTalk's host",
			url:        "https://evil.example@oapi.dingtalk.com/robot/sendBySession?session=" + session,
			msg:        dingtalk.TextMessage("hi"),
			wantIs:     dingtalk.ErrWebhookNotAllowed,
			wantInText: "user info",
		},
		{
			name:   "not http",
			url:    "ftp://" + hostPort + "/robot/sendBySession?session=" + session,
			msg:    dingtalk.TextMessage("hi"),
			wantIs: dingtalk.ErrWebhookNotAllowed,
		},
		{
			name:   "not a URL",
			url:    "http://" + hostPort + "/robot/sendBySession?session=" + session + "\x7f%zz",
			msg:    dingtalk.TextMessage("hi"),
			wantIs: dingtalk.ErrWebhookNotAllowed,
		},
		{
			name:   "not absolute",
			url:    "/robot/sendBySession?session=" + session,
			msg:    dingtalk.TextMessage("hi"),
			wantIs: dingtalk.ErrWebhookNotAllowed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			err := client.Send(t.Context(), tt.url, tt.msg)
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if strings.Contains(err.Error(), session) {
				t.Fatalf("error %q reveals the session", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("Send = %v, want %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantInText) {
				t.Errorf("error %q does not name %q", err, tt.wantInText)
			}
			var apiErr *dingtalk.APIError
			if tt.wantCode == 0 {
				if errors.As(err, &apiErr) {
					t.Fatalf("Send = %v, a refusal by DingTalk; the request should not have been sent", err)
				}
				return
			}
			if !errors.As(err, &apiErr) {
				t.Fatalf("Send = %v, want an *APIError", err)
			}
			if apiErr.Code != tt.wantCode || apiErr.StatusCode != http.StatusOK {
				t.Errorf("APIError = %+v, want errcode %d in an HTTP 200", apiErr, tt.wantCode)
			}
			if apiErr.Retryable() != tt.retryable || apiErr.SessionExpired() != tt.expired {
				t.Errorf("Retryable() = %v, SessionExpired() = %v; want %v, %v", apiErr.Retryable(), apiErr.SessionExpired(), tt.retryable, tt.expired)
			}
		})
	}
}

func TestSendRefusedURLsAreNotRequested(t *testing.T) {
	fake := dingtalktest.NewServer()
	defer fake.Close()
	client := dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: fake.Client()})
	err := client.Send(t.Context(), fake.WebhookURL("s"), dingtalk.TextMessage("hi"))
	if !errors.Is(err, dingtalk.ErrWebhookNotAllowed) {
		t.Fatalf("Send with no allowed host = %v, want ErrWebhookNotAllowed", err)
	}
	if n := len(fake.Posts()); n != 0 {
		t.Fatalf("the fake received %d posts", n)
	}
}

func TestSendTransportErrorsHideTheSession(t *testing.T) {
	const session = "transport-secret-session-value"
	fake := dingtalktest.NewServer()
	client := dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: fake.Client(), AllowedHosts: []string{fake.Host()}})
	webhook := fake.WebhookURL(session)
	fake.Close() // nothing listens any more

	err := client.Send(t.Context(), webhook, dingtalk.TextMessage("hi"))
	if err == nil {
		t.Fatal("Send to a closed server succeeded")
	}
	if strings.Contains(err.Error(), session) {
		t.Fatalf("error %q reveals the session", err)
	}
	if !strings.Contains(err.Error(), "session=REDACTED") {
		t.Errorf("error %q does not say which webhook", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = client.Send(ctx, webhook, dingtalk.TextMessage("hi"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a cancelled context = %v, want context.Canceled", err)
	}
	if strings.Contains(err.Error(), session) {
		t.Fatalf("error %q reveals the session", err)
	}
}

// TestSendOddAnswers covers answers the fake DingTalk never gives but a
// proxy or an outage might.
func TestSendOddAnswers(t *testing.T) {
	const session = "odd-answers-secret-session"
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		wantIs    error
		wantAPI   *dingtalk.APIError
		retryable bool
	}{
		{
			name: "HTTP 500 without JSON",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "upstream failed", http.StatusInternalServerError)
			},
			wantAPI:   &dingtalk.APIError{StatusCode: 500, Message: "Internal Server Error"},
			retryable: true,
		},
		{
			name: "HTTP 429 with an errcode",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusTooManyRequests)
				w.Write([]byte(`{"errcode":130101,"errmsg":"send too fast"}`))
			},
			wantAPI:   &dingtalk.APIError{StatusCode: 429, Code: 130101, Message: "send too fast"},
			retryable: true,
		},
		{
			name: "HTTP 403",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "forbidden", http.StatusForbidden)
			},
			wantAPI: &dingtalk.APIError{StatusCode: 403, Message: "Forbidden"},
		},
		{
			name: "errmsg quoting the session",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`{"errcode":300001,"errmsg":"session ` + session + ` does not exist"}`))
			},
			wantAPI: &dingtalk.APIError{StatusCode: 200, Code: 300001, Message: "session REDACTED does not exist"},
		},
		{
			name: "redirect elsewhere is not followed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://elsewhere.example/steal", http.StatusTemporaryRedirect)
			},
			wantAPI: &dingtalk.APIError{StatusCode: 307, Message: "Temporary Redirect"},
		},
		{
			name: "HTTP 200 without JSON",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("<html>ok</html>"))
			},
			wantIs: dingtalk.ErrUnexpectedResponse,
		},
		{
			name: "HTTP 200 without errcode",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`{"ok":true}`))
			},
			wantIs: dingtalk.ErrUnexpectedResponse,
		},
		{
			name: "endless HTTP 200",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(`{"errcode":0,"errmsg":"`))
				chunk := []byte(strings.Repeat("x", 1<<16))
				for r.Context().Err() == nil {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			},
			wantIs: dingtalk.ErrUnexpectedResponse,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			client := dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: srv.Client(), AllowedHosts: []string{"127.0.0.1"}, Retry: fastRetries()})
			err := client.Send(t.Context(), srv.URL+"/robot/sendBySession?session="+session, dingtalk.TextMessage("hi"))
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if strings.Contains(err.Error(), session) {
				t.Fatalf("error %q reveals the session", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Fatalf("Send = %v, want %v", err, tt.wantIs)
			}
			var apiErr *dingtalk.APIError
			if tt.wantAPI == nil {
				if errors.As(err, &apiErr) {
					t.Fatalf("Send = %v, want no *APIError", err)
				}
				return
			}
			if !errors.As(err, &apiErr) {
				t.Fatalf("Send = %v, want an *APIError", err)
			}
			if *apiErr != *tt.wantAPI {
				t.Errorf("APIError = %+v, want %+v", *apiErr, *tt.wantAPI)
			}
			if apiErr.Retryable() != tt.retryable {
				t.Errorf("Retryable() = %v, want %v", apiErr.Retryable(), tt.retryable)
			}
		})
	}
}

func TestSendPostsJSON(t *testing.T) {
	var gotMethod, gotType string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotMethod, gotType = r.Method, r.Header.Get("Content-Type")
		w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	}))
	defer srv.Close()
	client := dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: srv.Client(), AllowedHosts: []string{"127.0.0.1"}})
	if err := client.Send(t.Context(), srv.URL+"/robot/sendBySession?session=s", dingtalk.TextMessage("hi")); err != nil {
		t.Fatal(err)
	}
	if gotMethod != http.MethodPost || gotType != "application/json" {
		t.Fatalf("request was %s with Content-Type %q, want a JSON POST", gotMethod, gotType)
	}
}
