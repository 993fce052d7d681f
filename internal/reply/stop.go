package reply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// \stop reaches the reply function as a message of its own, handled by
// whichever instance FC gives it, while another instance may be writing
// the answer it means to end. So nothing passes between them but the
// bucket: \stop leaves a request there, and an answer being written looks
// for one every StopPoll. An answer shorter than StopPoll never looks.

// DefaultStopPoll is how often an answer being written looks for a stop
// request: a stop ends it within about this long after the request is
// kept, at the cost of one bucket request per poll.
const DefaultStopPoll = time.Second

// errStopped is the cause of an answer's end when its asker stopped it.
var errStopped = errors.New("the asker asked to stop the answer")

// stop asks that the answers being written to m's asker in m's
// conversation end: those to questions sent before m.
func (s *Control) stop(ctx context.Context, log *slog.Logger, m chat.Message, _ string) (string, error) {
	if err := s.stops.Stop(ctx, m.HistoryOwner(), s.prompter.sentAt(m)); err != nil {
		return "", retry.Mark(fmt.Errorf("request a stop: %w", err))
	}
	log.Log(ctx, logging.LevelNotice, "stop requested")
	return "好的。如果我正在写给你的回答，它会在几秒内停下，已写出的部分保留，那一问不计入对话记录。", nil
}

// sentAt is when m was sent: DingTalk's createAt, or, for a callback
// without one, now.
func sentAt(m chat.Message, now func() time.Time) time.Time {
	if m.CreatedAt.IsZero() {
		return now()
	}
	return m.CreatedAt
}

// watchStop returns a context that ends with the cause errStopped once m's
// asker asks for a stop after m was sent, and a function that ends the
// watch (and the context).
func (w *Writer) watchStop(ctx context.Context, log *slog.Logger, m chat.Message) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	if !offered(w.stops) {
		return ctx, func() { cancel(nil) }
	}
	asked := sentAt(m, w.now)
	go func() {
		tick := time.NewTicker(w.stopPoll)
		defer tick.Stop()
		warned := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			stopped, err := w.stops.StoppedSince(ctx, m.HistoryOwner(), asked)
			switch {
			case err != nil && ctx.Err() == nil && !warned:
				// The answer goes on; a stop may yet be seen by a later
				// poll.
				log.WarnContext(ctx, "could not look for a stop request", "err", err)
				warned = true
			case stopped:
				cancel(errStopped)
				return
			}
		}
	}()
	return ctx, func() { cancel(nil) }
}

// stoppedText is what the user sees of an answer they stopped: what was
// written of it, marked as stopped.
func stoppedText(written string) string {
	if written == "" {
		return "（已停止，还没有写出内容）"
	}
	return cutText(written, "（已停止）")
}
