package reply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/bucket"
	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/fcruntime"
	"github.com/dingtalk-llm/fcrobot/internal/ossmount"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// clock is the instant of every reply test: the service, its history and its
// receipts read it, and every time a test builds is relative to it.
var clock = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// modelFunc is a Model whose answer a test decides.
type modelFunc func(ctx context.Context, p chat.Prompt) (string, error)

func (f modelFunc) Complete(ctx context.Context, p chat.Prompt) (chat.Completion, error) {
	answer, err := f(ctx, p)
	return chat.Completion{Text: answer}, err
}

// Stream hands the whole answer over as its one delta.
func (f modelFunc) Stream(ctx context.Context, p chat.Prompt, onDelta func(string) error) (chat.Completion, error) {
	answer, err := f(ctx, p)
	if err == nil {
		err = onDelta(answer)
	}
	return chat.Completion{Text: answer}, err
}

// outbox is an Outbox that records what reached each conversation. It splits
// an answer into pieces of at most pieceRunes runes (0: one piece), as an
// outbox does with a long answer, and can fail.
type outbox struct {
	mu sync.Mutex
	// unreachable, when set, is what Reachable answers.
	unreachable error
	// fail, when set, decides the error of delivering piece i; nil delivers.
	fail       func(piece int) error
	pieceRunes int
	// drafts makes Open return a draft for every message; asking, when
	// set, is the draft Open returns, a card with buttons.
	drafts bool
	asking chat.Draft

	delivered map[string][]string // conversation id: the pieces delivered
	answers   []chat.Answer
	opened    []*draft
	recovered []chat.Attempt
	// votes are what ShowVotes showed, by card.
	votes map[string][2]int
}

func (o *outbox) ShowVotes(_ context.Context, cardID string, likes, dislikes int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.votes == nil {
		o.votes = map[string][2]int{}
	}
	o.votes[cardID] = [2]int{likes, dislikes}
	return nil
}

// draft records what it was shown.
type draft struct {
	mu    sync.Mutex
	shown []string
}

func (d *draft) Show(soFar string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.shown = append(d.shown, soFar)
}

func (o *outbox) Reachable(chat.Message) error { return o.unreachable }

func (o *outbox) Recover(_ context.Context, _ chat.Message, a chat.Attempt) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.recovered = append(o.recovered, a)
}

func (o *outbox) Open(_ context.Context, _ chat.Message, _ chat.Attempt) chat.Draft {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.asking != nil {
		return o.asking
	}
	if !o.drafts {
		return nil
	}
	d := &draft{}
	o.opened = append(o.opened, d)
	return d
}

func (o *outbox) Deliver(_ context.Context, a chat.Answer) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.answers = append(o.answers, a)
	pieces := []string{a.Text}
	if r := []rune(a.Text); o.pieceRunes > 0 && len(r) > o.pieceRunes {
		pieces = nil
		for ; len(r) > 0; r = r[min(o.pieceRunes, len(r)):] {
			pieces = append(pieces, string(r[:min(o.pieceRunes, len(r))]))
		}
	}
	for i := a.Delivered; i < len(pieces); i++ {
		if o.fail != nil {
			if err := o.fail(i); err != nil {
				return err
			}
		}
		if o.delivered == nil {
			o.delivered = map[string][]string{}
		}
		o.delivered[a.To.ConversationID] = append(o.delivered[a.To.ConversationID], pieces[i])
		if a.OnDelivered != nil {
			a.OnDelivered(i)
		}
	}
	return nil
}

// last is the last piece delivered to a conversation.
func (o *outbox) last(conversationID string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	d := o.delivered[conversationID]
	if len(d) == 0 {
		return ""
	}
	return d[len(d)-1]
}

func (o *outbox) count(conversationID string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.delivered[conversationID])
}

type fixture struct {
	// root is the folder the bucket is mounted at.
	root     string
	svc      *Service
	cfg      testConfig
	history  *bucket.History
	receipts *bucket.Receipts
	out      *outbox
	mu       sync.Mutex
	asked    []chat.Prompt
	// running, once runClock sets it, is the moment from which the
	// fixture's clock runs on from clock, with the bubble's time.
	running atomic.Pointer[time.Time]
}

