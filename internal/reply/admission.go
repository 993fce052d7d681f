package reply

import (
	"context"
	"log/slog"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// admit decides whether m, claimed, gets an answer at all. Today that is
// whether an answer can reach its sender: a message nobody can be answered
// on is dropped before the model is asked. Who may ask, and how often,
// belongs here once the robot decides it: after the claim, so that a
// message delivered again is never counted twice.
func (s *Service) admit(ctx context.Context, log *slog.Logger, m chat.Message) bool {
	if err := s.cfg.Outbox.Reachable(m); err != nil {
		log.ErrorContext(ctx, "no answer can reach the sender: dropping the message", "err", err)
		return false
	}
	return true
}
