package dingtalk_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// outboxClock is the instant of every outbox test; webhooks expire by it.
var outboxClock = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// outboxWorld is a fake DingTalk and an Outbox that answers through it.
type outboxWorld struct {
	fake   *dingtalktest.Server
	outbox *dingtalk.Outbox
}

// newOutbox starts a fake DingTalk and an Outbox of it; withAPI gives the
// Outbox the app's OpenAPI, card sets its AI card.
func newOutbox(t *testing.T, withAPI bool, card dingtalk.CardConfig, opts ...dingtalktest.Option) outboxWorld {
	t.Helper()
	fake := dingtalktest.NewServer(append([]dingtalktest.Option{dingtalktest.WithClock(func() time.Time { return outboxClock })}, opts...)...)
	t.Cleanup(fake.Close)
	fake.SetApp(appKey, appSecret)
	fake.AddCardTemplate(templateID, contentKey)
	cfg := dingtalk.OutboxConfig{
		Webhooks:  dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: fake.Client(), AllowedHosts: []string{fake.Host()}, Retry: fastRetries()}),
		RobotCode: appKey,
		Card:      card,
		Now:       func() time.Time { return outboxClock },
	}
	if withAPI {
		cfg.OpenAPI = dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{
			HTTPClient: fake.Client(), BaseURL: fake.URL(), AppKey: appKey, AppSecret: appSecret,
			Retry: fastRetries(), Now: func() time.Time { return outboxClock },
		})
	}
	return outboxWorld{fake: fake, outbox: dingtalk.NewOutbox(cfg)}
}

// message is a message from the fake's conversation: a single chat with a
// member of the company unless group.
func (w outboxWorld) message(group bool) chat.Message {
	m := chat.Message{
		ID: "msg-1", Type: "text", Text: "你好", ConversationID: "cidSingle", ConversationType: chat.SingleChat,
		SenderID: "sender-1", SenderStaffID: staffID, SenderNick: "张三",
		WebhookExpiresAt: outboxClock.Add(time.Hour), CreatedAt: outboxClock.Add(-time.Minute),
	}
	if group {
		m.ConversationID, m.ConversationType = groupID, chat.GroupChat
	}
	m.Webhook = w.fake.WebhookURL(w.fake.Session(m.ConversationID))
	return m
}

// deliver delivers text to m and returns the error and the pieces it was
// told reached the conversation.
func (w outboxWorld) deliver(t *testing.T, a chat.Answer) ([]int, error) {
	t.Helper()
	var pieces []int
	a.OnDelivered = func(piece int) { pieces = append(pieces, piece) }
	err := w.outbox.Deliver(t.Context(), a)
	return pieces, err
}

func (w outboxWorld) posted(m chat.Message) []string {
	var out []string
	session := w.fake.Session(m.ConversationID)
	for _, p := range w.fake.Posts() {
		if p.Session == session && p.Errcode == 0 {
			out = append(out, p.Content())
		}
	}
	return out
}

func TestOutboxAtsTheAskerInAGroup(t *testing.T) {
	w := newOutbox(t, false, dingtalk.CardConfig{})
	m := w.message(true)
	if _, err := w.deliver(t, chat.Answer{To: m, Text: "答：你好"}); err != nil {
		t.Fatal(err)
	}
	posts := w.fake.Posts()
	if len(posts) != 1 {
		t.Fatalf("%d posts", len(posts))
	}
	got := posts[0].Message
	if got.Markdown == nil || got.Markdown.Text != "@manager4321\n\n答：你好" || got.At == nil || len(got.At.AtUserIDs) != 1 || got.At.AtUserIDs[0] != staffID {
		t.Errorf("posted %+v %+v; want a markdown answer that @s %s", got.Markdown, got.At, staffID)
	}
}

func TestOutboxTellsWhatARetryMends(t *testing.T) {
	tests := []struct {
		name    string
		errcode int
		retry   bool
	}{
		{"sending too fast", dingtalk.ErrcodeTooFast, true},
		{"session gone, no OpenAPI", dingtalk.ErrcodeSessionNotFound, false},
		{"content rejected", 430101, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newOutbox(t, false, dingtalk.CardConfig{})
			w.fake.FailNext(100, tt.errcode, "refused")
			m := w.message(false)
			pieces, err := w.deliver(t, chat.Answer{To: m, Text: "答"})
			if err == nil || retry.Retryable(err) != tt.retry {
				t.Errorf("Deliver = %v, retryable %v, want an error, retryable %v", err, retry.Retryable(err), tt.retry)
			}
			if tt.retry == (len(pieces) != 0) {
				t.Errorf("pieces recorded %v: a retryable failure records none, a final one counts the piece done", pieces)
			}
		})
	}
	t.Run("a transport failure", func(t *testing.T) {
		w := newOutbox(t, false, dingtalk.CardConfig{})
		m := w.message(false)
		w.fake.Close()
		if _, err := w.deliver(t, chat.Answer{To: m, Text: "答"}); !retry.Retryable(err) {
			t.Errorf("Deliver = %v, want a retryable error", err)
		}
	})
}

