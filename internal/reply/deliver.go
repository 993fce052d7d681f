package reply

import (
	"context"
	"log/slog"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// deliver hands a to the outbox, recording each piece that reaches the
// conversation and, at the end, that the message is answered. A retryable
// failure is returned for FC to retry, which then delivers only what is
// missing; a final one is logged, and the message counts as answered: no
// retry could deliver it.
func (s *Service) deliver(ctx context.Context, log *slog.Logger, a chat.Answer) error {
	if err := s.writer.deliver(ctx, log, a); err != nil {
		return err
	}
	s.done(ctx, log, a.To)
	return nil
}

// deliver hands a to the outbox, recording each piece that reaches the
// conversation. It returns a retryable failure, or one of an attempt
// taken over; a final one is logged, and nil returned: no retry could
// deliver the answer.
func (w *Writer) deliver(ctx context.Context, log *slog.Logger, a chat.Answer) error {
	a.OnDelivered = func(piece int) {
		if err := w.receipts.MarkSent(ctx, a.To, piece); err != nil {
			log.ErrorContext(ctx, "could not record a posted part", "part", piece, "err", err)
		}
	}
	err := w.outbox.Deliver(ctx, a)
	switch {
	case retry.Retryable(err), takenOver(ctx, err):
		return err
	case err != nil:
		log.ErrorContext(ctx, "the answer could not be delivered, and trying again cannot mend it: the answer is lost", "err", err)
	}
	return nil
}

// done records that nothing is left to do for m, so that a later delivery
// of it ends at once.
func (s *Service) done(ctx context.Context, log *slog.Logger, m chat.Message) {
	s.claims.done(ctx, log, m)
	// Off the answer's path: it is out.
	s.control.prune(ctx, log)
}
