package reply

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
)

// cardBoard records the cards a Service made and can refuse them.
type cardBoard struct {
	mu        sync.Mutex
	created   []dingtalk.Card
	updates   []dingtalk.CardUpdate
	createErr error
	// failUpdate fails the update with this index (1-based), 0 for none.
	failUpdate int
}

func (b *cardBoard) CreateAndDeliverCard(_ context.Context, c dingtalk.Card) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.createErr != nil {
		return b.createErr
	}
	b.created = append(b.created, c)
	return nil
}

func (b *cardBoard) StreamCard(_ context.Context, u dingtalk.CardUpdate) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.updates)+1 == b.failUpdate {
		b.failUpdate = 0
		return &dingtalk.OpenAPIError{StatusCode: 403, Code: "Forbidden.AccessDenied.QpsLimitForApi", Message: "too fast"}
	}
	b.updates = append(b.updates, u)
	return nil
}

// streamingModel writes its answer in pieces, a little apart, as a model
// streams.
type streamingModel struct {
	pieces []string
	gap    time.Duration
}

func (m streamingModel) CompleteWithImages(context.Context, []chat.Turn, string, []chat.Image) (string, error) {
	return strings.Join(m.pieces, ""), nil
}

func (m streamingModel) Stream(ctx context.Context, _ []chat.Turn, _ string, _ []chat.Image, onDelta func(string) error) (string, error) {
	var soFar string
	for _, p := range m.pieces {
		time.Sleep(m.gap)
		soFar += p
		if err := onDelta(soFar); err != nil {
			return "", err
		}
	}
	return soFar, nil
}

func newCardFixture(t *testing.T, model Model, board *cardBoard) *fixture {
	t.Helper()
	f := newFixture(t, nil)
	f.svc.cfg.Model = model
	f.svc.cfg.Cards = board
	f.svc.cfg.Card = CardConfig{TemplateID: "tpl.schema", ContentKey: "content", Interval: 20 * time.Millisecond}
	f.svc.cfg.RobotCode = "dingrobot"
	return f
}

func groupEvent(id, text string) chat.Event {
	ev := event(id, text, clock)
	ev.Message.ConversationType = chat.GroupChat
	ev.Message.ConversationID = "cidGroup"
	ev.Message.SenderStaffID = "manager4321"
	ev.Message.SenderNick = "张三"
	return ev
}

func TestAnAnswerStreamsIntoACardAndItsLastUpdateHoldsItAll(t *testing.T) {
	pieces := strings.Split("<think>先想一想</think>Go 的 context 包用来传递取消信号、截止时间和请求范围的值。", "")
	board := &cardBoard{}
	f := newCardFixture(t, streamingModel{pieces: pieces, gap: time.Millisecond}, board)
	ev := groupEvent("m1", "context 是什么")
	if err := f.svc.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if len(board.created) != 1 {
		t.Fatalf("%d cards created; want 1", len(board.created))
	}
	c := board.created[0]
	if c.GroupID != "cidGroup" || c.UserID != "" || c.RobotCode != "dingrobot" || c.TemplateID != "tpl.schema" {
		t.Errorf("card %+v; want the group's card from the template, delivered by the robot", c)
	}
	n := len(board.updates)
	if n < 2 || n >= len(pieces) {
		t.Errorf("%d updates for %d pieces; want several, throttled", n, len(pieces))
	}
	want := "Go 的 context 包用来传递取消信号、截止时间和请求范围的值。"
	for i, u := range board.updates {
		if u.OutTrackID != c.OutTrackID || u.Key != "content" {
			t.Errorf("update %d %+v; want card %s, key content", i, u, c.OutTrackID)
		}
		if strings.Contains(u.Content, "先想") || strings.Contains(u.Content, "think") {
			t.Errorf("update %d shows the reasoning: %q", i, u.Content)
		}
		if u.Finalize != (i == n-1) {
			t.Errorf("update %d finalize %v; want only the last", i, u.Finalize)
		}
	}
	if last := board.updates[n-1]; last.Content != want {
		t.Errorf("last update %q; want the whole answer %q", last.Content, want)
	}
	if got := f.out.last(ev.Message.Webhook); got != "" {
		t.Errorf("webhook got %q; the card alone should answer", got)
	}
	turns, _ := f.history.Load(context.Background(), ev.Message.HistoryOwner(), 5)
	if len(turns) != 1 || turns[0].Answer != want {
		t.Errorf("history %+v; want the answer without its reasoning", turns)
	}
}