func TestOutboxRefusesWhatNoAnswerCanReach(t *testing.T) {
	w := newOutbox(t, false, dingtalk.CardConfig{})
	m := w.message(false)
	if err := w.outbox.Reachable(m); err != nil {
		t.Errorf("a live webhook on an allowed host: %v", err)
	}
	foreign := m
	foreign.Webhook = "http://169.254.169.254/latest/meta-data"
	if err := w.outbox.Reachable(foreign); err == nil || !strings.Contains(err.Error(), "SESSION_WEBHOOK_HOSTS") {
		t.Errorf("a foreign webhook: %v", err)
	}
	expired := m
	expired.WebhookExpiresAt = outboxClock.Add(-time.Minute)
	if err := w.outbox.Reachable(expired); err == nil || !strings.Contains(err.Error(), "DINGTALK_APP_KEY") {
		t.Errorf("an expired webhook without the OpenAPI: %v", err)
	}
	if err := newOutbox(t, true, dingtalk.CardConfig{}).outbox.Reachable(expired); err != nil {
		t.Errorf("an expired webhook with the OpenAPI to answer through: %v", err)
	}
}

func TestOutboxAnswersThroughTheOpenAPIOnceTheWebhookExpired(t *testing.T) {
	w := newOutbox(t, true, dingtalk.CardConfig{})
	// DingTalk says the session is gone.
	single := w.message(false)
	w.fake.ExpireSession(w.fake.Session(single.ConversationID))
	if _, err := w.deliver(t, chat.Answer{To: single, Text: "答：你好"}); err != nil {
		t.Fatal(err)
	}
	// The webhook's expiry time has passed: it is not even tried.
	group := w.message(true)
	group.WebhookExpiresAt = outboxClock.Add(-time.Minute)
	if _, err := w.deliver(t, chat.Answer{To: group, Text: "群里"}); err != nil {
		t.Fatal(err)
	}
	if got := w.posted(group); len(got) != 0 {
		t.Errorf("posted to an expired webhook: %v", got)
	}
	sent := w.fake.OpenAPIPosts()
	if len(sent) != 2 || sent[0].Kind != dingtalktest.OpenAPIOToMessages || len(sent[0].UserIDs) != 1 || sent[0].UserIDs[0] != staffID ||
		sent[1].Kind != dingtalktest.OpenAPIGroupMessages || sent[1].OpenConversationID != groupID {
		t.Fatalf("OpenAPI sends %+v", sent)
	}
	if sent[0].RobotCode != appKey || sent[0].Content != "答：你好" || sent[1].Content != "@张三\n\n群里" {
		t.Errorf("sent %q and %q by %s; want the answers, the group's naming the asker", sent[0].Content, sent[1].Content, sent[0].RobotCode)
	}
}

func TestOutboxDeliversALongAnswerInPiecesAndOnlyWhatIsMissing(t *testing.T) {
	long := strings.Repeat("长", 7000) + "\n\n" + strings.Repeat("文", 7000) // 42 KB
	w := newOutbox(t, false, dingtalk.CardConfig{})
	m := w.message(false)
	pieces, err := w.deliver(t, chat.Answer{To: m, Text: long})
	if err != nil {
		t.Fatal(err)
	}
	// 14,002 characters, in markdown messages of at most 3,500.
	if len(pieces) != 5 {
		t.Fatalf("pieces %v; want 5", pieces)
	}
	first := w.posted(m)
	// A retry that finds four pieces delivered delivers the fifth alone.
	again, err := w.deliver(t, chat.Answer{To: m, Text: long, Delivered: 4})
	if err != nil || len(again) != 1 || again[0] != 4 {
		t.Fatalf("the retry delivered pieces %v (%v); want piece 4 alone", again, err)
	}
	all := w.posted(m)
	if strings.Join(first, "") != long || len(all) != 6 || all[5] != all[4] {
		t.Errorf("the pieces do not carry the whole answer (%d posts)", len(all))
	}
	for i, p := range all {
		if n := utf8.RuneCountInString(p); len(p) > dingtalk.MaxMessageBytes || n > dingtalk.DefaultMarkdownMaxChars {
			t.Errorf("piece %d is %d bytes, %d characters", i, len(p), n)
		}
	}
}

