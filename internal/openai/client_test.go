package openai

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

const testKey = "sk-test-0123456789abcdefXYZ"

// safety is a generous limit on calls that should end long before it; tests
// never assert on how long anything took.
const safety = 30 * time.Second

// newTestClient returns a client of srv that retries without noticeable
// waits, so that tests count attempts instead of sleeping.
func newTestClient(t *testing.T, baseURL string, edit func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		BaseURL: baseURL, APIKey: testKey, Model: "test-model",
		Retry: retry.Policy{Base: time.Millisecond, Max: 5 * time.Millisecond, Attempts: 6, MinAttempt: time.Second},
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newFake(t *testing.T, r openaitest.Responder) *openaitest.Server {
	t.Helper()
	srv := openaitest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// newBubbleFake starts a fake in memory, for a test in a synctest bubble,
// and a client of it.
func newBubbleFake(t *testing.T, r openaitest.Responder) (*openaitest.Server, *Client) {
	t.Helper()
	srv := openaitest.NewInMemoryServer(r)
	t.Cleanup(srv.Close)
	return srv, newTestClient(t, srv.URL(), func(cfg *Config) { cfg.HTTPClient = srv.Client() })
}

func safeCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	t.Cleanup(cancel)
	return ctx
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	return e
}

func TestCompleteSendsSystemPromptHistoryAndQuestionInOrder(t *testing.T) {
	srv := newFake(t, openaitest.Echo("echo: "))
	c := newTestClient(t, srv.URL(), func(cfg *Config) {
		cfg.Temperature = 0.3
		cfg.Model = "qwen-plus"
	})
	history := []chat.Turn{
		{Question: "第一个问题", Answer: "第一个回答"},
		{Question: "second question", Answer: "second answer"},
	}

	got, err := c.Complete(safeCtx(t), chat.Prompt{System: "你是一个乐于助人的助手。", History: history, Question: "第三个问题"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != "echo: 第三个问题" {
		t.Errorf("answer = %q", got)
	}

	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	want := []openaitest.Message{
		{Role: "system", Content: "你是一个乐于助人的助手。"},
		{Role: "user", Content: "第一个问题"},
		{Role: "assistant", Content: "第一个回答"},
		{Role: "user", Content: "second question"},
		{Role: "assistant", Content: "second answer"},
		{Role: "user", Content: "第三个问题"},
	}
	if !reflect.DeepEqual(reqs[0].Messages, want) {
		t.Errorf("messages = %+v\nwant %+v", reqs[0].Messages, want)
	}
	if reqs[0].Model != "qwen-plus" {
		t.Errorf("model = %q", reqs[0].Model)
	}
	if reqs[0].Temperature == nil || *reqs[0].Temperature != 0.3 {
		t.Errorf("temperature = %v, want 0.3", reqs[0].Temperature)
	}
	if reqs[0].Stream {
		t.Error("Complete asked for a stream")
	}
	if reqs[0].Authorization != "Bearer "+testKey {
		t.Errorf("Authorization = %q", reqs[0].Authorization)
	}
}

func TestCompleteWithoutSystemPromptOrHistory(t *testing.T) {
	srv := newFake(t, openaitest.Answer("\n\n  答案  \n"))
	c := newTestClient(t, srv.URL(), nil)

	got, err := c.Complete(safeCtx(t), chat.Prompt{Question: "问题"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Usage.Prompt == 0 || got.Usage.Completion == 0 {
		t.Errorf("usage %+v; want the answer's", got.Usage)
	}
	if got.Text != "答案" {
		t.Errorf("answer = %q, want it trimmed", got)
	}
	req := srv.Requests()[0]
	if want := []openaitest.Message{{Role: "user", Content: "问题"}}; !reflect.DeepEqual(req.Messages, want) {
		t.Errorf("messages = %+v, want %+v", req.Messages, want)
	}
	if req.Temperature != nil {
		t.Errorf("temperature %v sent, want the provider's default", *req.Temperature)
	}
}

func TestCompleteSkipsHalfTurns(t *testing.T) {
	srv := newFake(t, openaitest.Answer("ok"))
	c := newTestClient(t, srv.URL(), nil)
	history := []chat.Turn{{Question: "q1", Answer: ""}, {Question: " ", Answer: "a2"}, {Question: "q3", Answer: "a3"}}

	if _, err := c.Complete(safeCtx(t), chat.Prompt{History: history, Question: "q4"}); err != nil {
		t.Fatal(err)
	}
	want := []openaitest.Message{{Role: "user", Content: "q3"}, {Role: "assistant", Content: "a3"}, {Role: "user", Content: "q4"}}
	if got := srv.Requests()[0].Messages; !reflect.DeepEqual(got, want) {
		t.Errorf("messages = %+v, want %+v", got, want)
	}
}

func TestCompleteAcceptsBaseURLInEveryForm(t *testing.T) {
	srv := newFake(t, openaitest.Answer("ok"))
	root := strings.TrimSuffix(srv.URL(), "/v1")
	for _, base := range []string{root, root + "/", srv.URL(), srv.URL() + "/chat/completions"} {
		c := newTestClient(t, base, nil)
		if _, err := c.Complete(safeCtx(t), chat.Prompt{Question: "hi"}); err != nil {
			t.Errorf("base %q: %v", base, err)
		}
	}
}

func TestCompleteUnauthorizedNeverShowsTheKey(t *testing.T) {
	const wrongKey = "sk-wrong-key-4242424242abcd"
	tests := []struct {
		name    string
		respond openaitest.Responder
		wantMsg string
	}{
		// The fake, like OpenAI, echoes the wrong key masked.
		{"masked echo", openaitest.Answer("unused"), "Incorrect API key provided"},
		{"whole echo", openaitest.Fixed(openaitest.Response{Status: 403, ErrorMessage: "API key " + wrongKey + " is not allowed to use this model"}), "is not allowed"},
		{"truncated echo", openaitest.Fixed(openaitest.Response{Status: 401, ErrorMessage: "invalid key: " + wrongKey[:16] + "..."}), "invalid key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, tt.respond)
			srv.RequireAPIKey("sk-the-right-key")
			if tt.name != "masked echo" {
				srv.RequireAPIKey("")
			}
			c := newTestClient(t, srv.URL(), func(cfg *Config) { cfg.APIKey = wrongKey })

			_, err := c.Complete(safeCtx(t), chat.Prompt{Question: "hi"})
			if !errors.Is(err, chat.ErrModelUnauthorized) {
				t.Fatalf("error = %v, want chat.ErrModelUnauthorized", err)
			}
			e := asError(t, err)
			if !strings.Contains(e.Message, tt.wantMsg) {
				t.Errorf("message %q does not carry the provider's %q", e.Message, tt.wantMsg)
			}
			for _, leak := range []string{wrongKey, wrongKey[:12], "abcd"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q shows the key (%q)", err, leak)
				}
			}
			if n := len(srv.Requests()); n != 1 {
				t.Errorf("%d requests, want 1: a bad key is not retried", n)
			}
		})
	}
}

func TestCompleteUnknownModelIsRejectedWithTheProvidersMessage(t *testing.T) {
	const msg = "The model `xyz` does not exist or you do not have access to it."
	srv := newFake(t, openaitest.Fixed(openaitest.Response{Status: 404, ErrorMessage: msg}))
	c := newTestClient(t, srv.URL(), func(cfg *Config) { cfg.Model = "xyz" })

	_, err := c.Complete(safeCtx(t), chat.Prompt{Question: "hi"})
	if !errors.Is(err, chat.ErrModelRejected) {
		t.Fatalf("error = %v, want chat.ErrModelRejected", err)
	}
	e := asError(t, err)
	if e.StatusCode != 404 || e.Message != msg {
		t.Errorf("got status %d message %q, want 404 %q", e.StatusCode, e.Message, msg)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestCompleteRefusedBeforeSendingIsRejected(t *testing.T) {
	// go-openai refuses a temperature that reasoning models do not take.
	srv := newFake(t, openaitest.Answer("unused"))
	c := newTestClient(t, srv.URL(), func(cfg *Config) { cfg.Model = "o3-mini"; cfg.Temperature = 0.5 })

	_, err := c.Complete(safeCtx(t), chat.Prompt{Question: "hi"})
	if !errors.Is(err, chat.ErrModelRejected) {
		t.Fatalf("error = %v, want chat.ErrModelRejected", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestCompleteRetries(t *testing.T) {
	rateLimited := openaitest.Response{Status: 429, ErrorMessage: "Rate limit reached for requests"}
	tests := []struct {
		name         string
		responses    []openaitest.Response
		wantRequests int
	}{
		{"429 then success", []openaitest.Response{rateLimited, {Content: "ok"}}, 2},
		{"429 with Retry-After then success", []openaitest.Response{{Status: 429, RetryAfter: "1"}, {Content: "ok"}}, 2},
		{"500, 502, 503 then success", []openaitest.Response{{Status: 500}, {Status: 502}, {Status: 503}, {Content: "ok"}}, 4},
		{"dropped connection then success", []openaitest.Response{{DropConnection: true}, {Content: "ok"}}, 2},
		{"408 then success", []openaitest.Response{{Status: 408}, {Content: "ok"}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, openaitest.Sequence(tt.responses...))
			c := newTestClient(t, srv.URL(), nil)

			got, err := c.Complete(safeCtx(t), chat.Prompt{Question: "hi"})
			if err != nil {
				t.Fatal(err)
			}
			if got.Text != "ok" {
				t.Errorf("answer = %q", got)
			}
			if n := len(srv.Requests()); n != tt.wantRequests {
				t.Errorf("%d requests, want %d", n, tt.wantRequests)
			}
		})
	}
}

func TestCompleteGivesUp(t *testing.T) {
	tests := []struct {
		name         string
		response     openaitest.Response
		want         error
		wantStatus   int
		wantRequests int // 0: more than one
	}{
		{"429 every time", openaitest.Response{Status: 429}, chat.ErrModelRateLimited, 429, 6},
		{"quota exhausted is not retried", openaitest.Response{Status: 429, ErrorCode: "insufficient_quota", ErrorMessage: "You exceeded your current quota, please check your plan and billing details."}, chat.ErrModelRateLimited, 429, 1},
		{"Retry-After beyond the deadline", openaitest.Response{Status: 429, RetryAfter: "3600"}, chat.ErrModelRateLimited, 429, 1},
		{"Retry-After as a far date", openaitest.Response{Status: 503, RetryAfter: "Wed, 21 Oct 2099 07:28:00 GMT"}, chat.ErrModelUnavailable, 503, 1},
		{"500 every time", openaitest.Response{Status: 500}, chat.ErrModelUnavailable, 500, 6},
		{"dropped every time", openaitest.Response{DropConnection: true}, chat.ErrModelUnavailable, 0, 6},
		{"400 is not retried", openaitest.Response{Status: 400, ErrorMessage: "Invalid value for 'temperature'."}, chat.ErrModelRejected, 400, 1},
		{"a context too long", openaitest.Response{Status: 400, ErrorCode: "context_length_exceeded", ErrorMessage: "This model's maximum context length is 8192 tokens."}, chat.ErrContextTooLong, 400, 1},
		{"DashScope's context too long", openaitest.Response{Status: 400, ErrorCode: "invalid_parameter_error", ErrorMessage: "Range of input length should be [1, 30720]"}, chat.ErrContextTooLong, 400, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, openaitest.Fixed(tt.response))
			c := newTestClient(t, srv.URL(), nil)

			_, err := c.Complete(safeCtx(t), chat.Prompt{Question: "hi"})
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			e := asError(t, err)
			if e.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", e.StatusCode, tt.wantStatus)
			}
			if tt.response.ErrorMessage != "" && e.Message != tt.response.ErrorMessage {
				t.Errorf("message = %q, want the provider's %q", e.Message, tt.response.ErrorMessage)
			}
			if n := len(srv.Requests()); n != tt.wantRequests {
				t.Errorf("%d requests, want %d", n, tt.wantRequests)
			}
		})
	}
}

func TestCompleteRetriesUntilTheDeadlineLeavesNoRoom(t *testing.T) {
	srv := newFake(t, openaitest.Fixed(openaitest.Response{Status: 503, ErrorMessage: "The engine is currently overloaded"}))
	c := newTestClient(t, srv.URL(), func(cfg *Config) {
		cfg.Retry = retry.Policy{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond, Attempts: 1 << 20, MinAttempt: 500 * time.Millisecond}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	_, err := c.Complete(ctx, chat.Prompt{Question: "hi"})
	if !errors.Is(err, chat.ErrModelUnavailable) {
		t.Fatalf("error = %v, want chat.ErrModelUnavailable: the last failure, not a timeout", err)
	}
	if e := asError(t, err); e.Message != "The engine is currently overloaded" {
		t.Errorf("message = %q", e.Message)
	}
	if n := len(srv.Requests()); n < 2 {
		t.Errorf("%d requests, want retries", n)
	}
	if ctx.Err() != nil {
		t.Error("gave up only after the deadline had passed")
	}
}

func TestCompleteTimesOutAndTheServerSeesTheClientGo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, c := newBubbleFake(t, openaitest.Fixed(openaitest.Response{Content: "too late", Delay: time.Hour}))
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()

		_, err := c.Complete(ctx, chat.Prompt{Question: "hi"})
		if !errors.Is(err, chat.ErrModelTimeout) {
			t.Fatalf("error = %v, want chat.ErrModelTimeout", err)
		}
		synctest.Wait() // the server sees the client go
		if n := srv.Abandoned(); n != 1 {
			t.Errorf("the server saw %d clients go, want 1", n)
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

func TestCompleteHTTPClientTimeoutIsATimeout(t *testing.T) {
	srv := newFake(t, openaitest.Fixed(openaitest.Response{Content: "too late", Delay: time.Hour}))
	c := newTestClient(t, srv.URL(), func(cfg *Config) { cfg.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond} })

	_, err := c.Complete(safeCtx(t), chat.Prompt{Question: "hi"})
	if !errors.Is(err, chat.ErrModelTimeout) {
		t.Fatalf("error = %v, want chat.ErrModelTimeout", err)
	}
}

func TestCompleteCancelledIsNotATimeout(t *testing.T) {
	called := make(chan struct{}, 1)
	srv := newFake(t, func(context.Context, openaitest.Request) openaitest.Response {
		called <- struct{}{}
		return openaitest.Response{Content: "too late", Delay: time.Hour}
	})
	c := newTestClient(t, srv.URL(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	go func() {
		<-called
		cancel()
	}()

	_, err := c.Complete(ctx, chat.Prompt{Question: "hi"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	var e *Error
	if errors.As(err, &e) {
		t.Errorf("cancellation reported as %v", e)
	}
}

func TestCompleteCancelledDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, c := newBubbleFake(t, openaitest.Fixed(openaitest.Response{Status: 503, RetryAfter: "20"}))
		ctx, cancel := context.WithTimeout(context.Background(), safety)
		defer cancel()
		errc := make(chan error, 1)
		go func() {
			_, err := c.Complete(ctx, chat.Prompt{Question: "hi"})
			errc <- err
		}()
		synctest.Wait() // the client waits the 20 s the server asked for
		if n := len(srv.Requests()); n != 1 {
			t.Fatalf("%d requests before the backoff, want 1", n)
		}
		cancel()

		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

func TestCompleteConnectionRefusedIsUnavailable(t *testing.T) {
	srv := openaitest.NewServer(openaitest.Answer("unused"))
	base := srv.URL()
	srv.Close()
	c := newTestClient(t, base, nil)

	_, err := c.Complete(safeCtx(t), chat.Prompt{Question: "hi"})
	if !errors.Is(err, chat.ErrModelUnavailable) {
		t.Fatalf("error = %v, want chat.ErrModelUnavailable", err)
	}
	if strings.Contains(err.Error(), "/chat/completions") {
		t.Errorf("error %q repeats the URL instead of the cause", err)
	}
}

func TestCompleteEmptyAnswer(t *testing.T) {
	srv := newFake(t, openaitest.Fixed(openaitest.Response{Content: " \n ", FinishReason: "content_filter"}))
	c := newTestClient(t, srv.URL(), nil)

	_, err := c.Complete(safeCtx(t), chat.Prompt{Question: "hi"})
	if !errors.Is(err, chat.ErrModelEmptyAnswer) {
		t.Fatalf("error = %v, want chat.ErrModelEmptyAnswer", err)
	}
	if e := asError(t, err); !strings.Contains(e.Message, "content_filter") {
		t.Errorf("message %q does not say why", e.Message)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestCompleteOddEndpoints covers answers that the fake, being faithful to
// OpenAI, never gives, but gateways and other providers do.
func TestCompleteOddEndpoints(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        error
		wantMsg     string
	}{
		{"no choices", 200, "application/json", `{"id":"x","object":"chat.completion","choices":[]}`, chat.ErrModelEmptyAnswer, "no choices"},
		{"HTML gateway error", 502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>", chat.ErrModelUnavailable, "Bad Gateway"},
		{"error as a plain string", 404, "application/json", `{"error":"model 'llama9' not found, try pulling it first"}`, chat.ErrModelRejected, "model 'llama9' not found"},
		{"plain text error", 400, "text/plain", "context length exceeded\n", chat.ErrModelRejected, "context length exceeded"},
		{"HTML with 200", 200, "text/html", "<html>login page</html>", chat.ErrModelUnavailable, "check the base URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requests := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests++
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL, nil)

			_, err := c.Complete(safeCtx(t), chat.Prompt{Question: "hi"})
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if e := asError(t, err); !strings.Contains(e.Message, tt.wantMsg) {
				t.Errorf("message = %q, want it to contain %q", e.Message, tt.wantMsg)
			}
			if requests < 1 {
				t.Error("no request reached the server")
			}
		})
	}
}

func TestStreamDeliversGrowingText(t *testing.T) {
	const answer = "你好！这是一个流式的回答，text arrives piece by piece."
	srv := newFake(t, openaitest.Fixed(openaitest.Response{Content: "\n\n" + answer + "\n"}))
	c := newTestClient(t, srv.URL(), nil)

	var seen []string
	got, err := c.Stream(safeCtx(t), chat.Prompt{System: "sys", History: []chat.Turn{{Question: "q1", Answer: "a1"}}, Question: "q2"}, func(soFar string) error {
		seen = append(seen, soFar)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != answer {
		t.Errorf("answer = %q, want %q", got, answer)
	}
	if len(seen) < 3 {
		t.Fatalf("onDelta called %d times, want one per chunk", len(seen))
	}
	// The blank space the model starts with is heard (the model is at
	// work) but not shown.
	for len(seen) > 0 && seen[0] == "" {
		seen = seen[1:]
	}
	for i := 1; i < len(seen); i++ {
		if !strings.HasPrefix(seen[i], seen[i-1]) || len(seen[i]) <= len(seen[i-1]) {
			t.Errorf("delta %d %q does not grow %q", i, seen[i], seen[i-1])
		}
	}
	if seen[0] == "" || strings.TrimSpace(seen[0]) != strings.TrimRight(seen[0], " ") || strings.HasPrefix(seen[0], "\n") {
		t.Errorf("first delta %q starts with blank space", seen[0])
	}
	if strings.TrimSpace(seen[len(seen)-1]) != answer {
		t.Errorf("last delta %q, want the whole answer", seen[len(seen)-1])
	}
	req := srv.Requests()[0]
	if !req.Stream || !req.IncludeUsage {
		t.Errorf("request asked for a stream %v, with its usage %v; want both", req.Stream, req.IncludeUsage)
	}
	if got.Usage.Prompt == 0 || got.Usage.Completion == 0 {
		t.Errorf("usage %+v; want the stream's usage chunk", got.Usage)
	}
	if want := []openaitest.Message{{Role: "system", Content: "sys"}, {Role: "user", Content: "q1"}, {Role: "assistant", Content: "a1"}, {Role: "user", Content: "q2"}}; !reflect.DeepEqual(req.Messages, want) {
		t.Errorf("messages = %+v, want %+v", req.Messages, want)
	}
}

func TestStreamReasoningIsHeardButNotShown(t *testing.T) {
	srv := newFake(t, openaitest.Fixed(openaitest.Response{Reasoning: []string{"嗯，", "让我想想。"}, Content: "答案"}))
	c := newTestClient(t, srv.URL(), nil)
	var seen []string
	got, err := c.Stream(safeCtx(t), chat.Prompt{Question: "q"}, func(soFar string) error {
		seen = append(seen, soFar)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != "答案" {
		t.Errorf("answer %q: reasoning is not the answer", got.Text)
	}
	if len(seen) < 3 || seen[0] != "" || seen[1] != "" || seen[len(seen)-1] != "答案" {
		t.Errorf("onDelta saw %q; want a call with no text for each piece of reasoning, then the answer", seen)
	}
}

func TestStreamRetriesBeforeTheFirstDelta(t *testing.T) {
	srv := newFake(t, openaitest.Sequence(
		openaitest.Response{Status: 429},
		openaitest.Response{DropConnection: true},
		openaitest.Response{Chunks: []string{"一", "二", "三"}},
	))
	c := newTestClient(t, srv.URL(), nil)

	var seen []string
	got, err := c.Stream(safeCtx(t), chat.Prompt{Question: "count"}, func(s string) error { seen = append(seen, s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != "一二三" || !reflect.DeepEqual(seen, []string{"一", "一二", "一二三"}) {
		t.Errorf("answer %q, deltas %q", got, seen)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestStreamIsNotRetriedOnceTextWasDelivered(t *testing.T) {
	srv := newFake(t, openaitest.Sequence(
		openaitest.Response{Chunks: []string{"first ", "second"}, DropAfterChunks: 1},
		openaitest.Response{Content: "a retry would start over"},
	))
	c := newTestClient(t, srv.URL(), nil)

	var seen []string
	_, err := c.Stream(safeCtx(t), chat.Prompt{Question: "hi"}, func(s string) error { seen = append(seen, s); return nil })
	if !errors.Is(err, chat.ErrModelUnavailable) {
		t.Fatalf("error = %v, want chat.ErrModelUnavailable", err)
	}
	if !reflect.DeepEqual(seen, []string{"first "}) {
		t.Errorf("deltas %q, want only the text before the break", seen)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestStreamConsumerErrorStopsTheStream(t *testing.T) {
	errCardGone := errors.New("card gone")
	srv := newFake(t, openaitest.Fixed(openaitest.Response{Chunks: []string{"a", "b", "c"}}))
	c := newTestClient(t, srv.URL(), nil)

	calls := 0
	_, err := c.Stream(safeCtx(t), chat.Prompt{Question: "hi"}, func(string) error { calls++; return errCardGone })
	if !errors.Is(err, errCardGone) {
		t.Fatalf("error = %v, want the consumer's", err)
	}
	if calls != 1 {
		t.Errorf("onDelta called %d times after failing", calls)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestStreamFailures(t *testing.T) {
	tests := []struct {
		name     string
		response openaitest.Response
		want     error
	}{
		{"empty", openaitest.Response{Chunks: []string{" ", "\n"}}, chat.ErrModelEmptyAnswer},
		{"no chunks", openaitest.Response{Chunks: []string{}}, chat.ErrModelEmptyAnswer},
		{"unauthorized", openaitest.Response{Status: 401}, chat.ErrModelUnauthorized},
		{"unknown model", openaitest.Response{Status: 404, ErrorMessage: "The model `xyz` does not exist"}, chat.ErrModelRejected},
		{"unavailable", openaitest.Response{Status: 500}, chat.ErrModelUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, openaitest.Fixed(tt.response))
			c := newTestClient(t, srv.URL(), nil)

			_, err := c.Stream(safeCtx(t), chat.Prompt{Question: "hi"}, func(string) error { return nil })
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if tt.response.ErrorMessage != "" && asError(t, err).Message != tt.response.ErrorMessage {
				t.Errorf("message = %q", asError(t, err).Message)
			}
		})
	}
}

func TestStreamTimesOutMidStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, c := newBubbleFake(t, openaitest.Fixed(openaitest.Response{Chunks: []string{"a", "b"}, ChunkDelay: time.Hour}))
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()

		var seen []string
		_, err := c.Stream(ctx, chat.Prompt{Question: "hi"}, func(s string) error { seen = append(seen, s); return nil })
		if !errors.Is(err, chat.ErrModelTimeout) {
			t.Fatalf("error = %v, want chat.ErrModelTimeout", err)
		}
		if !reflect.DeepEqual(seen, []string{"a"}) {
			t.Errorf("deltas %q, want the first chunk", seen)
		}
		synctest.Wait() // the server sees the client go
		if n := srv.Abandoned(); n != 1 {
			t.Errorf("the server saw %d clients go, want 1", n)
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

func TestScrub(t *testing.T) {
	const key = "sk-proj-AbCdEfGh1234567890"
	tests := []struct {
		name, in, key string
		leaks         []string
		keeps         string
	}{
		{"whole key", "Incorrect API key: " + key + ".", key, []string{key, "1234567890"}, "Incorrect API key"},
		{"masked key", "Incorrect API key provided: sk-pro*************7890.", key, []string{"7890"}, "Incorrect API key provided"},
		{"truncated key", "bad key 'sk-proj-AbCdEf'", key, []string{"AbCdEf"}, "bad key"},
		{"key in JSON", `{"key":"` + key + `"}`, key, []string{key}, `{"key":`},
		{"nothing to scrub", "The model `xyz` does not exist", key, nil, "The model `xyz` does not exist"},
		{"no key configured", "plain message", "", nil, "plain message"},
		{"data URL", "cannot read 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk' here", key, []string{"iVBORw0KGgo", "mNk"}, "cannot read 'data:image/png;base64,[image data]' here"},
		{"bare base64", "input: iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk=, end", key, []string{"iVBORw0KGgo"}, "input: [image data], end"},
		{"a long path is not a picture", "The model `projects/my-project/locations/us-central1/endpoints/openapi` does not exist", key, nil, "projects/my-project/locations/us-central1/endpoints/openapi"},
		{"a long hash is not a picture", "no blob 3f786850e387550fdab836ed7e6dc881de23001b3f786850e387550fdab836ed", key, nil, "3f786850e387550fdab836ed7e6dc881de23001b3f786850e387550fdab836ed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := scrub(tt.in, tt.key)
			for _, leak := range tt.leaks {
				if strings.Contains(got, leak) {
					t.Errorf("scrub(%q) = %q, still holds %q", tt.in, got, leak)
				}
			}
			if !strings.Contains(got, tt.keeps) {
				t.Errorf("scrub(%q) = %q, lost %q", tt.in, got, tt.keeps)
			}
		})
	}
	long := strings.Repeat("错", 1000)
	if got := scrub(long, key); len(got) > maxMessageBytes+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("a long message is kept at %d bytes", len(got))
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		header  map[string]string
		want    time.Duration
		present bool
	}{
		{"absent", nil, 0, false},
		{"seconds", map[string]string{"Retry-After": "7"}, 7 * time.Second, true},
		{"zero", map[string]string{"Retry-After": "0"}, 0, true},
		{"date", map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second, true},
		{"past date", map[string]string{"Retry-After": now.Add(-time.Minute).Format(http.TimeFormat)}, 0, true},
		{"milliseconds first", map[string]string{"Retry-After-Ms": "250", "Retry-After": "1"}, 250 * time.Millisecond, true},
		{"garbage", map[string]string{"Retry-After": "soon"}, 0, false},
		{"negative", map[string]string{"Retry-After": "-3"}, 0, false},
		{"huge", map[string]string{"Retry-After": "99999999999999"}, 24 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			got, ok := retryAfter(h, now)
			if got != tt.want || ok != tt.present {
				t.Errorf("retryAfter = %v, %v; want %v, %v", got, ok, tt.want, tt.present)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	err := &Error{Kind: chat.ErrModelRejected, StatusCode: 404, Message: "The model `xyz` does not exist"}
	want := "openai: the model endpoint rejected the request (HTTP 404): The model `xyz` does not exist"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if got := (&Error{Kind: chat.ErrModelTimeout}).Error(); got != "openai: the model did not answer in time" {
		t.Errorf("Error() = %q", got)
	}
	refused := &Error{Kind: chat.ErrModelRejected, Reason: chat.ErrImagesRefused, StatusCode: 400, Message: "Invalid content type. image_url is only supported by certain models."}
	want = "openai: the model endpoint rejected the request: the model cannot read pictures (HTTP 400): Invalid content type. image_url is only supported by certain models."
	if refused.Error() != want {
		t.Errorf("Error() = %q, want %q", refused.Error(), want)
	}
	if !errors.Is(refused, chat.ErrModelRejected) || !errors.Is(refused, chat.ErrImagesRefused) || errors.Is(refused, chat.ErrInvalidImages) {
		t.Errorf("%v matches the wrong sentinels", refused)
	}
	if errors.Is(err, chat.ErrImagesRefused) {
		t.Errorf("%v matches chat.ErrImagesRefused without the reason", err)
	}
}
