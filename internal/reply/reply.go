// Package reply is the event function that answers a message: it reads the
// sender's history from the OSS mount, asks the model, stores the new turn
// and posts the answer to the conversation's session webhook.
package reply

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
)

// History is where the turns of each conversation are kept (ossmount.History).
type History interface {
	Load(ctx context.Context, owner string, n int) ([]chat.Turn, error)
	Save(ctx context.Context, owner string, t chat.Turn) error
	Clear(ctx context.Context, owner string, at time.Time) error
}

// Model answers a question, and the pictures sent with it, in the light of
// the turns before it (openai.Client).
type Model interface {
	CompleteWithImages(ctx context.Context, history []chat.Turn, question string, images []chat.Image) (string, error)
	// Stream is CompleteWithImages calling onDelta with the answer so far
	// each time it grows.
	Stream(ctx context.Context, history []chat.Turn, question string, images []chat.Image, onDelta func(textSoFar string) error) (string, error)
}

// Messenger posts to a session webhook (dingtalk.WebhookClient).
type Messenger interface {
	// Allowed tells whether a webhook may be posted to at all: its host must
	// be one of SESSION_WEBHOOK_HOSTS, so that a forged event cannot make the
	// function call an arbitrary URL.
	Allowed(webhookURL string) error
	Send(ctx context.Context, webhookURL string, msg dingtalk.WebhookMessage) error
}

// Robot sends through DingTalk's robot OpenAPI (dingtalk.OpenAPI): the way
// to answer once a session webhook has expired.
type Robot interface {
	SendToUser(ctx context.Context, robotCode string, userIDs []string, msg dingtalk.WebhookMessage) error
	SendToGroup(ctx context.Context, robotCode, openConversationID string, msg dingtalk.WebhookMessage) error
}

// Receipts record what was done for each message (ossmount.Receipts).
type Receipts interface {
	Get(ctx context.Context, m chat.Message) (chat.Receipt, error)
	Claim(ctx context.Context, m chat.Message, holder string, ttl time.Duration) (bool, error)
	Release(ctx context.Context, m chat.Message, holder string) error
	SaveAnswer(ctx context.Context, m chat.Message, answer string) error
	MarkSent(ctx context.Context, m chat.Message, part int) error
	MarkDelivered(ctx context.Context, m chat.Message) error
}

