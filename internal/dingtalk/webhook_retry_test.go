package dingtalk_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// logRecorder is a slog.Handler that keeps every record as text and
// signals each one on a channel.
type logRecorder struct {
	mu      sync.Mutex
	lines   []string
	records chan string
}

func newLogRecorder() *logRecorder { return &logRecorder{records: make(chan string, 64)} }

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	select {
	case l.records <- b.String():
	default:
	}
	return nil
}

func (l *logRecorder) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func TestSendRetriesWhenTooFast(t *testing.T) {
	for _, code := range []int{dingtalk.ErrcodeTooFast, dingtalk.ErrcodeTooFastAlt} {
		t.Run("errcode "+strconv.Itoa(code), func(t *testing.T) {
			fake := dingtalktest.NewServer()
			defer fake.Close()
			logs := newLogRecorder()
			client := dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: fake.Client(), AllowedHosts: []string{fake.Host()}, Retry: fastRetries(), Logger: slog.New(logs)})
			session := fake.Session("cidRetry")

			fake.FailNext(2, code, "send too fast")
			if err := client.Send(t.Context(), fake.WebhookURL(session), dingtalk.TextMessage("答案")); err != nil {
				t.Fatalf("Send = %v, want success on the third attempt", err)
			}
			posts := fake.Posts()
			if len(posts) != 3 || posts[0].Errcode != code || posts[1].Errcode != code || posts[2].Errcode != 0 {
				t.Fatalf("DingTalk saw %+v, want two refused posts and one delivered", posts)
			}
			if posts[2].Content() != "答案" {
				t.Errorf("delivered %q, want 答案", posts[2].Content())
			}
			text := logs.text()
			if got := strings.Count(text, "sending it again"); got != 2 {
				t.Errorf("logged %d retries, want 2:\n%s", got, text)
			}
			if strings.Contains(text, session) {
				t.Errorf("the log reveals the session:\n%s", text)
			}
		})
	}
}

func TestSendGivesUpAfterMaxAttempts(t *testing.T) {
	fake := dingtalktest.NewServer()
	defer fake.Close()
	threeAttempts := fastRetries()
	threeAttempts.Attempts = 3
	client := dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: fake.Client(), AllowedHosts: []string{fake.Host()}, Retry: threeAttempts})
	session := fake.Session("cidGiveUp")

	fake.FailNext(100, dingtalk.ErrcodeTooFast, "send too fast")
	err := client.Send(t.Context(), fake.WebhookURL(session), dingtalk.TextMessage("hi"))
	var apiErr *dingtalk.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != dingtalk.ErrcodeTooFast {
		t.Fatalf("Send = %v, want the last refusal, errcode 130101", err)
	}
	if n := len(fake.Posts()); n != 3 {
		t.Errorf("DingTalk saw %d posts, want 3", n)
	}
}

func TestSendDefaultsToFiveAttempts(t *testing.T) {
	fake := dingtalktest.NewServer()
	defer fake.Close()
	client := dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: fake.Client(), AllowedHosts: []string{fake.Host()}, Retry: fastRetries()})
	fake.FailNext(100, dingtalk.ErrcodeTooFastAlt, "send too fast")
	if err := client.Send(t.Context(), fake.WebhookURL("s"), dingtalk.TextMessage("hi")); err == nil {
		t.Fatal("Send succeeded")
	}
	if n := len(fake.Posts()); n != 5 {
		t.Errorf("DingTalk saw %d posts, want 5", n)
	}
}

func TestSendDoesNotRetryOtherRefusals(t *testing.T) {
	tests := []struct {
		name  string
		setup func(fake *dingtalktest.Server, session string)
		msg   dingtalk.WebhookMessage
		code  int
	}{
		{"expired session", func(f *dingtalktest.Server, s string) { f.ExpireSession(s) }, dingtalk.TextMessage("hi"), dingtalk.ErrcodeSessionNotFound},
		{"content rejected", func(f *dingtalktest.Server, s string) { f.FailNext(1, 430101, "content rejected") }, dingtalk.TextMessage("hi"), 430101},
		{"too long", func(*dingtalktest.Server, string) {}, dingtalk.TextMessage(strings.Repeat("a", 20001)), dingtalk.ErrcodeMessageTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := dingtalktest.NewServer()
			defer fake.Close()
			client := dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: fake.Client(), AllowedHosts: []string{fake.Host()}, Retry: fastRetries()})
			session := fake.Session("cid")
			tt.setup(fake, session)
			err := client.Send(t.Context(), fake.WebhookURL(session), tt.msg)
			var apiErr *dingtalk.APIError
			if !errors.As(err, &apiErr) || apiErr.Code != tt.code {
				t.Fatalf("Send = %v, want errcode %d", err, tt.code)
			}
			if n := len(fake.Posts()); n != 1 {
				t.Errorf("DingTalk saw %d posts, want 1", n)
			}
		})
	}
}

