// Package reply is the robot's core: it decides what to say to each message
// the reply function is handed, and hands the answer on, once.
//
// Service.Handle tells the story of one message in a page (reply.go):
// claim it, admit it, answer a command or ask the model, record the
// answer, deliver it. Four parts do the work, each a type with one job,
// made by its own constructor and wired by cmd/reply (New takes the
// Parts):
//
//   - Claims (once.go): the claim on a message and its lease, so that a
//     message delivered again, or to two instances, is answered once;
//   - Control (admission.go): conversation control: whether a message
//     gets an answer and who may ask; how often (usage.go, DAILY_LIMIT and
//     \usage); the commands (commands.go, settings.go for \system and
//     \model, stop.go for \stop);
//   - Prompter (prompt.go): what the model is asked: the conversation's
//     system prompt and model, the history within the context window, the
//     files sent for the question (documents.go), the quote (quote.go),
//     the pictures (pictures.go), read while the message is claimed
//     (pending.go, job.go);
//   - Writer (ask.go): the answer being written: streamed and shown where
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

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// Parts are a Service's four parts, each made by its own constructor
// (NewClaims, NewControl, NewPrompter, NewWriter) from what it needs:
// cmd/reply wires them.
type Parts struct {
	Claims   *Claims
	Control  *Control
	Prompter *Prompter
	Writer   *Writer
	// Instance tells this process's attempts from another's: a random id
	// made at start.
	Instance string
	// Logger is where the story of each message is logged; nil logs
	// nothing.
	Logger *slog.Logger
	// Registrar, with cards that have buttons, registers where DingTalk
	// sends their presses; nil registers nothing.
	Registrar Registrar
}

// Service answers the messages handed to the reply function: it tells the
// story of each message (Handle), and four parts, each in its own file,
// do the work.
type Service struct {
	// claims answer each message once across instances (once.go).
	claims *Claims
	// control decides who is answered and how often, and runs the
	// commands (admission.go).
	control *Control
	// prompter gathers what the model is asked (prompt.go).
	prompter *Prompter
	// writer writes the answer: streams it, stops or cuts it, delivers
	// it (ask.go).
	writer *Writer

	// registrar registers where the presses of the cards' buttons go
	// (register.go).
	registrar Registrar
	// instance names this process (Parts.Instance).
	instance string
	logger   *slog.Logger
	// deliveries counts the deliveries this process received, which tells
	// two deliveries of one attempt to the same instance apart.
	deliveries atomic.Uint64
}

// New returns the Service that tells each message's story with parts.
func New(parts Parts) *Service {
	logger := parts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		claims:    parts.Claims,
		control:   parts.Control,
		prompter:  parts.Prompter,
		writer:    parts.Writer,
		instance:  parts.Instance,
		logger:    logger,
		registrar: orOff[Registrar](parts.Registrar, noRegistrar{}),
	}
}

// Handle answers one message, once: a message handed over again (FC
// delivers at least once and retries a failure; DingTalk redelivers) finds
// its receipt and is not answered twice, and an answer decided before a
// failure is delivered on the retry without asking the model again. A
// retryable error (retry.Retryable) asks FC to deliver the event again; any
// other failure is logged and the message dropped. An event of a press of
// a card's button goes to press instead. ctx must carry the FC invocation
// (fcruntime.FromContext).
func (s *Service) Handle(ctx context.Context, ev chat.Event) error {
	if ev.Press != nil {
		return s.control.press(ctx, s.logger, *ev.Press)
	}
	j, err := s.newJob(ctx, ev)
	if err != nil {
		return err
	}
	defer s.register(ctx, j.log, ev.CardCallbackURL)()
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
	j.toolRounds = rec.ToolRounds
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