// now is the fixture's clock: clock, standing still unless runClock made
// it run.
func (f *fixture) now() time.Time {
	if start := f.running.Load(); start != nil {
		return clock.Add(time.Since(*start))
	}
	return clock
}

// runClock makes the fixture's clock run on from clock as the time of the
// synctest bubble it is called in passes, for a test of claims' leases,
// which run out only as time passes. Outside a bubble it would follow the
// real clock: call it only inside one.
func (f *fixture) runClock() {
	start := time.Now()
	f.running.Store(&start)
}

// mountAt is the objects under the folder root, through the mount.
func mountAt(t testing.TB, root string) bucket.Objects {
	t.Helper()
	m, err := ossmount.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// newFixture returns a service over a fresh mount folder whose model, unless
// the config edits say otherwise, answers "答：" and the question. Each edit
// changes the testConfig before the Service is made.
func newFixture(t *testing.T, model modelFunc, edits ...func(*testConfig)) *fixture {
	t.Helper()
	f := &fixture{out: &outbox{}}
	now := f.now
	root := t.TempDir()
	f.root = root
	h, err := bucket.NewHistory(mountAt(t, root), bucket.Config{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	receipts := bucket.NewReceipts(mountAt(t, root), bucket.Config{Now: now})
	f.history, f.receipts = h, receipts
	if model == nil {
		model = func(_ context.Context, p chat.Prompt) (string, error) { return "答：" + p.Question, nil }
	}
	recording := func(ctx context.Context, p chat.Prompt) (string, error) {
		f.mu.Lock()
		f.asked = append(f.asked, p)
		f.mu.Unlock()
		return model(ctx, p)
	}
	cfg := testConfig{
		History: h, Receipts: receipts, Outbox: f.out, Model: modelFunc(recording),
		HistoryLength: 2, Timeout: time.Minute, Instance: "instance-1", Now: now,
		// A short lease, for the tests of its running out to be quick: a
		// second delivery polls every 10 ms, a holder renews every 50.
		ClaimLease: 150 * time.Millisecond,
	}
	for _, edit := range edits {
		edit(&cfg)
	}
	f.cfg = cfg
	f.svc = assemble(cfg)
	return f
}

// handle hands ev to the service as FC's first delivery of invocation
// requestID would.
func (f *fixture) handle(t *testing.T, requestID string, ev chat.Event) error {
	t.Helper()
	return f.deliver(t, f.svc, fcruntime.Invocation{RequestID: requestID}, ev)
}

// deliver hands ev to svc as FC's delivery inv would.
func (f *fixture) deliver(t *testing.T, svc *Service, inv fcruntime.Invocation, ev chat.Event) error {
	t.Helper()
	return svc.Handle(fcruntime.NewContext(t.Context(), inv), ev)
}

// instance is another process of the same function, over the same bucket.
func (f *fixture) instance(name string) *Service {
	cfg := f.cfg
	cfg.Instance = name
	return assemble(cfg)
}

func (f *fixture) askedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.asked)
}

func (f *fixture) lastAsked() chat.Prompt {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked[len(f.asked)-1]
}

const conversationID = "cid-1"

func event(id, text string, at time.Time) chat.Event {
	return chat.Event{Version: chat.EventVersion, Message: chat.Message{
		ID: id, Type: "text", Text: text, ConversationID: conversationID, ConversationType: chat.SingleChat,
		SenderID: "u1", Webhook: "https://oapi.dingtalk.com/robot/sendBySession?session=s1",
		WebhookExpiresAt: at.Add(90 * time.Minute), CreatedAt: at,
	}}
}

func TestAnswerAndRememberTheLastHistoryLengthTurns(t *testing.T) {
	f := newFixture(t, nil, func(c *testConfig) { c.SystemPrompt = "你是助手。" })
	for i, q := range []string{"一", "二", "三", "四"} {
		if err := f.handle(t, fmt.Sprint("r", i), event(fmt.Sprint("m", i), q, clock.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.out.last(conversationID); got != "答：四" {
		t.Errorf("last answer %q", got)
	}
	p := f.lastAsked()
	if len(p.History) != 2 || p.History[0].Question != "二" || p.History[1].Question != "三" || p.History[1].Answer != "答：三" {
		t.Errorf("model saw %+v, want the two turns before", p.History)
	}
	if p.System != "你是助手。" || p.Question != "四" {
		t.Errorf("prompt %+v, want the system prompt and the question", p)
	}
}

func TestClearForgetsAndConfirms(t *testing.T) {
	f := newFixture(t, nil)
	for i, q := range []string{"记住我叫小明", ` \clear`, "我叫什么"} {
		if err := f.handle(t, fmt.Sprint("r", i), event(fmt.Sprint("m", i), q, clock.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if got := f.out.last(conversationID); got != "已清除你与我的对话记录，我们重新开始吧。" {
				t.Errorf("clear answered %q", got)
			}
		}
	}
	if p := f.lastAsked(); len(p.History) != 0 {
		t.Errorf("model still saw %d turns after \\clear", len(p.History))
	}
}

func TestCommandsAnswerWithoutTheModel(t *testing.T) {
	f := newFixture(t, nil)
	wantHelp := "可用命令：\n" +
		`\clear   清除你与我的对话记录` + "\n" +
		`\whoami  显示你的 staffId 和本会话的 conversationId（供管理员设置权限）` + "\n" +
		`\help    显示本帮助` + "\n" +
		"命令也可以用 / 开头。其他消息都会作为问题交给大模型回答。"
	for i, tt := range []struct{ text, want string }{
		{`\help`, wantHelp},
		{`\HELP please`, wantHelp},
		{`＼help`, wantHelp},
		{`/help`, wantHelp},
		{`、help`, wantHelp},
		{` \whoami`, "你的 staffId：staff-1\n本会话的 conversationId：" + conversationID},
		{`\weather 北京`, "未知命令 \\weather。\n" + wantHelp},
		{`＼weather`, "未知命令 ＼weather。\n" + wantHelp},
	} {
		ev := event(fmt.Sprint("m", i), tt.text, clock)
		ev.Message.SenderStaffID = "staff-1"
		if err := f.handle(t, fmt.Sprint("r", i), ev); err != nil {
			t.Fatal(err)
		}
		if got := f.out.last(conversationID); got != tt.want {
			t.Errorf("%s answered %q, want %q", tt.text, got, tt.want)
		}
	}
	if n := f.askedCount(); n != 0 {
		t.Errorf("the model was asked %d times", n)
	}
	// After / or 、 a word that names no command starts a question.
	for i, q := range []string{"/etc/hosts 是什么", "、首先"} {
		if err := f.handle(t, fmt.Sprint("q", i), event(fmt.Sprint("q", i), q, clock)); err != nil {
			t.Fatal(err)
		}
		if got := f.out.last(conversationID); got != "答："+q {
			t.Errorf("%q answered %q; want the model's answer", q, got)
		}
	}
}

func TestWhoMayAsk(t *testing.T) {
	f := newFixture(t, nil, func(c *testConfig) {
		c.Access = Access{Users: []string{"staff-ok"}, Groups: []string{"cid-ok"}, Admins: []string{"staff-admin"}}
	})
	for i, tt := range []struct {
		staff, conv string
		group       bool
		answered    bool
	}{
		{"staff-ok", "cid-1", false, true},
		{"staff-no", "cid-1", false, false},
		{"", "cid-1", false, false}, // an external contact has no staff id
		{"staff-ok", "cid-ok", true, true},
		{"staff-ok", "cid-other", true, false},
		{"staff-no", "cid-ok", true, false},
		{"staff-admin", "cid-other", true, true},
	} {
		ev := event(fmt.Sprint("m", i), "问题", clock)
		ev.Message.SenderStaffID, ev.Message.ConversationID = tt.staff, tt.conv
		if tt.group {
			ev.Message.ConversationType = chat.GroupChat
		}
		before := f.askedCount()
		if err := f.handle(t, fmt.Sprint("r", i), ev); err != nil {
			t.Fatal(err)
		}
		got := f.out.last(tt.conv)
		if asked := f.askedCount() > before; asked != tt.answered || (got == "答：问题") != tt.answered {
			t.Errorf("%+v: model asked %v, answered %q", tt, asked, got)
		}
		if !tt.answered && got != notAllowedText {
			t.Errorf("%+v: refused with %q", tt, got)
		}
	}
	// \whoami answers anyone.
	ev := event("w", `\whoami`, clock)
	ev.Message.SenderStaffID = "staff-no"
	if err := f.handle(t, "rw", ev); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); !strings.Contains(got, "staff-no") {
		t.Errorf("\\whoami to a sender who may not ask: %q", got)
	}
}

// modelFailure is a model's error as an adapter returns it: a kind of
// package chat, and what the provider said.
type modelFailure struct {
	kind error
	said string
}

func (e modelFailure) Error() string { return e.kind.Error() + ": " + e.said }
func (e modelFailure) Unwrap() error { return e.kind }

func TestModelFailureTellsTheUserAndKeepsHistory(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{modelFailure{kind: chat.ErrModelTimeout}, "60 秒内没有回答"},
		{modelFailure{kind: chat.ErrModelUnauthorized}, "API Key"},
		{modelFailure{kind: chat.ErrModelRateLimited}, "限流"},
		{modelFailure{kind: chat.ErrModelUnavailable}, "暂时不可用"},
		{modelFailure{kind: chat.ErrModelEmptyAnswer}, "没有给出回答"},
		{modelFailure{kind: errors.Join(chat.ErrModelRejected, chat.ErrModelUnknown), said: "The model `gpt-9` does not exist"}, "不认识配置的模型名称"},
		{modelFailure{kind: chat.ErrModelRejected, said: "Invalid key sk-****cret for org-1: prompt flagged"}, "检查模型配置"},
		{errors.New("something else"), "出错了"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			f := newFixture(t, func(context.Context, chat.Prompt) (string, error) { return "", tt.err })
			ev := event("m1", "你好", clock)
			if err := f.handle(t, "r1", ev); err != nil {
				t.Fatalf("a model failure is answered, not retried: %v", err)
			}
			if got := f.out.last(conversationID); !strings.Contains(got, tt.want) {
				t.Errorf("user read %q, want it to say %q", got, tt.want)
			}
			// What the provider said is the operator's to read, in the log.
			if said := (modelFailure{}); errors.As(tt.err, &said) && said.said != "" && strings.Contains(f.out.last(conversationID), said.said) {
				t.Errorf("user read the provider's words %q", said.said)
			}
			turns, err := f.history.Load(t.Context(), ev.Message.HistoryOwner(), 10)
			if err != nil || len(turns) != 0 {
				t.Errorf("history holds %d turns after a failure (%v)", len(turns), err)
			}
		})
	}
}

func TestDeliveryFailuresThatARetryMends(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		retry bool
	}{
		{"retryable", retry.Mark(errors.New("sending too fast")), true},
		{"final", errors.New("content rejected"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.out.fail = func(int) error { return tt.err }
			ev := event("m1", "你好", clock)
			err := f.handle(t, "r1", ev)
			if retry.Retryable(err) != tt.retry || (!tt.retry && err != nil) {
				t.Errorf("Handle = %v, retryable %v, want %v", err, retry.Retryable(err), tt.retry)
			}
			rec, _, _, err := f.receipts.Holder(t.Context(), ev.Message)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Delivered == tt.retry {
				t.Errorf("receipt %+v: a retryable failure leaves the message to the retry, a final one ends it", rec)
			}
		})
	}
}

func TestAnUnreachableSenderIsNeverAnsweredNorTheModelAsked(t *testing.T) {
	f := newFixture(t, nil)
	f.out.unreachable = errors.New("the session webhook's host is not allowed")
	if err := f.handle(t, "r1", event("m1", "你好", clock)); err != nil {
		t.Fatalf("an unreachable sender is final, not retried: %v", err)
	}
	if f.askedCount() != 0 || len(f.out.answers) != 0 {
		t.Errorf("model asked %d times, %d deliveries", f.askedCount(), len(f.out.answers))
	}
}

func TestAContextWithoutAnInvocationIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	err := f.svc.Handle(t.Context(), event("m1", "你好", clock))
	if !errors.Is(err, fcruntime.ErrNoInvocation) || retry.Retryable(err) {
		t.Errorf("Handle = %v, want a final ErrNoInvocation", err)
	}
	if f.askedCount() != 0 {
		t.Error("the model was asked without an invocation to claim the message for")
	}
}

