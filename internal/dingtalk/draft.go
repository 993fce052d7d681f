package dingtalk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// CardConfig says which AI card template answers stream into, and how.
type CardConfig struct {
	// TemplateID is the card template (CARD_TEMPLATE_ID); empty for no
	// cards.
	TemplateID string
	// ContentKey is the template's markdown variable that holds the
	// answer (CARD_CONTENT_KEY).
	ContentKey string
	// Interval is the least time between two updates of a card
	// (CARD_UPDATE_INTERVAL): DingTalk throttles a card updated faster.
	Interval time.Duration
	// MaxUpdates bounds the streaming updates of one card, its final one
	// aside (CARD_MAX_UPDATES): each is a metered OpenAPI call
	// (docs/protocols.md §4). The interval between updates grows by a
	// quarter after each, so that the updates spread over the whole answer
	// however long the model writes. 0 means DefaultCardMaxUpdates.
	MaxUpdates int
	// MaxChars is the most characters a card holds (CARD_MAX_CHARS): a
	// card much longer than 3,000 shows blank, and DingTalk refuses larger
	// content (docs/protocols.md §5, §7). 0 means DefaultCardMaxChars.
	MaxChars int
	// RouteKey (CARD_CALLBACK_ROUTE_KEY) and IDs (CARD_CALLBACK_SECRET's)
	// give the cards buttons (docs/cards.md): with both, a card is created
	// with callbackType HTTP and this route key, named by an outTrackId
	// IDs tags, and its buttons' variables set; finishing it hides Stop
	// and shows the votes, one more metered call per card. Without them
	// cards are created as before, without buttons.
	RouteKey string
	IDs      CardIDs
}

// Buttons reports whether the cards have buttons.
func (c CardConfig) Buttons() bool { return c.RouteKey != "" && c.IDs.Secret != "" }

// CallsPerAnswer is the most metered OpenAPI calls one card answer costs:
// its creation, its streaming updates, its final update and, with
// buttons, the update that hides Stop and shows the votes.
func (c CardConfig) CallsPerAnswer() int {
	n := 2 + c.MaxUpdates
	if c.MaxUpdates <= 0 {
		n = 2 + DefaultCardMaxUpdates
	}
	if c.Buttons() {
		n++
	}
	return n
}

// DefaultCardMaxChars is CARD_MAX_CHARS's default.
const DefaultCardMaxChars = 3000

// DefaultCardMaxUpdates is CARD_MAX_UPDATES's default: with the interval
// growing by a quarter from 300 ms, 20 updates span about 100 s, the
// longest an answer flows with the default FUNCTION_TIMEOUT (120 s less
// 20 for delivery).
const DefaultCardMaxUpdates = 20

// cardContinuedText ends a card whose answer goes on in messages below it.
const cardContinuedText = "（回答较长，后续内容见下方消息。）"

// cardPlaceholder fills a card until the first words of the answer come.
const cardPlaceholder = "思考中…"

// cardAbandonedText ends a card that could not be finished.
const cardAbandonedText = "（卡片更新失败，完整回答见下一条消息。）"

// cardDraft is one AI card being written: a chat.Draft. Updates go out from
// a goroutine of their own, at most one per interval and always the latest
// text, so that neither a slow DingTalk holds up the model's stream nor a
// fast model floods DingTalk.
type cardDraft struct {
	api      *OpenAPI
	id, key  string
	interval time.Duration
	// buttons says the card has buttons, whose variables a card that
	// fails on the way hides.
	buttons bool
	// updatesLeft counts the streaming updates the card may still get,
	// its final one aside.
	updatesLeft int
	// render turns the text so far into the card's content.
	render func(soFar string) string

	mu     sync.Mutex
	latest string // the newest text shown, as the model wrote it

	wake chan struct{} // a new text was shown
	stop chan struct{} // closed by finish
	done chan struct{} // closed when the goroutine ends
	made chan struct{} // closed once the card exists

	// Owned by the goroutine until done is closed.
	created  bool
	shown    string    // the content of the last update DingTalk took
	lastSent time.Time // when the last update was sent
	err      error     // why the card failed, nil while it works
}

// outTrackID names the card of one attempt at answering a message: FC's
// request id and retry count, so that a retry's card is a new one, not one
// DingTalk would refuse as taken (docs/protocols.md §5), and so that a
// retry can name the cards of the attempts before it.
func outTrackID(messageID string, a chat.Attempt) string {
	sum := sha256.Sum256([]byte(messageID + "\x00" + a.RequestID + "\x00" + strconv.Itoa(a.Retry)))
	return "fcrobot-" + hex.EncodeToString(sum[:16])
}

// cardInterruptedText finishes the card of an attempt that died: FC's retry
// answers below it.
const cardInterruptedText = "（这次回答中断了，完整的回答见下方。）"

// start creates and delivers the card in the background.
func (c *cardDraft) start(ctx context.Context, card Card) {
	c.wake = make(chan struct{}, 1)
	c.stop = make(chan struct{})
	c.done = make(chan struct{})
	c.made = make(chan struct{})
	go c.run(ctx, card)
}

// Show hands the card the model's text so far. It never blocks: the text
// is rendered when it is sent, which is not every time.
func (c *cardDraft) Show(soFar string) {
	c.mu.Lock()
	c.latest = soFar
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *cardDraft) run(ctx context.Context, card Card) {
	defer close(c.done)
	if err := c.api.CreateAndDeliverCard(ctx, card); err != nil {
		c.err = fmt.Errorf("create and deliver the card: %w", err)
		return
	}
	c.created = true
	c.shown = cardPlaceholder
	close(c.made)
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			return
		case <-ctx.Done():
			return
		}
		if c.updatesLeft <= 0 {
			continue // the budget is spent: the final update shows the rest
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
		c.updatesLeft--
		c.interval += c.interval / 4
	}
}

// pause waits out what is left of the interval since the last update. It
// reports false when stop or ctx ended the wait.
func (c *cardDraft) pause(ctx context.Context, stop <-chan struct{}) bool {
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

func (c *cardDraft) update(ctx context.Context, text string, final bool) error {
	c.lastSent = time.Now()
	err := c.api.StreamCard(ctx, CardUpdate{OutTrackID: c.id, Key: c.key, Content: text, Finalize: final})
	if err == nil {
		c.shown = text
	}
	return err
}

// finish ends the stream with the card showing text, and says why the card
// does not hold it, if it does not. A card that failed on the way is left
// with a word that the answer follows as a message.
func (c *cardDraft) finish(ctx context.Context, text string) error {
	close(c.stop)
	<-c.done
	if c.err != nil {
		if c.created {
			// Best effort: a card that stops mid-sentence looks broken,
			// and its Stop button would stop nothing.
			err := c.api.StreamCard(ctx, CardUpdate{
				OutTrackID: c.id, Key: c.key, Content: c.shown + "\n\n" + cardAbandonedText, Finalize: true,
			})
			if err == nil && c.buttons {
				_ = c.api.UpdateCardData(ctx, c.id, cardButtonsEnded())
			}
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
