package reply

import (
	"context"
	"log/slog"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// badgeRecallTimeout bounds taking the badge off, which happens after the
// answer is out, while the invocation still runs.
const badgeRecallTimeout = 5 * time.Second

// badge puts the "thinking" badge on m while the model answers it
// (THINKING_REACTION), beside the model's work rather than before it, and
// returns what takes it off once the answer is delivered. The badge is a
// nicety DingTalk is known to refuse now and then: a failure is logged and
// the answer goes on.
func (s *Service) badge(ctx context.Context, log *slog.Logger, m chat.Message) (off func()) {
	if s.cfg.Reactions == nil {
		return func() {}
	}
	put := make(chan bool, 1)
	go func() {
		err := s.cfg.Reactions.Thinking(ctx, m)
		if err != nil {
			log.WarnContext(ctx, "could not put the thinking badge on the message", "err", err)
		}
		put <- err == nil
	}()
	return func() {
		if !<-put {
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), badgeRecallTimeout)
		defer cancel()
		if err := s.cfg.Reactions.Done(ctx, m); err != nil {
			log.WarnContext(ctx, "could not take the thinking badge off the message", "err", err)
		}
	}
}