// Config holds what a Service needs.
type Config struct {
	History   History
	Receipts  Receipts
	Model     Model
	Messenger Messenger
	// Robot, when the app's key and secret are configured, answers messages
	// whose session webhook has expired; RobotCode is the app's key, the
	// robot's code for an enterprise-internal app.
	Robot     Robot
	RobotCode string
	// Format is how answers are posted (REPLY_FORMAT).
	Format dingtalk.Format
	// Cards, when an AI card template is configured, shows each answer
	// as the model writes it; Card says which template and how.
	Cards Cards
	Card  CardConfig
	// Vision, when VISION_MODEL is set, answers messages with pictures,
	// which Files downloads, each at most MaxPictureBytes.
	Vision          Model
	Files           Files
	MaxPictureBytes int64
	// ShowThinking shows a reasoning model's reasoning, folded under a
	// quote (SHOW_THINKING); else the user sees only the answer.
	ShowThinking bool
	// HistoryLength is how many earlier question/answer pairs go to the model
	// with a new question (HISTORY_LENGTH).
	HistoryLength int
	// Timeout bounds the model's answer (TIMEOUT).
	Timeout time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// Service answers the messages handed to the reply function.
type Service struct {
	cfg Config
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Format == "" {
		cfg.Format = dingtalk.FormatMarkdown
	}
	return &Service{cfg: cfg}
}

// Errors of Handle: a Retryable error is worth FC invoking the function
// again; anything else would fail the same way again.
type retryableError struct{ err error }

func (e retryableError) Error() string { return e.err.Error() }
func (e retryableError) Unwrap() error { return e.err }

// Retryable reports whether FC should deliver the event again.
func Retryable(err error) bool {
	var r retryableError
	return errors.As(err, &r)
}

// Handle answers one message, once: a message handed over again (FC
// delivers at least once and retries a failure; DingTalk redelivers) finds
// its receipt and is not answered twice, and an answer decided before a
// failure is delivered on the retry without asking the model again.
func (s *Service) Handle(ctx context.Context, ev chat.Event) error {
	m := ev.Message
	log := s.cfg.Logger.With("msgId", m.ID)
	if s.webhookExpired(m) && s.cfg.Robot == nil {
		// Nothing can reach the user any more; trying again will not help.
		log.ErrorContext(ctx, "session webhook expired before the answer, and DINGTALK_APP_KEY and DINGTALK_APP_SECRET "+
			"are not set for the reply function to answer through the robot OpenAPI: dropping the message",
			"expiredAt", m.WebhookExpiresAt)
		return nil
	}
	if err := s.cfg.Messenger.Allowed(m.Webhook); err != nil {
		log.ErrorContext(ctx, "session webhook refused: its host is not in SESSION_WEBHOOK_HOSTS", "err", err)
		return nil
	}

	rec, err := s.cfg.Receipts.Get(ctx, m)
	if err != nil {
		return retryableError{fmt.Errorf("read the message's receipt: %w", err)}
	}
	if rec.Delivered {
		log.Log(ctx, logging.LevelNotice, "message already answered; duplicate delivery ignored")
		return nil
	}
	holder := logging.RequestID(ctx)
	claimed, err := s.cfg.Receipts.Claim(ctx, m, holder, s.cfg.Timeout+claimMargin)
	if err != nil {
		return retryableError{fmt.Errorf("claim the message: %w", err)}
	}
	if !claimed {
		// Another invocation is answering it right now. If it fails, FC's
		// retry of this one finds the claim released or stale.
		return retryableError{errors.New("the message is being answered by another invocation")}
	}
	if err := s.answer(ctx, log, m, rec); err != nil {
		if relErr := s.cfg.Receipts.Release(ctx, m, holder); relErr != nil {
			log.WarnContext(ctx, "could not release the message's claim", "err", relErr)
		}
		return err
	}
	return nil
}

// claimMargin is how long, beyond the model's timeout, an invocation may
// take to store and post an answer before its claim counts as abandoned.
const claimMargin = time.Minute

// answer decides the reply (unless an earlier attempt did), keeps it, and
// posts what has not been posted yet.
func (s *Service) answer(ctx context.Context, log *slog.Logger, m chat.Message, rec chat.Receipt) error {
	text, sent := rec.Answer, rec.PartsSent
	if rec.Answered {
		log.InfoContext(ctx, "delivering the answer kept from an earlier attempt", "partsSent", rec.PartsSent)
	} else {
		r, err := s.decide(ctx, log, m)
		if err != nil {
			return err
		}
		text = r.text
		// The turn and the answer's receipt are two files: written at
		// once, both before the answer goes out, so that a user who reads
		// the answer and asks again finds it in the history.
		var saving sync.WaitGroup
		if r.turn != nil {
			saving.Add(1)
			go func() {
				defer saving.Done()
				s.saveTurn(ctx, log, m, *r.turn)
			}()
		}
		if err := s.cfg.Receipts.SaveAnswer(ctx, m, text); err != nil {
			// Posting matters more than the receipt; without it a retry
			// asks the model again, which is the lesser harm.
			log.ErrorContext(ctx, "could not keep the answer's receipt", "err", err)
		}
		saving.Wait()
		if r.inCard {
			if err := s.cfg.Receipts.MarkSent(ctx, m, 0); err != nil {
				log.ErrorContext(ctx, "could not record the card", "err", err)
			}
			sent = 1
		}
	}

	who := mention(m)
	parts := s.cfg.Format.Parts(text, who)
	for i := sent; i < len(parts); i++ {
		if i > 0 {
			who = dingtalk.Mention{} // one @ is enough
		}
		if err := s.send(ctx, log, m, parts[i], who); err != nil {
			return err
		}
		if err := s.cfg.Receipts.MarkSent(ctx, m, i); err != nil {
			log.ErrorContext(ctx, "could not record a posted part", "part", i, "err", err)
		}
	}
	if err := s.cfg.Receipts.MarkDelivered(ctx, m); err != nil {
		log.ErrorContext(ctx, "could not record the delivery", "err", err)
	}
	return nil
}

// mention is whom a reply @s: the asker, in a group.
func mention(m chat.Message) dingtalk.Mention {
	if !m.IsGroup() {
		return dingtalk.Mention{}
	}
	return dingtalk.Mention{StaffID: m.SenderStaffID, Nick: m.SenderNick}
}

// decision is the reply to a message, as the user sees it.
type decision struct {
	text string
	// inCard is true when the reply's first part already stands in a
	// finished AI card.
	inCard bool
	// turn, when the model answered, is the turn for the history.
	turn *chat.Turn
}

// saveTurn adds a turn to the asker's history. A failure is logged: the
// answer still reaches the user, only its memory is lost, which is better
// than asking the model again on a retry.
func (s *Service) saveTurn(ctx context.Context, log *slog.Logger, m chat.Message, t chat.Turn) {
	if err := s.cfg.History.Save(ctx, m.HistoryOwner(), t); err != nil {
		log.ErrorContext(ctx, "could not save the turn", "err", err)
	}
}

// decide works out the reply to a message: a command's, a polite word for
// what the robot cannot read, or the model's answer, stored in the history.
func (s *Service) decide(ctx context.Context, log *slog.Logger, m chat.Message) (decision, error) {
	owner := m.HistoryOwner()
	switch chat.ParseCommand(m.Text) {
	case chat.ClearCommand:
		if err := s.cfg.History.Clear(ctx, owner, m.CreatedAt); err != nil {
			return decision{}, retryableError{fmt.Errorf("clear history: %w", err)}
		}
		log.Log(ctx, logging.LevelNotice, "history cleared")
		return decision{text: clearedText}, nil
	case chat.HelpCommand:
		return decision{text: helpText}, nil
	case chat.UnknownCommand:
		return decision{text: unknownCommandText(m.Text)}, nil
	}
	images, refusal, err := s.pictures(ctx, log, m)
	switch {
	case err != nil:
		return decision{}, err
	case refusal != "":
		return decision{text: refusal}, nil
	case m.Text == "" && len(images) == 0:
		return decision{text: unsupportedText(m.Type)}, nil
	}

	history, err := s.cfg.History.Load(ctx, owner, s.cfg.HistoryLength)
	if err != nil {
		return decision{}, retryableError{fmt.Errorf("load history: %w", err)}
	}
	model, question := s.cfg.Model, m.Text
	if len(images) > 0 {
		model = s.cfg.Vision
		if question == "" {
			question = describePictureQuestion
		}
	}
	var card *cardStream
	if s.cardReaches(m) {
		card = s.startCard(ctx, m)
	}
	askCtx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	raw, err := s.ask(askCtx, model, history, question, images, card)
	cancel()
	if err != nil {
		// The user hears what went wrong in words they understand; the
		// history stays as it was, so the question can simply be asked again.
		log.ErrorContext(ctx, "the model did not answer", "err", err, "historyTurns", len(history), "pictures", len(images))
		return s.finishCard(ctx, log, m, card, modelErrorText(err, s.cfg.Timeout)), nil
	}
	t := splitThinking(raw)
	if t.answer == "" {
		log.ErrorContext(ctx, "the model only reasoned and gave no answer", "reasoningBytes", len(t.reasoning))
		return s.finishCard(ctx, log, m, card, noAnswerText), nil
	}

	// History keeps the answer alone: reasoning sent back to a reasoning
	// model is wasted tokens at best, and what its makers advise against.
	turn := chat.Turn{MessageID: m.ID, Question: historyQuestion(m.Text, len(images)), Answer: t.answer, AskedAt: m.CreatedAt, AnsweredAt: s.cfg.Now().UTC()}
	log.Log(ctx, logging.LevelNotice, "answered", "historyTurns", len(history), "answerBytes", len(t.answer), "pictures", len(images))
	d := s.finishCard(ctx, log, m, card, t.shown(s.cfg.ShowThinking))
	d.turn = &turn
	return d, nil
}

// ask puts the question to the model: streamed into the card when there is
// one, else in one piece.
func (s *Service) ask(ctx context.Context, model Model, history []chat.Turn, question string, images []chat.Image, card *cardStream) (string, error) {
	if card == nil {
		return model.CompleteWithImages(ctx, history, question, images)
	}
	return model.Stream(ctx, history, question, images, func(soFar string) error {
		card.offer(soFar)
		return nil
	})
}

// visible is what the user may see of an answer still being written.
func (s *Service) visible(soFar string) string {
	t := splitThinking(withoutPartialTag(soFar))
	if shown := t.shown(s.cfg.ShowThinking); shown != "" {
		return shown
	}
	return cardPlaceholder
}

// historyQuestion is how a question is remembered: a picture cannot be
// kept, so the history notes that there was one.
func historyQuestion(text string, pictures int) string {
	if pictures == 0 {
		return text
	}
	return strings.TrimSpace("[图片] " + text)
}

func (s *Service) webhookExpired(m chat.Message) bool {
	return !m.WebhookExpiresAt.IsZero() && s.cfg.Now().After(m.WebhookExpiresAt)
}

// send posts one part of the reply to the conversation, @-mentioning who:
// through its session webhook while that lives, else through the robot
// OpenAPI. The error it returns is retryable; a failure a retry cannot mend
// is logged and dropped.
func (s *Service) send(ctx context.Context, log *slog.Logger, m chat.Message, part string, who dingtalk.Mention) error {
	if !s.webhookExpired(m) {
		err := s.cfg.Messenger.Send(ctx, m.Webhook, s.cfg.Format.Message(part, who))
		var apiErr *dingtalk.APIError
		switch {
		case err == nil:
			return nil
		case errors.Is(err, dingtalk.ErrWebhookNotAllowed):
			log.ErrorContext(ctx, "session webhook refused: its host is not in SESSION_WEBHOOK_HOSTS", "err", err)
			return nil
		case errors.As(err, &apiErr) && apiErr.SessionExpired():
			if s.cfg.Robot == nil {
				log.ErrorContext(ctx, "the session webhook has expired (300001), and DINGTALK_APP_KEY and DINGTALK_APP_SECRET "+
					"are not set for the reply function to answer through the robot OpenAPI: the answer is lost", "err", err)
				return nil
			}
			log.WarnContext(ctx, "the session webhook has expired (300001); answering through the robot OpenAPI")
		case errors.As(err, &apiErr) && !apiErr.Retryable():
			log.ErrorContext(ctx, "DingTalk refused the answer", "err", err)
			return nil
		default:
			return retryableError{fmt.Errorf("post the answer: %w", err)}
		}
	}
	// The robot OpenAPI cannot @ anyone: the asker is named instead.
	return s.sendByOpenAPI(ctx, log, m, s.cfg.Format.Message(part, dingtalk.Mention{Nick: who.Nick}))
}

func (s *Service) sendByOpenAPI(ctx context.Context, log *slog.Logger, m chat.Message, msg dingtalk.WebhookMessage) error {
	robotCode := cmp.Or(m.RobotCode, s.cfg.RobotCode)
	var err error
	switch {
	case m.IsGroup():
		err = s.cfg.Robot.SendToGroup(ctx, robotCode, m.ConversationID, msg)
	case m.SenderStaffID != "":
		err = s.cfg.Robot.SendToUser(ctx, robotCode, []string{m.SenderStaffID}, msg)
	default:
		log.ErrorContext(ctx, "the session webhook has expired and the sender has no staff id (an external user): "+
			"the robot OpenAPI cannot reach them; the answer is lost")
		return nil
	}
	if err == nil {
		log.InfoContext(ctx, "answered through the robot OpenAPI")
		return nil
	}
	var openErr *dingtalk.OpenAPIError
	var undelivered *dingtalk.UndeliveredError
	if (errors.As(err, &openErr) && openErr.Retryable()) || (errors.As(err, &undelivered) && undelivered.Retryable()) {
		return retryableError{fmt.Errorf("send through the robot OpenAPI: %w", err)}
	}
	log.ErrorContext(ctx, "the robot OpenAPI refused the answer", "err", err)
	return nil
}

// The robot speaks Chinese to its users, as the original did.
const (
	clearedText  = "已清除你与我的对话记录，我们重新开始吧。"
	noAnswerText = "抱歉，大模型只给出了思考过程，没有给出回答，请换个问法再试。"
	// describePictureQuestion is asked of pictures sent without words.
	describePictureQuestion = "请描述这张图片。"
	helpText                = "可用命令：\n" +
		`\clear  清除你与我的对话记录` + "\n" +
		`\help   显示本帮助` + "\n" +
		"其他消息都会作为问题交给大模型回答。"
)

func unknownCommandText(text string) string {
	word := strings.Fields(strings.TrimSpace(text))[0]
	return fmt.Sprintf("未知命令 %s。\n%s", word, helpText)
}

func unsupportedText(msgtype string) string {
	switch msgtype {
	case "text", "richText", "audio":
		return "没有收到文字内容，请直接输入你的问题。"
	case "picture":
		return "抱歉，我目前只能阅读文字，看不了图片。请用文字描述你的问题。"
	case "video":
		return "抱歉，我目前只能阅读文字，看不了视频。请用文字描述你的问题。"
	case "file":
		return "抱歉，我目前只能阅读文字，打不开文件。请把内容以文字发给我。"
	default:
		return "抱歉，这类消息我还不能处理。我能阅读文字消息和语音转写的文字。"
	}
}