func TestADuplicateIsAnsweredOnce(t *testing.T) {
	f := newFixture(t, nil)
	ev := event("m1", "你好", clock)
	for i := range 3 {
		if err := f.handle(t, fmt.Sprint("r", i), ev); err != nil {
			t.Fatal(err)
		}
	}
	if f.askedCount() != 1 || f.out.count(conversationID) != 1 {
		t.Errorf("model asked %d times, %d deliveries; want 1 and 1", f.askedCount(), f.out.count(conversationID))
	}
}

func TestARetryDeliversTheKeptAnswerWithoutAskingAgain(t *testing.T) {
	f := newFixture(t, nil)
	ev := event("m1", "你好", clock)
	f.out.fail = func(int) error { return retry.Mark(errors.New("sending too fast")) }
	if err := f.handle(t, "r1", ev); !retry.Retryable(err) {
		t.Fatalf("a rate-limited delivery must be retried: %v", err)
	}
	f.out.fail = nil
	if err := f.handle(t, "r1", ev); err != nil {
		t.Fatal(err)
	}
	if f.askedCount() != 1 {
		t.Errorf("the model was asked %d times", f.askedCount())
	}
	if got := f.out.last(conversationID); got != "答：你好" {
		t.Errorf("delivered %q", got)
	}
}

