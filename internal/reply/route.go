package reply

import (
	"context"
	"log/slog"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// respond decides what to say to m: a command's answer when m is one, else
// the model's answer to the question it asks.
func (s *Service) respond(ctx context.Context, log *slog.Logger, m chat.Message, attempt chat.Attempt) (response, error) {
	if cmd, ok := s.command(m.Text); ok {
		text, err := cmd.run(ctx, log, m)
		return response{text: text}, err
	}
	return s.ask(ctx, log, m, attempt)
}
