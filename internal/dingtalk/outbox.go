package dingtalk

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// OutboxConfig holds what an Outbox needs.
type OutboxConfig struct {
	// Webhooks posts to session webhooks.
	Webhooks *WebhookClient
	// OpenAPI, when the app's key and secret are configured, answers
	// messages whose session webhook has expired and carries AI cards; nil
	// without them.
	OpenAPI *OpenAPI
	// RobotCode is the app's key, the robot's code for an
	// enterprise-internal app: used for a message that carries none.
	RobotCode string
	// Format is how answers are posted (REPLY_FORMAT); empty means
	// markdown.
	Format Format
	// MarkdownMaxChars bounds a markdown message in characters
	// (MARKDOWN_MAX_CHARS): DingTalk shows a longer one as nothing. 0
	// means DefaultMarkdownMaxChars; plain text keeps MaxMessageBytes.
	MarkdownMaxChars int
	// Card, with a TemplateID and an OpenAPI, streams answers into AI
	// cards.
	Card CardConfig
	// CallsLeft, when not nil, says how many metered OpenAPI calls are left
	// of the month's budget (DINGTALK_MONTHLY_API_CALLS), and whether there
	// is a budget: with fewer left than one card answer costs, answers go
	// as messages through the session webhook, which is no OpenAPI call;
	// with none left, nothing goes through the OpenAPI.
	CallsLeft func() (left int, budgeted bool)
	Logger    *slog.Logger
	// Now is the clock webhooks expire by; nil means time.Now.
	Now func() time.Time
}

// Outbox delivers the robot's answers to DingTalk: it owns what is
// DingTalk's about an answer, so that the reply function does not know it.
// That is rendering and splitting an answer into messages that fit
// (computed once per delivery), @-mentioning the asker in a group, posting
// through the session webhook and falling back to the robot OpenAPI once
// the webhook has expired, streaming into an AI card, and which of
// DingTalk's refusals are worth a retry (docs/protocols.md §3, §4, §5).
type Outbox struct {
	cfg OutboxConfig
	// budgetLogged is set once the log has said that the month's budget
	// keeps answers out of cards.
	budgetLogged atomic.Bool
}

// NewOutbox returns an Outbox.
func NewOutbox(cfg OutboxConfig) *Outbox {
	if cfg.Format == "" {
		cfg.Format = FormatMarkdown
	}
	if cfg.MarkdownMaxChars <= 0 {
		cfg.MarkdownMaxChars = DefaultMarkdownMaxChars
	}
	if cfg.Card.MaxChars <= 0 {
		cfg.Card.MaxChars = DefaultCardMaxChars
	}
	if cfg.Card.MaxUpdates <= 0 {
		cfg.Card.MaxUpdates = DefaultCardMaxUpdates
	}
	cfg.Logger = orDiscard(cfg.Logger)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Outbox{cfg: cfg}
}

// DefaultMarkdownMaxChars is MARKDOWN_MAX_CHARS's default: field reports
// put DingTalk's limit on a markdown message that still renders at about
// 3,500 characters (docs/protocols.md §7).
const DefaultMarkdownMaxChars = 3500

// errNoOpenAPI explains why an answer cannot go another way than the
// session webhook.
var errNoOpenAPI = errors.New("DINGTALK_APP_KEY and DINGTALK_APP_SECRET are not set for the reply function " +
	"to answer through the robot OpenAPI")

// Reachable says why no answer to m could reach its sender: a session
// webhook on a host outside SESSION_WEBHOOK_HOSTS (a forged event must not
// make the robot post anywhere), or one that has expired when there is no
// OpenAPI to answer through.
func (o *Outbox) Reachable(m chat.Message) error {
	if o.webhookExpired(m) && o.cfg.OpenAPI == nil {
		return fmt.Errorf("the session webhook expired at %s, before the answer, and %w",
			m.WebhookExpiresAt.UTC().Format(time.RFC3339), errNoOpenAPI)
	}
	if err := o.cfg.Webhooks.Allowed(m.Webhook); err != nil {
		return fmt.Errorf("the session webhook's host is not in SESSION_WEBHOOK_HOSTS: %w", err)
	}
	return nil
}

