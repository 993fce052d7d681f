package reply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/openai"
	"github.com/dingtalk-llm/fcrobot/internal/ossmount"
)

// modelFunc is a Model whose answer a test decides.
type modelFunc func(ctx context.Context, history []chat.Turn, question string) (string, error)

func (f modelFunc) CompleteWithImages(ctx context.Context, history []chat.Turn, question string, _ []chat.Image) (string, error) {
	return f(ctx, history, question)
}

// Stream hands the whole answer over as its one delta.
func (f modelFunc) Stream(ctx context.Context, history []chat.Turn, question string, _ []chat.Image, onDelta func(string) error) (string, error) {
	answer, err := f(ctx, history, question)
	if err == nil {
		err = onDelta(answer)
	}
	return answer, err
}

// outbox records what was posted to each webhook.
type outbox struct {
	mu   sync.Mutex
	sent map[string][]string
	err  error
}

func (o *outbox) Allowed(webhook string) error {
	if !strings.HasPrefix(webhook, "https://oapi.dingtalk.com/") {
		return fmt.Errorf("%w: %s", dingtalk.ErrWebhookNotAllowed, webhook)
	}
	return nil
}

func (o *outbox) Send(_ context.Context, webhook string, msg dingtalk.WebhookMessage) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	if o.sent == nil {
		o.sent = map[string][]string{}
	}
	o.sent[webhook] = append(o.sent[webhook], content(msg))
	return nil
}

// content is what the user reads of a message.
func content(msg dingtalk.WebhookMessage) string {
	if msg.Markdown != nil {
		return msg.Markdown.Text
	}
	return msg.Text.Content
}

