package reply

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// ask puts m's question to the model and shows the answer as it is
// written where the conversation can show it. TIMEOUT bounds the model's
// silence, not its answer: the wait for its first word and any pause
// between two (a reasoning model's reasoning counts as words). The whole
// answer is bounded by the function's time less what delivery needs
// (deadline.go's answerTime). An answer cut short by either, or by a
// connection lost mid-answer, is delivered and kept as far as it was
// written, marked as cut. A model that fails before writing anything gets
// its failure told to the user in words they understand, and the history
// stays as it was, so that the question can simply be asked again.
//
// The writer is where the answer is written: the model streams it, the
// outbox shows it, \stop and the bounds end it, and it is delivered.
type Writer struct {
	outbox    Outbox
	receipts  Receipts
	reactions Reactions
	stops     Stops
	// stopPoll is how often an answer looks for a stop request
	// (StopPoll).
	stopPoll time.Duration
	// timeout bounds the model's silence (TIMEOUT); reserve is what an
	// answer leaves of the function's time for its delivery
	// (DeliveryReserve).
	timeout, reserve time.Duration
	// showThinking shows a reasoning model's reasoning (SHOW_THINKING).
	showThinking bool
	now          func() time.Time
	// tools are the model's hands (noTools without any), toolLog where
	// their rounds are recorded, maxToolRounds how many it may take
	// (tools.go).
	tools         Tools
	toolLog       ToolLog
	maxToolRounds int
	// decisions keep the decisions on calls that wait for a yes, from
	// those access says may make them, for at most confirmWait
	// (confirm.go).
	decisions   Decisions
	access      Access
	confirmWait time.Duration
	// cards keep which message each card with buttons answers.
	cards Cards
}

