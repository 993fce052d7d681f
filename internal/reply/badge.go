package reply

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// badgeTimeout bounds each badge call: taking the badge off happens after
// the answer is out, while the invocation still runs.
const badgeTimeout = 5 * time.Second

// badge puts the "thinking" badge on m while the model answers it
// (THINKING_REACTION), beside the model's work rather than before it, and
// returns what takes it off once the answer is delivered. The badge is a
// nicety DingTalk is known to refuse now and then: a failure is logged and
// the answer goes on.
func (w *Writer) badge(ctx context.Context, log *slog.Logger, m chat.Message) (off func()) {
	if !offered(w.reactions) {
		return func() {} // no call, no goroutine, for a badge never put on
	}
	put := make(chan bool, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, badgeTimeout)
		defer cancel()
		err := w.reactions.Thinking(ctx, m)
		if err != nil {
			log.WarnContext(ctx, "could not put the thinking badge on the message", "err", err)
		}
		// A call that timed out may have put it on all the same.
		put <- err == nil || errors.Is(err, context.DeadlineExceeded)
	}()
	return func() {
		if <-put {
			w.unbadge(ctx, log, m)
		}
	}
}

// unbadge takes the thinking badge off m.
func (w *Writer) unbadge(ctx context.Context, log *slog.Logger, m chat.Message) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), badgeTimeout)
	defer cancel()
	if err := w.reactions.Done(ctx, m); err != nil {
		log.WarnContext(ctx, "could not take the thinking badge off the message", "err", err)
	}
}
