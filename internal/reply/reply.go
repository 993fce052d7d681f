// Package reply is the event function that answers a message: it reads the
// sender's history from the OSS mount, asks the model, stores the new turn
// and posts the answer to the conversation's session webhook.
package reply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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

// Model answers a question in the light of the turns before it (openai.Client).
type Model interface {
	Complete(ctx context.Context, history []chat.Turn, question string) (string, error)
}

// Messenger posts to a session webhook (dingtalk.WebhookClient).
type Messenger interface {
	// Allowed tells whether a webhook may be posted to at all: its host must
	// be one of SESSION_WEBHOOK_HOSTS, so that a forged event cannot make the
	// function call an arbitrary URL.
	Allowed(webhookURL string) error
	Send(ctx context.Context, webhookURL string, msg dingtalk.WebhookMessage) error
}

// Config holds what a Service needs.
type Config struct {
	History   History
	Model     Model
	Messenger Messenger
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

// Handle answers one message.
func (s *Service) Handle(ctx context.Context, ev chat.Event) error {
	m := ev.Message
	log := s.cfg.Logger.With("msgId", m.ID)
	if !m.WebhookExpiresAt.IsZero() && s.cfg.Now().After(m.WebhookExpiresAt) {
		// Nothing can reach the user any more; trying again will not help.
		log.ErrorContext(ctx, "session webhook expired before the answer; dropping the message",
			"expiredAt", m.WebhookExpiresAt)
		return nil
	}

	if err := s.cfg.Messenger.Allowed(m.Webhook); err != nil {
		log.ErrorContext(ctx, "session webhook refused: its host is not in SESSION_WEBHOOK_HOSTS", "err", err)
		return nil
	}

	owner := m.HistoryOwner()
	switch chat.ParseCommand(m.Text) {
	case chat.ClearCommand:
		if err := s.cfg.History.Clear(ctx, owner, m.CreatedAt); err != nil {
			return retryableError{fmt.Errorf("clear history: %w", err)}
		}
		log.Log(ctx, logging.LevelNotice, "history cleared")
		return s.send(ctx, log, m, clearedText)
	case chat.HelpCommand:
		return s.send(ctx, log, m, helpText)
	case chat.UnknownCommand:
		return s.send(ctx, log, m, unknownCommandText(m.Text))
	}

	if m.Text == "" {
		return s.send(ctx, log, m, unsupportedText(m.Type))
	}

	history, err := s.cfg.History.Load(ctx, owner, s.cfg.HistoryLength)
	if err != nil {
		return retryableError{fmt.Errorf("load history: %w", err)}
	}
	askCtx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	answer, err := s.cfg.Model.Complete(askCtx, history, m.Text)
	cancel()
	if err != nil {
		// The user hears what went wrong in words they understand; the
		// history stays as it was, so the question can simply be asked again.
		log.ErrorContext(ctx, "the model did not answer", "err", err, "historyTurns", len(history))
		return s.send(ctx, log, m, modelErrorText(err, s.cfg.Timeout))
	}

	turn := chat.Turn{MessageID: m.ID, Question: m.Text, Answer: answer, AskedAt: m.CreatedAt, AnsweredAt: s.cfg.Now().UTC()}
	if err := s.cfg.History.Save(ctx, owner, turn); err != nil {
		// The answer still reaches the user; only its memory is lost, which
		// is better than asking the model again on a retry.
		log.ErrorContext(ctx, "could not save the turn", "err", err)
	}
	log.Log(ctx, logging.LevelNotice, "answered", "historyTurns", len(history), "answerBytes", len(answer))
	return s.send(ctx, log, m, answer)
}

func (s *Service) send(ctx context.Context, log *slog.Logger, m chat.Message, text string) error {
	err := s.cfg.Messenger.Send(ctx, m.Webhook, dingtalk.TextMessage(text))
	if err == nil {
		return nil
	}
	var apiErr *dingtalk.APIError
	switch {
	case errors.Is(err, dingtalk.ErrWebhookNotAllowed):
		log.ErrorContext(ctx, "session webhook refused: its host is not in SESSION_WEBHOOK_HOSTS", "err", err)
		return nil
	case errors.As(err, &apiErr) && !apiErr.Retryable():
		log.ErrorContext(ctx, "DingTalk refused the answer", "err", err)
		return nil
	default:
		return retryableError{fmt.Errorf("post the answer: %w", err)}
	}
}

// The robot speaks Chinese to its users, as the original did.
const (
	clearedText = "已清除你与我的对话记录，我们重新开始吧。"
	helpText    = "可用命令：\n" +
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