// WriterConfig is what a Writer needs.
type WriterConfig struct {
	// Outbox shows the answer while it is written, and delivers it.
	Outbox Outbox
	// Receipts keep what was delivered of the answer.
	Receipts Receipts
	// Reactions, when offered, badge each question while the model
	// answers it (THINKING_REACTION); nil puts no badge.
	Reactions Reactions
	// Stops, when offered, end an answer whose asker sent \stop: the
	// answer looks for a request every StopPoll (0 means
	// DefaultStopPoll), and is streamed, so that a stopped one has what
	// was written so far to show. nil offers no \stop.
	Stops    Stops
	StopPoll time.Duration
	// Timeout bounds the model's silence (TIMEOUT): the wait for its
	// first word, and for each next one. The answer as a whole is bounded
	// by the invocation's deadline (fcruntime's FunctionTimeout) less
	// DeliveryReserve (0 means DefaultDeliveryReserve).
	Timeout         time.Duration
	DeliveryReserve time.Duration
	// ShowThinking shows a reasoning model's reasoning, folded under a
	// quote (SHOW_THINKING); else the user sees only the answer.
	ShowThinking bool
	// Tools, when offered, are what the model may use while it answers;
	// ToolLog records each round of calls, so that none is made twice;
	// MaxToolRounds (0 means DefaultMaxToolRounds) bounds the rounds.
	Tools         Tools
	ToolLog       ToolLog
	MaxToolRounds int
	// Decisions keep what people decided on the calls that wait for a
	// yes (an MCP server's confirm list), among Access's administrators
	// in a group; an answer waits ConfirmWait (0 means
	// DefaultConfirmWait) at most. nil allows no such call.
	Decisions   Decisions
	Access      Access
	ConfirmWait time.Duration
	// Cards, with cards that have buttons, keep which message each card
	// answers, for its presses.
	Cards Cards
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewWriter returns a Writer; a port cfg leaves nil is a feature that is
// off (features.go).
func NewWriter(cfg WriterConfig) *Writer {
	if cfg.StopPoll <= 0 {
		cfg.StopPoll = DefaultStopPoll
	}
	if cfg.DeliveryReserve <= 0 {
		cfg.DeliveryReserve = DefaultDeliveryReserve
	}
	if cfg.MaxToolRounds <= 0 {
		cfg.MaxToolRounds = DefaultMaxToolRounds
	}
	if cfg.ConfirmWait <= 0 {
		cfg.ConfirmWait = DefaultConfirmWait
	}
	return &Writer{
		tools: orOff[Tools](cfg.Tools, noTools{}), toolLog: orOff[ToolLog](cfg.ToolLog, unrecorded{}),
		maxToolRounds: cfg.MaxToolRounds, decisions: orOff[Decisions](cfg.Decisions, noDecisions{}),
		access: cfg.Access, confirmWait: cfg.ConfirmWait, cards: orOff[Cards](cfg.Cards, noCards{}),
		outbox: cfg.Outbox, receipts: cfg.Receipts, reactions: orOff[Reactions](cfg.Reactions, noReactions{}),
		stops: orOff[Stops](cfg.Stops, noStops{}), stopPoll: cfg.StopPoll, timeout: cfg.Timeout,
		reserve: cfg.DeliveryReserve, showThinking: cfg.ShowThinking, now: orNow(cfg.Now),
	}
}

// recover finishes what an earlier attempt at j's message may have left
// unfinished: FC retries an attempt that ended, and one that died may have
// left its card open, and its badge on.
func (w *Writer) recover(ctx context.Context, j *job, rec chat.Receipt) {
	w.outbox.Recover(ctx, j.m, j.attempt)
	if !j.isCommand && rec.Answered {
		w.unbadge(ctx, j.log, j.m)
	}
}

// write asks the model q, for j, and writes its answer.
func (w *Writer) write(ctx context.Context, j *job, q question) (response, error) {
	m, log := j.m, j.log
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= w.reserve {
		// What came before (pictures, a quoted file waiting its turn) took
		// the answer's time: FC's retry starts with all of it.
		return response{}, retry.Mark(errors.New("no time is left to ask the model and deliver its answer"))
	}
	p, model := q.p, q.model
	j.unbadge = w.badge(ctx, log, m)
	draft := w.outbox.Open(ctx, m, j.attempt)
	if card, ok := draft.(chat.Buttons); ok {
		defer w.keepCard(ctx, j, card)()
	}
	askCtx, cancel := w.answerTime(ctx)
	defer cancel()
	askCtx, unwatch := w.watchStop(askCtx, log, m)
	defer unwatch()
	cv, err := w.converse(askCtx, j, model, p, q.window, draft)
	p, c, written, cause := cv.p, cv.c, cv.written, cv.cause
	raw := c.Text
	if err != nil && errors.Is(cause, errStopped) {
		shown := w.visible(written)
		used := sum(cv.earlier, chat.Usage{Prompt: p.Tokens(), Completion: chat.Tokens(written)})
		log.Log(ctx, logging.LevelNotice, "stopped by the asker", "historyTurns", len(p.History), "answerBytes", len(shown),
			"promptTokens", used.Prompt, "completionTokens", used.Completion, "usageReported", false)
		return response{text: stoppedText(shown), draft: draft, usage: used, stopped: true}, nil
	}
	cut := ""
	if err != nil {
		if ctx.Err() != nil {
			// The invocation itself ended (FC's deadline, a shutdown, the
			// claim taken over): nothing can be delivered from here.
			return response{}, err
		}
		if tf := (*toolsFailed)(nil); errors.As(err, &tf) && retry.Retryable(err) {
			// The bucket failed on the tools' way: FC's retry replays
			// what was recorded and goes on.
			return response{}, err
		}
		if (errors.Is(cause, errSilent) || errors.Is(cause, errOutOfTime)) && !modelSaid(err) {
			err = &modelTimeout{cause: cause, err: err}
		}
		if splitThinking(withoutPartialTag(written)).answer == "" {
			log.ErrorContext(ctx, "the model did not answer", "err", err, "historyTurns", len(p.History), "pictures", len(p.Images))
			return response{text: w.failureText(err), draft: draft}, nil
		}
		// What was written is the answer, as far as it goes.
		log.WarnContext(ctx, "the answer was cut short: delivering and keeping what was written", "err", err, "answerBytes", len(written))
		raw, cut = withoutPartialTag(written), cutMark(err)
		c.Usage = cv.earlier // the cut request's own is estimated below
	}
	t := splitThinking(raw)
	if t.answer == "" {
		log.ErrorContext(ctx, "the model only reasoned and gave no answer", "reasoningBytes", len(t.reasoning))
		return response{text: noAnswerText, draft: draft}, nil
	}

	// History keeps the answer alone: reasoning sent back to a reasoning
	// model is wasted tokens at best, and what its makers advise against.
	answer := t.answer
	if cut != "" {
		answer = cutText(answer, cut)
	}
	turn := chat.Turn{
		MessageID: m.ID, Question: q.remembered, Answer: answer,
		AskedAt: m.CreatedAt, AnsweredAt: w.now().UTC(),
	}
	used, reported := c.Usage, cv.last != (chat.Usage{})
	if !reported {
		// Some providers report no usage: count the estimate of the last
		// request instead, beside what the earlier rounds reported.
		used = sum(cv.earlier, chat.Usage{Prompt: p.Tokens(), Completion: chat.Tokens(raw)})
	}
	log.Log(ctx, logging.LevelNotice, "answered", "historyTurns", len(p.History), "answerBytes", len(t.answer), "pictures", len(p.Images),
		"promptTokens", used.Prompt, "completionTokens", used.Completion, "usageReported", reported, "cut", cut != "",
		"toolRounds", cv.rounds)
	text := t.shown(w.showThinking)
	if cut != "" {
		text = cutText(text, cut)
	}
	if len(q.notes) > 0 {
		text += "\n\n" + strings.Join(q.notes, "\n")
	}
	return response{text: text, turn: &turn, draft: draft, usage: used, taken: q.taken}, nil
}

// complete asks the model, streamed so that heard learns of every word
// (and a draft, when there is one, shows them), and returns what was
// written too, for an answer cut short.
func (w *Writer) complete(ctx context.Context, model Model, p chat.Prompt, draft chat.Draft, heard func()) (c chat.Completion, written string, err error) {
	c, err = model.Stream(ctx, p, func(soFar string) error {
		heard()
		if soFar == written {
			return nil // reasoning, not shown
		}
		written = soFar
		if draft != nil {
			draft.Show(w.visible(soFar))
		}
		return nil
	})
	return c, written, err
}

// visible is what the user may see of an answer still being written: no
// reasoning unless SHOW_THINKING, and never half a tag.
func (w *Writer) visible(soFar string) string {
	return splitThinking(withoutPartialTag(soFar)).shown(w.showThinking)
}