func (o *Outbox) webhookExpired(m chat.Message) bool {
	return !m.WebhookExpiresAt.IsZero() && o.cfg.Now().After(m.WebhookExpiresAt)
}

func (o *Outbox) robotCode(m chat.Message) string { return cmp.Or(m.RobotCode, o.cfg.RobotCode) }

// cards reports whether answers stream into AI cards.
func (o *Outbox) cards() bool { return o.cfg.Card.TemplateID != "" && o.cfg.OpenAPI != nil }

// parts splits an answer into what is delivered one piece at a time. With
// cards every piece fits a card, the note that the answer goes on
// included, so that the pieces are the same whether the first went into a
// card or, on a retry, into a message: the count of pieces delivered means
// the same to both.
func (o *Outbox) parts(text string, who Mention) []string {
	maxChars := 0
	if o.cfg.Format == FormatMarkdown {
		maxChars = o.cfg.MarkdownMaxChars
	}
	if o.cards() {
		card := o.cfg.Card.MaxChars - utf8.RuneCountInString("\n\n"+cardContinuedText)
		if maxChars == 0 || card < maxChars {
			maxChars = card
		}
	}
	return o.cfg.Format.Parts(text, who, maxChars)
}

// mention is whom an answer to m @s: the asker, in a group.
func mention(m chat.Message) Mention {
	if !m.IsGroup() {
		return Mention{}
	}
	return Mention{StaffID: m.SenderStaffID, Nick: m.SenderNick}
}

// Open creates an AI card for the answer to m, in the background, and
// returns it as the draft the answer is shown in while the model writes
// it. There is no card without a card template, and none for an external
// user in a single chat: DingTalk delivers a card to a single chat by the
// user's staff id, which external users have not.
func (o *Outbox) Open(ctx context.Context, m chat.Message, attempt chat.Attempt) chat.Draft {
	if !o.cards() || (!m.IsGroup() && m.SenderStaffID == "") {
		return nil
	}
	// A card answer costs its creation, its updates, its last one and,
	// with buttons, the one that shows the votes.
	if left, budgeted := o.callsLeft(); budgeted && left < o.cfg.Card.CallsPerAnswer() {
		if !o.budgetLogged.Swap(true) {
			o.cfg.Logger.WarnContext(ctx, "the month's DINGTALK_MONTHLY_API_CALLS are nearly spent: answers go as messages, not cards", "callsLeft", left)
		}
		return nil
	}
	who := mention(m)
	d := &cardDraft{
		api:         o.cfg.OpenAPI,
		id:          o.CardID(m, attempt),
		key:         o.cfg.Card.ContentKey,
		buttons:     o.cfg.Card.Buttons(),
		interval:    o.cfg.Card.Interval,
		updatesLeft: o.cfg.Card.MaxUpdates,
		render: func(soFar string) string {
			if soFar == "" {
				return cardPlaceholder
			}
			return o.parts(soFar, who)[0]
		},
	}
	card := Card{
		TemplateID: o.cfg.Card.TemplateID,
		OutTrackID: d.id,
		RobotCode:  o.robotCode(m),
		Data:       map[string]string{d.key: cardPlaceholder},
	}
	if d.buttons {
		card.Data = withButtons(card.Data)
		card.CallbackRouteKey = o.cfg.Card.RouteKey
	}
	if m.IsGroup() {
		card.GroupID = m.ConversationID
	} else {
		card.UserID = m.SenderStaffID
	}
	d.start(ctx, card)
	if d.buttons {
		// The question's updates are metered, and held to the month's
		// budget as every update for everyone is.
		return buttonCard{cardDraft: d, ctx: ctx, update: func(ctx context.Context, vars map[string]string) error {
			return o.UpdateCard(ctx, d.id, vars)
		}}
	}
	return d
}

// CardID is the outTrackId of the card of attempt a at answering m: FC's
// request id and retry count make it (outTrackID), and, for cards with
// buttons, the IDs' tag, so that the conversation function knows a press
// on it for one of the robot's. The reply side keeps it to tell, when a
// press comes, which answer the card holds.
func (o *Outbox) CardID(m chat.Message, a chat.Attempt) string {
	id := outTrackID(m.ID, a)
	if o.cfg.Card.Buttons() {
		id = o.cfg.Card.IDs.New(id)
	}
	return id
}