// attempt1 is the first delivery of an invocation.
var attempt1 = chat.Attempt{RequestID: "req-1", Instance: "i-1"}

// cardConfig is an AI card that is updated at most every 20 ms.
var cardConfig = dingtalk.CardConfig{TemplateID: templateID, ContentKey: contentKey, Interval: 20 * time.Millisecond}

// write shows an answer on d as a model streams it: a rune at a time, one
// every gap (of a synctest bubble's time).
func write(d chat.Draft, answer string, gap time.Duration) {
	var soFar strings.Builder
	for _, r := range answer {
		soFar.WriteRune(r)
		d.Show(soFar.String())
		time.Sleep(gap)
	}
}

func TestOutboxStreamsAnAnswerIntoACardWhoseLastUpdateHoldsItAll(t *testing.T) {
	answer := "Go 的 context 包用来传递取消信号、截止时间和请求范围的值。"
	for _, group := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			w := newOutbox(t, true, cardConfig, dingtalktest.InMemory())
			m := w.message(group)
			d := w.outbox.Open(t.Context(), m, attempt1)
			if d == nil {
				t.Fatal("no card for a member of the company")
			}
			write(d, answer, time.Millisecond)
			pieces, err := w.deliver(t, chat.Answer{To: m, Text: answer, Draft: d})
			if err != nil || len(pieces) != 1 || pieces[0] != 0 {
				t.Fatalf("Deliver = %v, pieces %v; want the card to hold piece 0", err, pieces)
			}
			cards := w.fake.Cards()
			if len(cards) != 1 {
				t.Fatalf("%d cards", len(cards))
			}
			c := cards[0]
			wantSpace := "dtv1.card//IM_ROBOT." + staffID
			if group {
				wantSpace = "dtv1.card//IM_GROUP." + groupID
			}
			if c.OpenSpaceID != wantSpace || c.RobotCode != appKey || c.TemplateID != templateID || !c.Finalized() {
				t.Errorf("card %+v; want a finished card from the template in %s, delivered by the robot", c, wantSpace)
			}
			n := len(c.Updates)
			if n < 2 || n >= len([]rune(answer)) {
				t.Errorf("%d updates for %d runes; want several, throttled", n, len([]rune(answer)))
			}
			for i, u := range c.Updates {
				if u.IsFinalize != (i == n-1) {
					t.Errorf("update %d finalize %v; want only the last", i, u.IsFinalize)
				}
			}
			if got := c.Content(contentKey); got != answer {
				t.Errorf("the card ends with %q; want the whole answer %q", got, answer)
			}
			if got := w.posted(m); len(got) != 0 {
				t.Errorf("the webhook got %q; the card alone should answer", got)
			}
		})
	}
}

func TestOutboxShowsAPlaceholderUntilTheAnswerComes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newOutbox(t, true, cardConfig, dingtalktest.InMemory())
		m := w.message(false)
		d := w.outbox.Open(t.Context(), m, attempt1)
		// While the model only thinks, nothing new is shown: the card keeps
		// the placeholder it was created with, and no update blanks it.
		for range 5 {
			d.Show("")
			time.Sleep(cardConfig.Interval) // in the bubble's time
		}
		cards, err := w.fake.WaitCards(t.Context(), 1, false)
		if err != nil {
			t.Fatal(err)
		}
		if c := cards[0]; c.Data[contentKey] != "思考中…" || len(c.Updates) != 0 {
			t.Errorf("the card was created showing %q and updated %d times; want the placeholder and no update", c.Data[contentKey], len(c.Updates))
		}
		if _, err := w.deliver(t, chat.Answer{To: m, Text: "答", Draft: d}); err != nil {
			t.Fatal(err)
		}
		if got := w.fake.Cards()[0].Content(contentKey); got != "答" {
			t.Errorf("the card ends with %q", got)
		}
	})
}