func TestAMessageInHandIsLeftToItsHolder(t *testing.T) {
	f := newFixture(t, nil)
	ev := event("m1", "你好", clock)
	holder := chat.Attempt{RequestID: "another-invocation", Instance: "instance-2"}
	if _, _, ok, err := f.receipts.Claim(t.Context(), ev.Message, holder, time.Hour); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if err := f.handle(t, "r1", ev); !retry.Retryable(err) {
		t.Errorf("Handle = %v, want a retryable refusal", err)
	}
	if f.askedCount() != 0 {
		t.Error("the model was asked for a message another invocation is answering")
	}
	// FC's retry of the holder's invocation, which has ended, takes the
	// message over at once, on any instance.
	if err := f.deliver(t, f.svc, fcruntime.Invocation{RequestID: holder.RequestID, RetryCount: 1}, ev); err != nil || f.askedCount() != 1 {
		t.Errorf("the holder's retry: %v, model asked %d times", err, f.askedCount())
	}
	if len(f.out.recovered) != 1 || f.out.recovered[0].Retry != 1 {
		t.Errorf("recovered %v; FC's retry must finish what the dead attempt left open", f.out.recovered)
	}
}

func TestTwoDeliveriesOfOneAttemptAtOnceAnswerOnce(t *testing.T) {
	for _, sameInstance := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			f := newFixture(t, func(_ context.Context, p chat.Prompt) (string, error) {
				<-release
				return "答：" + p.Question, nil
			})
			second := f.instance("instance-2")
			if sameInstance {
				second = f.svc // FC may hand both to one instance
			}
			ev := event("m1", "你好", clock)
			inv := fcruntime.Invocation{RequestID: "r1"}
			errs := make(chan error, 2)
			for _, svc := range []*Service{f.svc, second} {
				go func() { errs <- f.deliver(t, svc, inv, ev) }()
			}
			// Let both find the message before the model answers: one
			// waits for the model, the other polls the message in the
			// bubble's time.
			synctest.Wait()
			if f.askedCount() == 0 {
				t.Fatal("neither delivery asked the model")
			}
			time.Sleep(20 * time.Millisecond) // two polls of the waiting one, in the bubble's time
			close(release)
			for range 2 {
				if err := <-errs; err != nil {
					t.Errorf("same instance %v: a delivery failed, which FC would retry: %v", sameInstance, err)
				}
			}
			if f.askedCount() != 1 || f.out.count(conversationID) != 1 {
				t.Errorf("same instance %v: model asked %d times, %d answers; want one of each", sameInstance, f.askedCount(), f.out.count(conversationID))
			}
		})
	}
}