// UpdateCard sets variables of one of the robot's cards with buttons for
// everyone who sees it (CardVarLikes after a vote, CardVarConfirmVisible
// after a decision): one metered OpenAPI call, made only while the
// month's budget has calls left. What a press's answer could change
// reaches the presser alone, so the reply side changes a card so, after
// the press (docs/protocols.md §18).
func (o *Outbox) UpdateCard(ctx context.Context, cardID string, vars map[string]string) error {
	switch left, budgeted := o.callsLeft(); {
	case !o.cards() || !o.cfg.Card.Buttons():
		return errors.New("the cards have no buttons (CARD_CALLBACK_ROUTE_KEY and CARD_CALLBACK_SECRET): no card to update")
	case budgeted && left <= 0:
		return errors.New("the month's DINGTALK_MONTHLY_API_CALLS are spent: the card is not updated")
	}
	return o.cfg.OpenAPI.UpdateCardData(ctx, cardID, vars)
}

// ShowVotes shows everyone who sees the card cardID the votes on its
// answer so far (UpdateCard: one metered call).
func (o *Outbox) ShowVotes(ctx context.Context, cardID string, likes, dislikes int) error {
	return o.UpdateCard(ctx, cardID, map[string]string{
		CardVarLikes: strconv.Itoa(likes), CardVarDislikes: strconv.Itoa(dislikes),
	})
}

// Recover finishes the cards that the attempts before a, of a's invocation,
// may have left open when they died, so that no card stays "typing": each
// gets a last update pointing below, where a's answer goes. A card that
// does not exist, or was finished, refuses the update, which is fine. It
// costs an OpenAPI call per earlier attempt, on FC's retries only.
func (o *Outbox) Recover(ctx context.Context, m chat.Message, a chat.Attempt) {
	if !o.cards() {
		return
	}
	for n := range a.Retry {
		id := o.CardID(m, chat.Attempt{RequestID: a.RequestID, Retry: n})
		err := o.cfg.OpenAPI.StreamCard(ctx, CardUpdate{
			OutTrackID: id, Key: o.cfg.Card.ContentKey, Content: cardInterruptedText, Finalize: true,
		})
		if err == nil {
			o.cfg.Logger.InfoContext(ctx, "finished the card an earlier attempt left open", "msgId", m.ID, "retry", n)
			if o.cfg.Card.Buttons() {
				if err := o.cfg.OpenAPI.UpdateCardData(ctx, id, cardButtonsEnded()); err != nil {
					o.cfg.Logger.WarnContext(ctx, "could not hide the buttons of the card an earlier attempt left open", "err", err, "outTrackId", id)
				}
			}
		}
	}
}

// Deliver delivers what a.Delivered says is left of a.Text: split once into
// messages that fit DingTalk, the first finishing a's card when there is
// one, the rest posted one by one. If the card failed at any point, the
// whole answer goes out as messages instead, and the log says why.
//
// A refusal worth a retry (sending too fast, a 5xx, a transport failure)
// stops the delivery with a retryable error; the pieces delivered so far
// have been told to a.OnDelivered. A refusal no retry can mend (an expired
// session with no OpenAPI, content DingTalk rejects) loses that piece; the
// others are still delivered, and the error at the end says what was lost.
func (o *Outbox) Deliver(ctx context.Context, a chat.Answer) error {
	m, log := a.To, o.cfg.Logger.With("msgId", a.To.ID)
	delivered := func(piece int) {
		if a.OnDelivered != nil {
			a.OnDelivered(piece)
		}
	}
	who := mention(m)
	parts := o.parts(a.Text, who)
	next := a.Delivered
	// A draft is always one of Open's cards; there is no other kind.
	card, ok := a.Draft.(*cardDraft)
	if b, isButtons := a.Draft.(buttonCard); isButtons {
		card, ok = b.cardDraft, true
	}
	if ok && next == 0 && len(parts) > 0 {
		content := parts[0]
		if len(parts) > 1 {
			content += "\n\n" + cardContinuedText
		}
		if err := card.finish(ctx, content); err != nil {
			log.WarnContext(ctx, "the AI card failed: answering with a message instead", "err", err, "outTrackId", card.id)
		} else {
			log.InfoContext(ctx, "answered in an AI card", "outTrackId", card.id)
			delivered(0)
			next = 1
			if card.buttons {
				// The answer is delivered whatever this says: a Stop
				// left on the card stops nothing.
				if err := o.cfg.OpenAPI.UpdateCardData(ctx, card.id, cardButtonsFinished()); err != nil {
					log.WarnContext(ctx, "could not show the card's votes and hide its Stop button", "err", err, "outTrackId", card.id)
				}
			}
		}
	}
	var lost []error
	for i := next; i < len(parts); i++ {
		if i > 0 {
			who = Mention{} // one @ is enough
		}
		err := o.send(ctx, log, m, parts[i], who)
		if retry.Retryable(err) {
			return err
		}
		if err != nil {
			lost = append(lost, fmt.Errorf("part %d of %d: %w", i+1, len(parts), err))
		}
		delivered(i)
	}
	return errors.Join(lost...)
}