func TestOutboxFallsBackToTheWebhookWhenTheCardFails(t *testing.T) {
	answer := "第一句第二句第三句"
	for name, fail := range map[string]func(*dingtalktest.Server){
		"creation refused": func(s *dingtalktest.Server) { s.DenyCardPermission(true) },
		"an update refused": func(s *dingtalktest.Server) {
			s.FailCardStreamingNext(1, 400, "param.stream.content", "content is too large")
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := newOutbox(t, true, cardConfig)
			fail(w.fake)
			m := w.message(false)
			d := w.outbox.Open(t.Context(), m, attempt1)
			write(d, answer, 5*time.Millisecond)
			pieces, err := w.deliver(t, chat.Answer{To: m, Text: answer, Draft: d})
			if err != nil || len(pieces) != 1 {
				t.Fatalf("Deliver = %v, pieces %v", err, pieces)
			}
			if got := w.posted(m); len(got) != 1 || got[0] != answer {
				t.Errorf("webhook got %q; want the whole answer %q", got, answer)
			}
			for _, c := range w.fake.Cards() {
				if c.Finalized() && !strings.Contains(c.Content(contentKey), "完整回答见下一条消息") {
					t.Errorf("the failed card was finished with %q; want it to point to the message", c.Content(contentKey))
				}
			}
		})
	}
}

func TestOutboxOpensNoCardForAnExternalUserInASingleChat(t *testing.T) {
	w := newOutbox(t, true, cardConfig)
	m := w.message(false)
	m.SenderStaffID = "" // DingTalk cannot deliver them a card
	if d := w.outbox.Open(t.Context(), m, attempt1); d != nil {
		t.Errorf("Open = %v; want no card", d)
	}
	if d := newOutbox(t, false, cardConfig).outbox.Open(t.Context(), w.message(true), attempt1); d != nil {
		t.Errorf("Open without the OpenAPI = %v; want no card", d)
	}
}