func TestALongAnswerGoesOutInPiecesAndARetryDeliversOnlyWhatIsMissing(t *testing.T) {
	long := strings.Repeat("长", 30) + strings.Repeat("文", 30)
	f := newFixture(t, func(context.Context, chat.Prompt) (string, error) { return long, nil })
	f.out.pieceRunes = 20
	failed := false
	f.out.fail = func(piece int) error {
		if piece == 1 && !failed {
			failed = true
			return retry.Mark(errors.New("HTTP 502"))
		}
		return nil
	}
	ev := event("m1", "写长文", clock)
	if err := f.handle(t, "r1", ev); !retry.Retryable(err) {
		t.Fatalf("a failed piece must be retried: %v", err)
	}
	if err := f.handle(t, "r1", ev); err != nil {
		t.Fatal(err)
	}
	f.out.mu.Lock()
	got := f.out.delivered[conversationID]
	f.out.mu.Unlock()
	if strings.Join(got, "") != long || len(got) != 3 {
		t.Errorf("%d pieces delivered, carrying %q; want each of the 3 once", len(got), strings.Join(got, ""))
	}
	if f.askedCount() != 1 {
		t.Errorf("model asked %d times; want one model call", f.askedCount())
	}
}

// The first delivery of an attempt fails and gives the message up while
// its twin waits: the twin must not answer, and fails as the first did, so
// that FC retries whichever of the two outcomes it counts for the attempt.
func TestATwinFailsAsTheFirstDeliveryDidAndLeavesTheMessageToFCsRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		failing := true
		f := newFixture(t, func(_ context.Context, p chat.Prompt) (string, error) {
			<-release
			return "答：" + p.Question, nil
		})
		f.out.fail = func(int) error {
			if failing {
				return retry.Mark(errors.New("sending too fast"))
			}
			return nil
		}
		ev := event("m1", "你好", clock)
		first := make(chan error, 1)
		go func() { first <- f.deliver(t, f.svc, fcruntime.Invocation{RequestID: "r1"}, ev) }()
		synctest.Wait() // the first holds the message and waits for the model
		if f.askedCount() == 0 {
			t.Fatal("the first delivery did not ask the model")
		}
		twin := make(chan error, 1)
		go func() { twin <- f.deliver(t, f.instance("instance-2"), fcruntime.Invocation{RequestID: "r1"}, ev) }()
		time.Sleep(20 * time.Millisecond) // the twin polls the message, in the bubble's time
		close(release)
		if err := <-first; !retry.Retryable(err) {
			t.Fatalf("the first delivery: %v, want a retryable failure", err)
		}
		if err := <-twin; !retry.Retryable(err) {
			t.Errorf("the twin: %v; want the first's retryable failure, lest FC count a success for an unanswered message", err)
		}
		if n := f.askedCount(); n != 1 {
			t.Errorf("the model was asked %d times; the twin must leave the message to FC's retry", n)
		}
		failing = false
		if err := f.deliver(t, f.instance("instance-3"), fcruntime.Invocation{RequestID: "r1", RetryCount: 1}, ev); err != nil {
			t.Fatal(err)
		}
		if got := f.out.last(conversationID); got != "答：你好" || f.out.count(conversationID) != 1 {
			t.Errorf("delivered %d answers, the last %q; want the one answer, by FC's retry", f.out.count(conversationID), got)
		}
	})
}