// send posts one part of an answer to m's conversation, @-mentioning who:
// through its session webhook while that lives, else through the robot
// OpenAPI.
func (o *Outbox) send(ctx context.Context, log *slog.Logger, m chat.Message, part string, who Mention) error {
	if !o.webhookExpired(m) {
		err := o.cfg.Webhooks.Send(ctx, m.Webhook, o.cfg.Format.Message(part, who))
		var apiErr *APIError
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrWebhookNotAllowed):
			return fmt.Errorf("the session webhook's host is not in SESSION_WEBHOOK_HOSTS: %w", err)
		case errors.As(err, &apiErr) && apiErr.SessionExpired():
			if o.cfg.OpenAPI == nil {
				return fmt.Errorf("the session webhook has expired (300001), and %w: %w", errNoOpenAPI, err)
			}
			log.WarnContext(ctx, "the session webhook has expired (300001); answering through the robot OpenAPI")
		case errors.As(err, &apiErr) && !apiErr.Retryable():
			return fmt.Errorf("DingTalk refused the answer: %w", err)
		default:
			// A transport failure may have delivered the message or not;
			// a retry risks a repeat rather than a loss.
			return retry.Mark(fmt.Errorf("post the answer: %w", err))
		}
	}
	// The robot OpenAPI cannot @ anyone: the asker is named instead.
	return o.sendByOpenAPI(ctx, log, m, o.cfg.Format.Message(part, Mention{Nick: who.Nick}))
}

// callsLeft is what is left of the month's OpenAPI budget, if there is one.
func (o *Outbox) callsLeft() (int, bool) {
	if o.cfg.CallsLeft == nil {
		return 0, false
	}
	return o.cfg.CallsLeft()
}

func (o *Outbox) sendByOpenAPI(ctx context.Context, log *slog.Logger, m chat.Message, msg WebhookMessage) error {
	if left, budgeted := o.callsLeft(); budgeted && left <= 0 {
		return errors.New("the session webhook has expired and the month's DINGTALK_MONTHLY_API_CALLS are spent: " +
			"the robot OpenAPI is not called")
	}
	var err error
	switch {
	case m.IsGroup():
		err = o.cfg.OpenAPI.SendToGroup(ctx, o.robotCode(m), m.ConversationID, msg)
	case m.SenderStaffID != "":
		err = o.cfg.OpenAPI.SendToUser(ctx, o.robotCode(m), []string{m.SenderStaffID}, msg)
	default:
		return errors.New("the session webhook has expired and the sender has no staff id (an external user): " +
			"the robot OpenAPI cannot reach them")
	}
	switch {
	case err == nil:
		log.InfoContext(ctx, "answered through the robot OpenAPI")
		return nil
	case retry.Retryable(err):
		return fmt.Errorf("send through the robot OpenAPI: %w", err)
	}
	return fmt.Errorf("the robot OpenAPI refused the answer: %w", err)
}
