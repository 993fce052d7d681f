package reply

import (
	"context"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// press is what a press of a button of one of the robot's cards does
// (chat.Press; docs/cards.md): nothing yet. The press is logged and
// dropped, and FC is told the event is done: a retry would do no more.
func (s *Service) press(ctx context.Context, p chat.Press) error {
	s.logger.ErrorContext(ctx, "press events are not handled yet: the press is dropped",
		"action", string(p.Action), "outTrackId", p.CardID, "userId", p.UserID)
	return nil
}