func TestSendRetriesHTTPErrors(t *testing.T) {
	tests := []struct {
		status   int
		attempts int // requests DingTalk sees when it answers status twice, then ok
	}{
		{http.StatusTooManyRequests, 3},
		{http.StatusBadGateway, 3},
		{http.StatusServiceUnavailable, 3},
		{http.StatusBadRequest, 1},
		{http.StatusNotFound, 1},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if requests.Add(1) <= 2 {
					http.Error(w, http.StatusText(tt.status), tt.status)
					return
				}
				w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
			}))
			defer srv.Close()
			client := dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: srv.Client(), AllowedHosts: []string{"127.0.0.1"}, Retry: fastRetries()})
			err := client.Send(t.Context(), srv.URL+"/robot/sendBySession?session=s", dingtalk.TextMessage("hi"))
			if got := int(requests.Load()); got != tt.attempts {
				t.Errorf("%d requests, want %d", got, tt.attempts)
			}
			if (err == nil) != (tt.attempts > 1) {
				t.Errorf("Send = %v", err)
			}
		})
	}
}

func TestSendDoesNotRetryTransportErrors(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		// The connection drops without an answer: the message may or may
		// not have been delivered, so sending it again could double it.
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	client := dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: srv.Client(), AllowedHosts: []string{"127.0.0.1"}, Retry: fastRetries()})
	if err := client.Send(t.Context(), srv.URL+"/robot/sendBySession?session=s", dingtalk.TextMessage("hi")); err == nil {
		t.Fatal("Send succeeded")
	}
	if got := requests.Load(); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
}

func TestSendDoesNotRetryPastTheDeadline(t *testing.T) {
	fake := dingtalktest.NewServer()
	defer fake.Close()
	// The first wait is at least an hour; the deadline is 30 minutes away.
	client := dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: fake.Client(), AllowedHosts: []string{fake.Host()}, Retry: retry.Policy{Base: 2 * time.Hour, Max: 2 * time.Hour}})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()

	fake.FailNext(1, dingtalk.ErrcodeTooFast, "send too fast")
	err := client.Send(ctx, fake.WebhookURL("s"), dingtalk.TextMessage("hi"))
	var apiErr *dingtalk.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != dingtalk.ErrcodeTooFast {
		t.Fatalf("Send = %v, want the refusal at once", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send = %v, want the refusal, not the deadline", err)
	}
	if n := len(fake.Posts()); n != 1 {
		t.Errorf("DingTalk saw %d posts, want 1", n)
	}
}

func TestSendStopsWaitingWhenTheContextEnds(t *testing.T) {
	fake := dingtalktest.NewServer()
	defer fake.Close()
	logs := newLogRecorder()
	client := dingtalk.NewWebhookClient(dingtalk.WebhookConfig{
		HTTPClient: fake.Client(), AllowedHosts: []string{fake.Host()},
		Retry: retry.Policy{Base: time.Hour, Max: time.Hour}, Logger: slog.New(logs),
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	fake.FailNext(1, dingtalk.ErrcodeTooFast, "send too fast")
	done := make(chan error, 1)
	go func() { done <- client.Send(ctx, fake.WebhookURL("s"), dingtalk.TextMessage("hi")) }()
	// The retry is logged just before the wait begins.
	select {
	case <-logs.records:
	case err := <-done:
		t.Fatalf("Send returned %v before waiting to retry", err)
	}
	cancel()
	err := <-done
	var apiErr *dingtalk.APIError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &apiErr) || apiErr.Code != dingtalk.ErrcodeTooFast {
		t.Fatalf("Send = %v, want the refusal and context.Canceled", err)
	}
	if n := len(fake.Posts()); n != 1 {
		t.Errorf("DingTalk saw %d posts, want 1", n)
	}
}
