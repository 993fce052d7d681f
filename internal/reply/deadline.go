package reply

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// How long an answer may take. A model that streams a long answer at an
// ordinary pace writes for minutes, and what it wrote is worth keeping:
// TIMEOUT bounds only the model's silence, and the function's own time
// bounds the whole, less what delivering the answer needs. When either
// runs out, or the model's connection drops mid-answer, what was written
// goes out marked as cut (ask.go).

// DefaultDeliveryReserve is what an answer leaves of the function's time
// for keeping it and posting it: the bucket writes, and a few webhook posts
// of at most 15 s each that the answer's parts and a retry may take.
const DefaultDeliveryReserve = 20 * time.Second

// errSilent is the cause of an answer's end when the model said nothing
// for TIMEOUT.
var errSilent = errors.New("the model said nothing for TIMEOUT")

// errOutOfTime is the cause of an answer's end when the function's time,
// less what delivery needs, ran out.
var errOutOfTime = errors.New("the function's time for the answer ran out")

// answerTime is ctx bounded by the function's deadline less the delivery
// reserve, ending with the cause errOutOfTime; a ctx without a deadline
// (a run outside FC told no FUNCTION_TIMEOUT) is left unbounded, since
// the silence bound still ends a model that stalls.
func (w *Writer) answerTime(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadlineCause(ctx, deadline.Add(-w.reserve), errOutOfTime)
}

// watchSilence returns a context that ends with the cause errSilent once
// TIMEOUT passes without heard being called, heard, which the stream calls
// on each word, and a function that ends the watch.
func (w *Writer) watchSilence(ctx context.Context) (context.Context, func(), func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	silence := time.AfterFunc(w.timeout, func() { cancel(errSilent) })
	heard := func() { silence.Reset(w.timeout) }
	return ctx, heard, func() {
		silence.Stop()
		cancel(nil)
	}
}

// modelTimeout is a model's failure to answer in time, by one of the
// bounds above: it matches chat.ErrModelTimeout, and says which bound.
type modelTimeout struct {
	cause error // errSilent or errOutOfTime
	err   error
}

func (e *modelTimeout) Error() string { return e.cause.Error() + ": " + e.err.Error() }
func (e *modelTimeout) Unwrap() []error {
	return []error{e.cause, e.err}
}

// modelSaid reports whether err says what the model's endpoint did (it
// failed, refused, limited): a model that failed, and was retried until a
// bound ran out, is told by its failure rather than by the bound.
func modelSaid(err error) bool {
	for _, kind := range []error{chat.ErrModelUnauthorized, chat.ErrModelRateLimited, chat.ErrModelUnavailable,
		chat.ErrModelRejected, chat.ErrModelEmptyAnswer} {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}

// What an answer cut short says under what was written of it.
const (
	cutByTime       = "（回答超时，以上是已生成的部分）"
	cutByConnection = "（与大模型的连接中断，以上是已生成的部分）"
)

// cutMark is the mark of an answer that err cut short.
func cutMark(err error) string {
	if errors.Is(err, errSilent) || errors.Is(err, errOutOfTime) {
		return cutByTime
	}
	return cutByConnection
}

// cutText is what was written of an answer, marked: after a code block
// left open, not inside it.
func cutText(written, mark string) string {
	if strings.Count(written, "```")%2 == 1 {
		written += "\n```"
	}
	return written + "\n\n" + mark
}