// The instance of the delivery holding a message dies while its twin
// waits: once the dead holder's lease runs out the twin fails, so that FC
// retries even if it counts the twin's outcome for the attempt.
func TestATwinOfAHolderThatDiedFailsOnceTheLeaseRunsOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		f.runClock()
		ev := event("m1", "你好", clock)
		dead := chat.Attempt{RequestID: "r1", Instance: "instance-dead.1"}
		if _, _, ok, err := f.receipts.Claim(t.Context(), ev.Message, dead, f.cfg.ClaimLease); !ok || err != nil {
			t.Fatalf("claim: %v %v", ok, err)
		}
		if err := f.deliver(t, f.svc, fcruntime.Invocation{RequestID: "r1"}, ev); !retry.Retryable(err) {
			t.Fatalf("the twin of a dead holder: %v; want a retryable failure", err)
		}
		if n := f.askedCount(); n != 0 {
			t.Errorf("the twin asked the model %d times; FC's retry answers", n)
		}
		if err := f.deliver(t, f.svc, fcruntime.Invocation{RequestID: "r1", RetryCount: 1}, ev); err != nil {
			t.Fatal(err)
		}
		if got := f.out.last(conversationID); got != "答：你好" || f.out.count(conversationID) != 1 {
			t.Errorf("delivered %d answers, the last %q; want the one answer, by FC's retry", f.out.count(conversationID), got)
		}
	})
}

