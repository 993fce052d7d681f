package reply

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
)

// Cards shows an answer in a DingTalk AI card while the model writes it
// (dingtalk.OpenAPI).
type Cards interface {
	CreateAndDeliverCard(ctx context.Context, c dingtalk.Card) error
	StreamCard(ctx context.Context, u dingtalk.CardUpdate) error
}

// CardConfig says which card template answers go into, and how.
type CardConfig struct {
	// TemplateID is the card template (CARD_TEMPLATE_ID).
	TemplateID string
	// ContentKey is the template's markdown variable that holds the
	// answer (CARD_CONTENT_KEY).
	ContentKey string
	// Interval is the least time between two updates of a card
	// (CARD_UPDATE_INTERVAL): DingTalk throttles a card updated faster.
	Interval time.Duration
}

// cardPlaceholder fills a card until the first words of the answer come.
const cardPlaceholder = "思考中…"

// cardReaches tells whether a card can carry the answer to m: DingTalk
// delivers a card to a group, or to a single chat by the user's staff id,
// which external users have not.
func (s *Service) cardReaches(m chat.Message) bool {
	return s.cfg.Cards != nil && (m.IsGroup() || m.SenderStaffID != "")
}

// cardStream is one card being written. Updates go out from a goroutine of
// their own, at most one per interval and always the latest text, so that
// neither a slow DingTalk holds up the model's stream nor a fast model
// floods DingTalk.
type cardStream struct {
	cards    Cards
	id, key  string
	interval time.Duration
	// render turns the model's text so far into the card's content.
	render func(soFar string) string

	mu     sync.Mutex
	latest string // the newest text offered, as the model wrote it

	wake chan struct{} // a new text was offered
	stop chan struct{} // closed by finish
	done chan struct{} // closed when the goroutine ends

	// Owned by the goroutine until done is closed.
	created  bool
	shown    string    // the content of the last update DingTalk took
	lastSent time.Time // when the last update was sent
	err      error     // why the card failed, nil while it works
}

// startCard creates and delivers a card for the answer to m, in the
// background, and returns the stream that fills it.
func (s *Service) startCard(ctx context.Context, m chat.Message) *cardStream {
	c := &cardStream{
		cards:    s.cfg.Cards,
		id:       outTrackID(m, logging.RequestID(ctx)),
		key:      s.cfg.Card.ContentKey,
		interval: s.cfg.Card.Interval,
		render: func(soFar string) string {
			return s.cfg.Format.Parts(s.visible(soFar), mention(m))[0]
		},
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	card := dingtalk.Card{
		TemplateID: s.cfg.Card.TemplateID,
		OutTrackID: c.id,
		RobotCode:  cmp.Or(m.RobotCode, s.cfg.RobotCode),
		Data:       map[string]string{c.key: cardPlaceholder},
	}
	if m.IsGroup() {
		card.GroupID = m.ConversationID
	} else {
		card.UserID = m.SenderStaffID
	}
	go c.run(ctx, card)
	return c
}

// outTrackID names the card of one attempt at answering m: a retry gets a
// card of its own rather than writing into one another attempt left.
func outTrackID(m chat.Message, attempt string) string {
	sum := sha256.Sum256([]byte(m.ID + "\x00" + attempt))
	return "fcrobot-" + hex.EncodeToString(sum[:16])
}

// offer hands the stream the model's text so far. It never blocks: the
// text is rendered when it is sent, which is not every time.
func (c *cardStream) offer(text string) {
	c.mu.Lock()
	c.latest = text
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *cardStream) run(ctx context.Context, card dingtalk.Card) {
	defer close(c.done)
	if err := c.cards.CreateAndDeliverCard(ctx, card); err != nil {
		c.err = fmt.Errorf("create and deliver the card: %w", err)
		return
	}
	c.created = true
	c.shown = cardPlaceholder
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			return
		case <-ctx.Done():
			return
		}
		if !c.pause(ctx, c.stop) {
			return
		}
		c.mu.Lock()
		soFar := c.latest
		c.mu.Unlock()
		text := c.render(soFar)
		if text == c.shown {
			continue
		}
		if err := c.update(ctx, text, false); err != nil {
			c.err = fmt.Errorf("update the card: %w", err)
			return
		}
	}
}

// pause waits out what is left of the interval since the last update. It
// reports false when stop or ctx ended the wait.
func (c *cardStream) pause(ctx context.Context, stop <-chan struct{}) bool {
	wait := c.interval - time.Since(c.lastSent)
	if wait <= 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	case <-ctx.Done():
		return false
	}
}

func (c *cardStream) update(ctx context.Context, text string, final bool) error {
	c.lastSent = time.Now()
	err := c.cards.StreamCard(ctx, dingtalk.CardUpdate{OutTrackID: c.id, Key: c.key, Content: text, Finalize: final})
	if err == nil {
		c.shown = text
	}
	return err
}

// finish ends the stream with the card showing text, and reports whether
// the card now holds it. A card that failed on the way is left with a word
// that the answer follows as a message.
func (c *cardStream) finish(ctx context.Context, text string) error {
	close(c.stop)
	<-c.done
	if c.err != nil {
		if c.created {
			// Best effort: a card that stops mid-sentence looks broken.
			_ = c.cards.StreamCard(ctx, dingtalk.CardUpdate{
				OutTrackID: c.id, Key: c.key, Content: c.shown + "\n\n" + cardAbandonedText, Finalize: true,
			})
		}
		return c.err
	}
	if !c.pause(ctx, nil) { // a nil stop: only ctx ends this wait
		return fmt.Errorf("finish the card: %w", ctx.Err())
	}
	if err := c.update(ctx, text, true); err != nil {
		return fmt.Errorf("finish the card: %w", err)
	}
	return nil
}

// cardAbandonedText ends a card that could not be finished.
const cardAbandonedText = "（卡片更新失败，完整回答见下一条消息。）"

// finishCard puts the reply's first part into the card, if there is one,
// and says whether it is there: if the card failed at any point, the whole
// reply goes out as messages instead, and the log says why.
func (s *Service) finishCard(ctx context.Context, log *slog.Logger, m chat.Message, card *cardStream, text string) decision {
	if card == nil {
		return decision{text: text}
	}
	first := s.cfg.Format.Parts(text, mention(m))[0]
	if err := card.finish(ctx, first); err != nil {
		log.WarnContext(ctx, "the AI card failed: answering with a message instead", "err", err, "outTrackId", card.id)
		return decision{text: text}
	}
	log.InfoContext(ctx, "answered in an AI card", "outTrackId", card.id)
	return decision{text: text, inCard: true}
}