func TestACardFailureFallsBackToTheWebhookWithTheWholeAnswer(t *testing.T) {
	answer := "第一句。第二句。第三句。"
	for name, board := range map[string]*cardBoard{
		"creation refused":  {createErr: &dingtalk.OpenAPIError{StatusCode: 403, Code: dingtalk.CodePermissionDenied, Message: "no Card.Instance.Write"}},
		"an update refused": {failUpdate: 2},
	} {
		t.Run(name, func(t *testing.T) {
			f := newCardFixture(t, streamingModel{pieces: strings.Split(answer, "。"), gap: 5 * time.Millisecond}, board)
			ev := event("m1", "说三句", clock)
			ev.Message.SenderStaffID = "manager4321"
			if err := f.svc.Handle(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			if got, want := f.out.last(ev.Message.Webhook), strings.ReplaceAll(answer, "。", ""); got != want {
				t.Errorf("webhook got %q; want the whole answer %q", got, want)
			}
			for _, u := range board.updates {
				if u.Finalize && !strings.Contains(u.Content, cardAbandonedText) {
					t.Errorf("the failed card was finished with %q; want it to point to the message", u.Content)
				}
			}
		})
	}
}

func TestAnExternalUserInASingleChatGetsAMessageNotACard(t *testing.T) {
	board := &cardBoard{}
	f := newCardFixture(t, streamingModel{pieces: []string{"答"}}, board)
	ev := event("m1", "问", clock) // no staff id: DingTalk cannot deliver them a card
	if err := f.svc.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if len(board.created) != 0 || f.out.last(ev.Message.Webhook) != "答" {
		t.Errorf("cards %d, webhook %q; want no card and the answer posted", len(board.created), f.out.last(ev.Message.Webhook))
	}
}

func TestAGroupAnswerAtsTheAsker(t *testing.T) {
	f := newFixture(t, nil)
	var got dingtalk.WebhookMessage
	f.svc.cfg.Messenger = messengerFunc(func(msg dingtalk.WebhookMessage) { got = msg })
	if err := f.svc.Handle(context.Background(), groupEvent("m1", "你好")); err != nil {
		t.Fatal(err)
	}
	if got.Markdown == nil || got.Markdown.Text != "@manager4321\n\n答：你好" || got.At == nil || len(got.At.AtUserIDs) != 1 || got.At.AtUserIDs[0] != "manager4321" {
		t.Errorf("posted %+v %+v; want a markdown answer that @s manager4321", got.Markdown, got.At)
	}
}

// messengerFunc is a Messenger that hands each message to a function.
type messengerFunc func(dingtalk.WebhookMessage)

func (messengerFunc) Allowed(string) error { return nil }
func (f messengerFunc) Send(_ context.Context, _ string, msg dingtalk.WebhookMessage) error {
	f(msg)
	return nil
}

// visionModel answers with how many pictures it saw.
type visionModel struct{ seen [][]chat.Image }

func (v *visionModel) CompleteWithImages(_ context.Context, _ []chat.Turn, q string, images []chat.Image) (string, error) {
	v.seen = append(v.seen, images)
	return "看到了：" + q, nil
}

func (v *visionModel) Stream(context.Context, []chat.Turn, string, []chat.Image, func(string) error) (string, error) {
	return "", errors.New("not streamed")
}

type fileStore map[string]dingtalk.File

func (s fileStore) DownloadMessageFile(_ context.Context, _, code string, maxBytes int64) (dingtalk.File, error) {
	f, ok := s[code]
	if !ok {
		return dingtalk.File{}, &dingtalk.OpenAPIError{StatusCode: 400, Code: "invalidParameter", Message: "unknown downloadCode"}
	}
	if int64(len(f.Data)) > maxBytes {
		return dingtalk.File{}, dingtalk.ErrFileTooLarge
	}
	return f, nil
}

func TestPictures(t *testing.T) {
	png := dingtalk.File{ContentType: "image/png", Data: []byte("\x89PNG\r\n\x1a\n....")}
	tests := []struct {
		name      string
		vision    bool
		pictures  []string
		text      string
		want      string
		wantSeen  int
		wantTurnQ string
	}{
		{"seen by the vision model", true, []string{"pic"}, "", "看到了：请描述这张图片。", 1, "[图片]"},
		{"with words", true, []string{"pic", "pic"}, "哪张好看", "看到了：哪张好看", 2, "[图片] 哪张好看"},
		{"without a vision model", false, []string{"pic"}, "", unsupportedText("picture"), 0, ""},
		{"too large", true, []string{"big"}, "", "抱歉，图片太大了（上限 1 MB），请压缩后再发。", 0, ""},
		{"not to be had", true, []string{"gone"}, "", pictureUnavailableText, 0, ""},
		{"not a picture", true, []string{"pdf"}, "", pictureUnavailableText, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			v := &visionModel{}
			if tt.vision {
				f.svc.cfg.Vision = v
				f.svc.cfg.Files = fileStore{"pic": png, "big": {ContentType: "image/png", Data: make([]byte, 2<<20)}, "pdf": {ContentType: "application/pdf", Data: []byte("%PDF")}}
				f.svc.cfg.MaxPictureBytes = 1 << 20
			}
			ev := event("m1", tt.text, clock)
			ev.Message.Type, ev.Message.Pictures = "picture", tt.pictures
			if err := f.svc.Handle(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			if got := f.out.last(ev.Message.Webhook); got != tt.want {
				t.Errorf("answer %q; want %q", got, tt.want)
			}
			if tt.wantSeen > 0 && (len(v.seen) != 1 || len(v.seen[0]) != tt.wantSeen || v.seen[0][0].MediaType != "image/png") {
				t.Errorf("the vision model saw %v; want %d png pictures", v.seen, tt.wantSeen)
			}
			turns, _ := f.history.Load(context.Background(), ev.Message.HistoryOwner(), 5)
			if tt.wantTurnQ != "" && (len(turns) != 1 || turns[0].Question != tt.wantTurnQ) {
				t.Errorf("history %+v; want the question remembered as %q", turns, tt.wantTurnQ)
			}
		})
	}
}