// An answer that takes several leases keeps its claim: another invocation
// of the message, trying all along, never takes it.
func TestALongAnswerKeepsItsClaim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := newFixture(t, func(_ context.Context, p chat.Prompt) (string, error) {
			<-release
			return "答：" + p.Question, nil
		})
		f.runClock()
		ev := event("m1", "你好", clock)
		first := make(chan error, 1)
		go func() { first <- f.handle(t, "r1", ev) }()
		synctest.Wait() // the first holds the message and waits for the model
		if f.askedCount() == 0 {
			t.Fatal("the first delivery did not ask the model")
		}
		other := f.instance("instance-2")
		for range 25 { // five leases
			time.Sleep(f.cfg.ClaimLease / 5) // in the bubble's time
			if err := f.deliver(t, other, fcruntime.Invocation{RequestID: "r2"}, ev); !retry.Retryable(err) {
				t.Fatalf("another invocation while the first answers: %v; want it refused for now", err)
			}
		}
		close(release)
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		if f.askedCount() != 1 || f.out.count(conversationID) != 1 {
			t.Errorf("model asked %d times, %d answers; want one of each", f.askedCount(), f.out.count(conversationID))
		}
	})
}

// renewals are Receipts whose renewals fail while failing is set, as when
// the bucket cannot be reached from one instance.
type renewals struct {
	Receipts
	failing atomic.Bool
}

func (r *renewals) Renew(ctx context.Context, m chat.Message, a chat.Attempt, lease time.Duration) error {
	if r.failing.Load() {
		return errors.New("HTTP 503: service unavailable")
	}
	return r.Receipts.Renew(ctx, m, a, lease)
}

// A holder cut off from the bucket for longer than its lease loses the
// message to another invocation; when its model answers, it keeps and
// posts nothing and ends without a failure, for the message is answered by
// the one that took it.
func TestAHolderThatLostItsClaimKeepsAndPostsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var calls atomic.Int32
		f := newFixture(t, func(_ context.Context, p chat.Prompt) (string, error) {
			if calls.Add(1) == 1 {
				<-release // the cut-off holder's model
			}
			return "答：" + p.Question, nil
		})
		f.runClock()
		cut := &renewals{Receipts: f.receipts}
		cut.failing.Store(true)
		cutOff := f.instance("instance-cut")
		cutOff.claims.receipts = cut
		cutOff.writer.receipts = cut
		ev := event("m1", "你好", clock)
		first := make(chan error, 1)
		go func() { first <- f.deliver(t, cutOff, fcruntime.Invocation{RequestID: "r1"}, ev) }()
		synctest.Wait() // the first holds the message and waits for the model
		if f.askedCount() == 0 {
			t.Fatal("the first delivery did not ask the model")
		}
		time.Sleep(f.cfg.ClaimLease + f.cfg.ClaimLease/5) // the lease runs out, in the bubble's time
		if err := f.handle(t, "r2", ev); err != nil {
			t.Fatalf("another invocation after the holder's lease ran out: %v", err)
		}
		cut.failing.Store(false)
		close(release)
		if err := <-first; err != nil {
			t.Errorf("the holder that lost the message: %v; want it to end quietly", err)
		}
		if f.askedCount() != 2 || f.out.count(conversationID) != 1 {
			t.Errorf("model asked %d times, %d answers; want the one answer of the invocation that took the message", f.askedCount(), f.out.count(conversationID))
		}
		if turns, err := f.history.Load(t.Context(), ev.Message.HistoryOwner(), 10); err != nil || len(turns) != 1 {
			t.Errorf("history holds %d turns (%v); want the one turn", len(turns), err)
		}
	})
}

func TestAMessageWithoutCreateAtIsDatedByItsReceipt(t *testing.T) {
	f := newFixture(t, nil)
	ev := event("m1", "你好", clock)
	ev.Message.CreatedAt = time.Time{}
	ev.ReceivedAt = clock.Add(-48 * time.Hour)
	for range 2 {
		if err := f.handle(t, "r1", ev); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.out.count(conversationID); n != 1 {
		t.Errorf("%d answers to one message delivered twice", n)
	}
	days, err := os.ReadDir(filepath.Join(f.root, "messages", "v1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range days {
		if d.Name() != ev.ReceivedAt.UTC().Format("20060102") {
			t.Errorf("a receipt kept under day %s, which is never pruned; want the day it was received", d.Name())
		}
	}
}