func (o *outbox) last(webhook string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.sent[webhook]
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

type fixture struct {
	svc     *Service
	history *ossmount.History
	out     *outbox
	asked   [][]chat.Turn
}

func newFixture(t *testing.T, model modelFunc) *fixture {
	t.Helper()
	now := func() time.Time { return clock }
	h, err := ossmount.NewHistory(t.TempDir(), ossmount.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	receipts, err := ossmount.NewReceipts(t.TempDir(), ossmount.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{history: h, out: &outbox{}}
	if model == nil {
		model = func(_ context.Context, history []chat.Turn, q string) (string, error) {
			return "答：" + q, nil
		}
	}
	recording := func(ctx context.Context, history []chat.Turn, q string) (string, error) {
		f.asked = append(f.asked, history)
		return model(ctx, history, q)
	}
	f.svc = New(Config{
		History: h, Receipts: receipts, Model: modelFunc(recording), Messenger: f.out, HistoryLength: 2, Timeout: time.Minute,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: now,
	})
	return f
}

// clock is the instant of every reply test: the service, its history and its
// receipts read it, and every time a test builds is relative to it.
var clock = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func event(id, text string, at time.Time) chat.Event {
	return chat.Event{Version: chat.EventVersion, Message: chat.Message{
		ID: id, Type: "text", Text: text, ConversationID: "cid-1", ConversationType: chat.SingleChat,
		SenderID: "u1", Webhook: "https://oapi.dingtalk.com/robot/sendBySession?session=s1",
		WebhookExpiresAt: clock.Add(2 * time.Hour), CreatedAt: at,
	}}
}

func TestAnswerAndRememberTheLastHistoryLengthTurns(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for i, q := range []string{"一", "二", "三", "四"} {
		if err := f.svc.Handle(ctx, event(fmt.Sprint("m", i), q, clock.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.out.last(event("", "", clock).Message.Webhook); got != "答：四" {
		t.Errorf("last answer %q", got)
	}
	last := f.asked[len(f.asked)-1]
	if len(last) != 2 || last[0].Question != "二" || last[1].Question != "三" || last[1].Answer != "答：三" {
		t.Errorf("model saw %+v, want the two turns before", last)
	}
}

func TestClearForgetsAndConfirms(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	hook := event("", "", clock).Message.Webhook
	f.svc.Handle(ctx, event("m1", "记住我叫小明", clock))
	if err := f.svc.Handle(ctx, event("m2", ` \clear`, clock.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(hook); got != clearedText {
		t.Errorf("clear answered %q", got)
	}
	f.svc.Handle(ctx, event("m3", "我叫什么", clock.Add(2*time.Minute)))
	if last := f.asked[len(f.asked)-1]; len(last) != 0 {
		t.Errorf("model still saw %d turns after \\clear", len(last))
	}
}

func TestCommandsAnswerWithoutTheModel(t *testing.T) {
	f := newFixture(t, nil)
	hook := event("", "", clock).Message.Webhook
	f.svc.Handle(context.Background(), event("m1", `\help`, clock))
	if got := f.out.last(hook); !strings.Contains(got, `\clear`) || !strings.Contains(got, `\help`) {
		t.Errorf("help = %q", got)
	}
	f.svc.Handle(context.Background(), event("m2", `\weather 北京`, clock))
	if got := f.out.last(hook); !strings.Contains(got, `未知命令 \weather`) || !strings.Contains(got, `\clear`) {
		t.Errorf("unknown command answered %q", got)
	}
	if len(f.asked) != 0 {
		t.Errorf("the model was asked %d times", len(f.asked))
	}
}

func TestModelFailureTellsTheUserAndKeepsHistory(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&openai.Error{Kind: openai.ErrTimeout}, "60 秒内没有回答完"},
		{&openai.Error{Kind: openai.ErrUnauthorized, StatusCode: 401}, "API Key"},
		{&openai.Error{Kind: openai.ErrRateLimited, StatusCode: 429}, "限流"},
		{&openai.Error{Kind: openai.ErrUnavailable, StatusCode: 503}, "暂时不可用"},
		{&openai.Error{Kind: openai.ErrRejected, StatusCode: 404, Message: "The model `gpt-9` does not exist"}, "gpt-9"},
		{errors.New("something else"), "出错了"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			f := newFixture(t, func(context.Context, []chat.Turn, string) (string, error) { return "", tt.err })
			f.svc.cfg.Timeout = time.Minute
			if err := f.svc.Handle(context.Background(), event("m1", "你好", clock)); err != nil {
				t.Fatalf("a model failure is answered, not retried: %v", err)
			}
			if got := f.out.last(event("", "", clock).Message.Webhook); !strings.Contains(got, tt.want) {
				t.Errorf("user read %q, want it to say %q", got, tt.want)
			}
			turns, _ := f.history.Load(context.Background(), event("", "", clock).Message.HistoryOwner(), 10)
			if len(turns) != 0 {
				t.Errorf("history holds %d turns after a failure", len(turns))
			}
		})
	}
}

func TestPostingFailuresThatARetryMends(t *testing.T) {
	tests := []struct {
		err   error
		retry bool
	}{
		{&dingtalk.APIError{StatusCode: 200, Code: 130101, Message: "send too fast"}, true},
		{&dingtalk.APIError{StatusCode: 502}, true},
		{fmt.Errorf("dial: %w", errors.New("connection refused")), true},
		{&dingtalk.APIError{StatusCode: 200, Code: 300001, Message: "session does not exist"}, false},
		{fmt.Errorf("%w: evil.example", dingtalk.ErrWebhookNotAllowed), false},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			f := newFixture(t, nil)
			f.out.err = tt.err
			err := f.svc.Handle(context.Background(), event("m1", "你好", clock))
			if Retryable(err) != tt.retry {
				t.Errorf("Handle = %v, retryable %v, want %v", err, Retryable(err), tt.retry)
			}
		})
	}
}

func TestForeignWebhookIsNeverAnsweredNorTheModelAsked(t *testing.T) {
	f := newFixture(t, nil)
	ev := event("m1", "你好", clock)
	ev.Message.Webhook = "http://169.254.169.254/latest/meta-data"
	if err := f.svc.Handle(context.Background(), ev); err != nil {
		t.Fatalf("a refused webhook is final, not retried: %v", err)
	}
	if len(f.asked) != 0 || len(f.out.sent) != 0 {
		t.Errorf("model asked %d times, %d posts", len(f.asked), len(f.out.sent))
	}
}

func TestExpiredWebhookIsNotAnswered(t *testing.T) {
	f := newFixture(t, nil)
	ev := event("m1", "你好", clock)
	ev.Message.WebhookExpiresAt = clock.Add(-time.Minute)
	if err := f.svc.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if len(f.asked) != 0 {
		t.Error("the model was asked for an answer nobody can receive")
	}
}

func TestInvokeAnswersFCInItsTerms(t *testing.T) {
	f := newFixture(t, nil)
	h := Handler(f.svc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	post := func(body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/invoke", strings.NewReader(body)))
		return rec
	}
	if rec := post(`not json`); rec.Code != http.StatusBadRequest || rec.Header().Get("x-fc-status") != "" {
		t.Errorf("garbage: %d %v (must not be retried)", rec.Code, rec.Header())
	}
	if rec := post(`{"version":99,"message":{}}`); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "version 99") {
		t.Errorf("unknown version: %d %s", rec.Code, rec.Body)
	}
	f.out.err = &dingtalk.APIError{StatusCode: 200, Code: 130101}
	body := `{"version":1,"message":{"id":"m1","type":"text","text":"hi","conversationId":"c","conversationType":"1","senderId":"u","webhook":"https://oapi.dingtalk.com/robot/sendBySession?session=x"}}`
	if rec := post(body); rec.Code != http.StatusNotFound || rec.Header().Get("x-fc-status") != "404" {
		t.Errorf("retryable failure: %d %v", rec.Code, rec.Header())
	}
	f.out.err = nil
	if rec := post(body); rec.Code != http.StatusOK {
		t.Errorf("success: %d %s", rec.Code, rec.Body)
	}
}

func TestADuplicateIsAnsweredOnce(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	ev := event("m1", "你好", clock)
	for range 3 {
		if err := f.svc.Handle(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.asked) != 1 || len(f.out.sent[ev.Message.Webhook]) != 1 {
		t.Errorf("model asked %d times, %d posts; want 1 and 1", len(f.asked), len(f.out.sent[ev.Message.Webhook]))
	}
}

func TestARetryDeliversTheKeptAnswerWithoutAskingAgain(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	ev := event("m1", "你好", clock)
	f.out.err = &dingtalk.APIError{StatusCode: 200, Code: 130101, Message: "send too fast"}
	if err := f.svc.Handle(ctx, ev); !Retryable(err) {
		t.Fatalf("a rate-limited post must be retried: %v", err)
	}
	f.out.err = nil
	if err := f.svc.Handle(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if len(f.asked) != 1 {
		t.Errorf("the model was asked %d times", len(f.asked))
	}
	if got := f.out.last(ev.Message.Webhook); got != "答：你好" {
		t.Errorf("delivered %q", got)
	}
}

func TestAMessageInHandIsLeftToItsHolder(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	ev := event("m1", "你好", clock)
	if ok, _ := f.svc.cfg.Receipts.Claim(ctx, ev.Message, "another-invocation", time.Hour); !ok {
		t.Fatal("claim")
	}
	if err := f.svc.Handle(ctx, ev); !Retryable(err) {
		t.Errorf("Handle = %v, want a retryable refusal", err)
	}
	if len(f.asked) != 0 {
		t.Error("the model was asked for a message another invocation is answering")
	}
}

// robotAPI records what went through the robot OpenAPI.
type robotAPI struct {
	users  [][]string
	groups []string
	texts  []string
}

func (r *robotAPI) SendToUser(_ context.Context, code string, ids []string, msg dingtalk.WebhookMessage) error {
	r.users = append(r.users, ids)
	r.texts = append(r.texts, code+":"+content(msg))
	return nil
}

func (r *robotAPI) SendToGroup(_ context.Context, code, conv string, msg dingtalk.WebhookMessage) error {
	r.groups = append(r.groups, conv)
	r.texts = append(r.texts, code+":"+content(msg))
	return nil
}

func TestAnExpiredWebhookFallsBackToTheRobotOpenAPI(t *testing.T) {
	f := newFixture(t, nil)
	robot := &robotAPI{}
	f.svc.cfg.Robot, f.svc.cfg.RobotCode = robot, "dingappkey"

	// DingTalk says the session is gone.
	f.out.err = &dingtalk.APIError{StatusCode: 200, Code: 300001, Message: "session does not exist"}
	ev := event("m1", "你好", clock)
	ev.Message.SenderStaffID = "staff-1"
	if err := f.svc.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	// The webhook's expiry time has passed: the webhook is not even tried.
	f.out.err = nil
	group := event("m2", "群里", clock)
	group.Message.ConversationType, group.Message.ConversationID = chat.GroupChat, "cid-group"
	group.Message.WebhookExpiresAt = clock.Add(-time.Minute)
	if err := f.svc.Handle(context.Background(), group); err != nil {
		t.Fatal(err)
	}
	if len(f.out.sent) != 0 {
		t.Errorf("posted to an expired webhook: %v", f.out.sent)
	}
	if len(robot.users) != 1 || robot.users[0][0] != "staff-1" || len(robot.groups) != 1 || robot.groups[0] != "cid-group" {
		t.Errorf("OpenAPI sends: users %v groups %v", robot.users, robot.groups)
	}
	if robot.texts[0] != "dingappkey:答：你好" {
		t.Errorf("sent %q", robot.texts)
	}
}

// flakyOutbox fails the post of one part once.
type flakyOutbox struct {
	outbox
	failPart int
	posts    int
}

func (o *flakyOutbox) Send(ctx context.Context, webhook string, msg dingtalk.WebhookMessage) error {
	o.posts++
	if o.posts == o.failPart {
		return &dingtalk.APIError{StatusCode: 502}
	}
	return o.outbox.Send(ctx, webhook, msg)
}

func TestALongAnswerGoesOutInPiecesAndARetrySendsOnlyWhatIsMissing(t *testing.T) {
	long := strings.Repeat("长", 7000) + "\n\n" + strings.Repeat("文", 7000) // 42 KB
	f := newFixture(t, func(context.Context, []chat.Turn, string) (string, error) { return long, nil })
	flaky := &flakyOutbox{failPart: 2}
	f.svc.cfg.Messenger = flaky
	ev := event("m1", "写长文", clock)
	if err := f.svc.Handle(context.Background(), ev); !Retryable(err) {
		t.Fatalf("a failed piece must be retried: %v", err)
	}
	if err := f.svc.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	got := flaky.sent[ev.Message.Webhook]
	if strings.Join(got, "") != long {
		t.Errorf("the pieces do not carry the whole answer (%d pieces)", len(got))
	}
	for i, p := range got {
		if len(p) > dingtalk.MaxMessageBytes {
			t.Errorf("piece %d is %d bytes", i, len(p))
		}
	}
	if len(got) != 3 || len(f.asked) != 1 {
		t.Errorf("%d pieces delivered, model asked %d times; want each piece once and one model call", len(got), len(f.asked))
	}
}