func TestOutboxCardsOfTwoAttemptsAreTwoCards(t *testing.T) {
	w := newOutbox(t, true, cardConfig)
	m := w.message(false)
	var wg sync.WaitGroup
	for _, attempt := range []chat.Attempt{attempt1, {RequestID: "req-1", Retry: 1, Instance: "i-2"}} {
		d := w.outbox.Open(t.Context(), m, attempt)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.outbox.Deliver(context.WithoutCancel(t.Context()), chat.Answer{To: m, Text: "答", Draft: d}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if cards := w.fake.Cards(); len(cards) != 2 || cards[0].OutTrackID == cards[1].OutTrackID {
		t.Errorf("cards %+v; want one per attempt", cards)
	}
}

func TestOutboxALongAnswerFillsOneCardAndGoesOnInMessages(t *testing.T) {
	answer := strings.Repeat("这是一段很长的回答。\n\n", 1000) // 12,000 characters
	w := newOutbox(t, true, cardConfig)
	m := w.message(false)
	d := w.outbox.Open(t.Context(), m, attempt1)
	write(d, answer[:3000], 0)
	pieces, err := w.deliver(t, chat.Answer{To: m, Text: answer, Draft: d})
	if err != nil {
		t.Fatal(err)
	}
	card := w.fake.Cards()[0]
	content := card.Content(contentKey)
	if card.Blank(contentKey) || !strings.HasSuffix(content, "后续内容见下方消息。）") {
		t.Errorf("the card holds %d characters ending %q; want at most %d, saying the answer goes on", utf8.RuneCountInString(content), content[max(len(content)-30, 0):], dingtalktest.CardRenderChars)
	}
	posts := w.posted(m)
	if len(pieces) != len(posts)+1 || len(posts) < 3 {
		t.Fatalf("%d pieces, %d messages; want the card and then messages", len(pieces), len(posts))
	}
	whole := strings.TrimSuffix(content, "\n\n（回答较长，后续内容见下方消息。）") + strings.Join(posts, "")
	if whole != answer {
		t.Error("the card and the messages do not carry the whole answer, character for character")
	}
	// A retry without the card (it finished, the first message failed)
	// posts the same pieces as messages: none is lost, none repeated.
	w2 := newOutbox(t, true, cardConfig)
	m2 := w2.message(false)
	again, err := w2.deliver(t, chat.Answer{To: m2, Text: answer, Delivered: 1})
	if err != nil || len(again) != len(pieces)-1 || strings.Join(w2.posted(m2), "") != strings.Join(posts, "") {
		t.Errorf("the retry delivered pieces %v (%v); want the card's followers, the same messages", again, err)
	}
}

func TestOutboxFinishesTheCardADeadAttemptLeftOpen(t *testing.T) {
	w := newOutbox(t, true, cardConfig)
	m := w.message(false)
	d := w.outbox.Open(t.Context(), m, attempt1)
	write(d, "写到一半", time.Millisecond)
	if _, err := w.fake.WaitCards(t.Context(), 1, false); err != nil {
		t.Fatal(err)
	}
	// The attempt dies here, its card unfinished; FC's retry, on another
	// instance, finishes it before answering.
	retry := chat.Attempt{RequestID: attempt1.RequestID, Retry: 1, Instance: "i-2"}
	w.outbox.Recover(t.Context(), m, retry)
	c := w.fake.Cards()[0]
	if !c.Finalized() || !strings.Contains(c.Content(contentKey), "完整的回答见下方") {
		t.Errorf("the dead attempt's card: finalized %v, showing %q; want it finished, pointing below", c.Finalized(), c.Content(contentKey))
	}
	// The retry's own card is a new one.
	d2 := w.outbox.Open(t.Context(), m, retry)
	if _, err := w.deliver(t, chat.Answer{To: m, Text: "完整的回答", Draft: d2}); err != nil {
		t.Fatal(err)
	}
	cards := w.fake.Cards()
	if len(cards) != 2 || cards[1].Content(contentKey) != "完整的回答" || cards[0].OutTrackID == cards[1].OutTrackID {
		t.Errorf("cards %+v; want the retry's answer in a card of its own", cards)
	}
}

func TestOutboxUpdatesACardAtMostMaxUpdatesTimes(t *testing.T) {
	cfg := cardConfig
	cfg.Interval, cfg.MaxUpdates = 10*time.Millisecond, 4
	w := newOutbox(t, true, cfg)
	m := w.message(false)
	d := w.outbox.Open(t.Context(), m, attempt1)
	answer := strings.Repeat("很长的回答，", 60)
	write(d, answer, 2*time.Millisecond) // about 0.7 s of writing
	if _, err := w.deliver(t, chat.Answer{To: m, Text: answer, Draft: d}); err != nil {
		t.Fatal(err)
	}
	c := w.fake.Cards()[0]
	if n := len(c.Updates); n != cfg.MaxUpdates+1 {
		t.Errorf("%d updates; want %d streaming ones and the final", n, cfg.MaxUpdates)
	}
	if c.Content(contentKey) != answer || !c.Finalized() {
		t.Error("the final update does not show the whole answer")
	}
}

func TestOutboxKeepsWithinTheMonthsOpenAPICalls(t *testing.T) {
	fake := dingtalktest.NewServer(dingtalktest.WithClock(func() time.Time { return outboxClock }))
	t.Cleanup(fake.Close)
	fake.SetApp(appKey, appSecret)
	fake.AddCardTemplate(templateID, contentKey)
	var calls atomic.Int64
	const budget = 25
	outbox := dingtalk.NewOutbox(dingtalk.OutboxConfig{
		Webhooks: dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: fake.Client(), AllowedHosts: []string{fake.Host()}, Retry: fastRetries()}),
		OpenAPI: dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{
			HTTPClient: fake.Client(), BaseURL: fake.URL(), AppKey: appKey, AppSecret: appSecret,
			Retry: fastRetries(), OnCall: func() { calls.Add(1) },
		}),
		RobotCode: appKey, Card: cardConfig, Now: func() time.Time { return outboxClock },
		CallsLeft: func() (int, bool) { return budget - int(calls.Load()), true },
	})
	w := outboxWorld{fake: fake, outbox: outbox}
	m := w.message(false)
	// The first answer fits the budget: a card.
	d := outbox.Open(t.Context(), m, attempt1)
	if d == nil {
		t.Fatal("no card with the whole budget left")
	}
	write(d, "第一个回答", time.Millisecond)
	if _, err := w.deliver(t, chat.Answer{To: m, Text: "第一个回答", Draft: d}); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n < 3 || n > 3+dingtalk.DefaultCardMaxUpdates {
		t.Errorf("the card cost %d calls", n)
	}
	// Fewer calls left than a card costs: a message, no OpenAPI call.
	before := calls.Load()
	if d := outbox.Open(t.Context(), m, chat.Attempt{RequestID: "req-2"}); d != nil {
		t.Fatalf("a card with %d calls left", budget-calls.Load())
	}
	if _, err := w.deliver(t, chat.Answer{To: m, Text: "第二个回答"}); err != nil || calls.Load() != before {
		t.Errorf("the message cost %d OpenAPI calls (%v); want none", calls.Load()-before, err)
	}
	// None left: an expired webhook's answer is not sent through the OpenAPI.
	calls.Store(budget)
	expired := m
	expired.WebhookExpiresAt = outboxClock.Add(-time.Minute)
	if _, err := w.deliver(t, chat.Answer{To: expired, Text: "过期"}); err == nil || calls.Load() != budget {
		t.Errorf("with the budget spent: %v, %d calls; want the answer refused, no call", err, calls.Load()-budget)
	}
}
