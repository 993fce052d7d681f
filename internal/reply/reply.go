// Package reply is the robot's core: it decides what to say to each message
// the reply function is handed, and hands the answer on, once.
//
// Service.Handle tells the story of one message in a page (reply.go):
// claim it, admit it, answer a command or ask the model, record the
// answer, deliver it. Four parts do the work, each a type with one job,
// made by New from the Config:
//
//   - claims (once.go): the claim on a message and its lease, so that a
//     message delivered again, or to two instances, is answered once;
//   - control (admission.go): conversation control: whether a message
//     gets an answer and who may ask; how often (usage.go, DAILY_LIMIT and
//     \usage); the commands (commands.go, settings.go for \system and
//     \model, stop.go for \stop);
//   - prompter (prompt.go): what the model is asked: the conversation's
//     system prompt and model, the history within the context window, the
//     files sent for the question (documents.go), the quote (quote.go),
//     the pictures (pictures.go), read while the message is claimed
//     (pending.go, job.go);
//   - writer (ask.go): the answer being written: streamed and shown where
//     the conversation can show it, bounded by deadline.go (TIMEOUT bounds
//     the model's silence, the function's deadline the whole, and a cut
//     answer is kept marked), ended by \stop (stop.go), told in words when
//     it fails (failure.go), badged while it is written (badge.go), and
//     delivered (deliver.go).
//
// route.go says whether a message is a command, a file or a question;
// record.go keeps the turn and the answer before the answer goes out. A
// feature a deployment does without is a port that says it is off
// (features.go), never a nil tested along the way.
//
// It speaks in the terms of package chat through the ports in ports.go and
// touches no outside system itself: DingTalk, the model and the OSS bucket
// are adapters that cmd/reply wires in. It reads the invocation from
// fcruntime's context and says "retry" through package retry.
package reply

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// Config holds what a Service needs.
type Config struct {
	History  History
	Receipts Receipts
	// Outbox delivers answers to the conversation.
	Outbox Outbox
	// Model answers questions.
	Model Model
	// Vision, when VISION_MODEL is set, answers messages with pictures,
	// which Files downloads, each at most MaxPictureBytes. Without either,
	// the robot says it reads text only.
	Vision          Model
	Files           Files
	MaxPictureBytes int64
	// Documents keep the files a user sends without a question for their
	// next question, which Reader reads, each at most MaxFileBytes
	// (MAX_FILE_MB), for DocumentsKept (0 means DefaultDocumentsKept).
	// Without Documents, Reader or Files, the robot says it reads no files.
	Documents     Documents
	Reader        Reader
	MaxFileBytes  int64
	DocumentsKept time.Duration
	// SystemPrompt is sent before every question (SYSTEM_PROMPT).
	SystemPrompt string
	// ShowThinking shows a reasoning model's reasoning, folded under a
	// quote (SHOW_THINKING); else the user sees only the answer.
	ShowThinking bool
	// HistoryLength is how many earlier question/answer pairs go to the model
	// with a new question (HISTORY_LENGTH).
	HistoryLength int
	// Settings keep each conversation's system prompt and model, set by
	// \system and \model; nil offers neither command.
	Settings Settings
	// Models are what \model may switch to (MODELS), DefaultModel among
	// them (MODEL).
	Models       []string
	DefaultModel string
	// Questions counts each sender's answered questions per day, for
	// DailyLimit and \usage; nil counts nothing.
	Questions Questions
	// Reactions, when set, badge each question while the model answers it
	// (THINKING_REACTION).
	Reactions Reactions
	// Stops, when set, offer \stop: an answer being written looks for a
	// stop request of its asker every StopPoll (0 means DefaultStopPoll),
	// and answers are streamed, so that a stopped one has what was
	// written so far to show.
	Stops    Stops
	StopPoll time.Duration
	// DailyLimit is how many questions a sender may ask a day
	// (DAILY_LIMIT); 0 means no limit. Admins are exempt.
	DailyLimit int
	// MaxContextTokens bounds the estimated tokens of what the model is
	// asked, the oldest turns of the history left out first
	// (MAX_CONTEXT_TOKENS); 0 means no bound.
	MaxContextTokens int
	// Timeout bounds the model's silence (TIMEOUT): the wait for its first
	// word, and for each next one. The answer as a whole is bounded by the
	// invocation's deadline (fcruntime's FunctionTimeout) less
	// DeliveryReserve (0 means DefaultDeliveryReserve).
	Timeout         time.Duration
	DeliveryReserve time.Duration
	// Access says who may ask, and who administers.
	Access Access
	// SharedGroupContext gives each group one history that all its
	// members share (GROUP_CONTEXT=group); else each member has their own.
	// Questions then reach the model prefixed by their asker's name.
	SharedGroupContext bool
	// ClaimLease is how long a claim on a message holds unless renewed;
	// 0 means DefaultClaimLease.
	ClaimLease time.Duration
	// Instance tells this process's attempts from another's: a random id
	// made at start.
	Instance string
	Logger   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service answers the messages handed to the reply function: it tells the
// story of each message (Handle), and four parts, each in its own file,
// do the work.
type Service struct {
	// claims answer each message once across instances (once.go).
	claims *claims
	// control decides who is answered and how often, and runs the
	// commands (admission.go).
	control *control
	// prompter gathers what the model is asked (prompt.go).
	prompter *prompter
	// writer writes the answer: streams it, stops or cuts it, delivers
	// it (ask.go).
	writer *writer

	// instance names this process (Config.Instance).
	instance string
	logger   *slog.Logger
	// deliveries counts the deliveries this process received, which tells
	// two deliveries of one attempt to the same instance apart.
	deliveries atomic.Uint64
}

// New returns a Service, its parts made from cfg: a port cfg leaves nil is
// a feature that is off (features.go).
func New(cfg Config) *Service {
	cfg = withDefaults(cfg)
	p := newPrompter(cfg)
	return &Service{
		claims:   newClaims(cfg),
		control:  newControl(cfg, p),
		prompter: p,
		writer:   newWriter(cfg),
		instance: cfg.Instance,
		logger:   cfg.Logger,
	}
}

// Handle answers one message, once: a message handed over again (FC
// delivers at least once and retries a failure; DingTalk redelivers) finds
// its receipt and is not answered twice, and an answer decided before a
// failure is delivered on the retry without asking the model again. A
// retryable error (retry.Retryable) asks FC to deliver the event again; any
// other failure is logged and the message dropped. ctx must carry the FC
// invocation (fcruntime.FromContext).
func (s *Service) Handle(ctx context.Context, ev chat.Event) error {
	j, err := s.newJob(ctx, ev)
	if err != nil {
		return err
	}
	defer s.readAhead(ctx, j)()
	rec, claimed, err := s.claims.claim(ctx, j.log, j.m, j.attempt)
	if err != nil || !claimed {
		return err
	}
	work, hold := s.claims.keep(ctx, j.log, j.m, j.attempt)
	j.hold = hold
	defer hold.end()
	if !s.control.admit(work, j.log, j.m) {
		s.done(work, j.log, j.m)
		return nil
	}
	switch err := s.answer(work, j, rec); {
	case takenOver(work, err):
		j.log.WarnContext(ctx, "the message was taken over by another attempt: leaving it to that one", "err", err)
		return nil
	case err != nil:
		// The renewals end before the release: one still being written
		// would land after it and hold the message for a whole lease.
		hold.end()
		s.claims.release(ctx, j.log, j.m, j.attempt)
		return err
	}
	return nil
}

// answer decides what to say to m (unless an earlier attempt did), keeps
// it, and delivers what has not been delivered yet.
func (s *Service) answer(ctx context.Context, j *job, rec chat.Receipt) error {
	if j.attempt.Retry > 0 {
		s.writer.recover(ctx, j, rec)
	}
	a := chat.Answer{To: j.m, Text: rec.Answer, Delivered: rec.PartsSent}
	if rec.Answered {
		j.log.InfoContext(ctx, "delivering the answer kept from an earlier attempt", "partsSent", rec.PartsSent)
		if err := j.hold.confirm(ctx); err != nil {
			return err
		}
		return s.deliver(ctx, j.log, a)
	}
	defer func() {
		if j.unbadge != nil {
			j.unbadge() // after the answer is out
		}
	}()
	r, err := s.respond(ctx, j)
	if err != nil {
		return err
	}
	// Only the holder keeps and posts an answer: one that lost the
	// message while the model wrote leaves both to the attempt that has
	// it.
	if err := j.hold.confirm(ctx); err != nil {
		return err
	}
	s.record(ctx, j, r)
	a.Text, a.Draft = r.text, r.draft
	return s.deliver(ctx, j.log, a)
}
