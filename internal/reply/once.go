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

// claimMargin is how long, beyond the model's timeout, an attempt may take
// to store and post an answer before its claim counts as abandoned.
const claimMargin = time.Minute

// claim reads what earlier attempts did for m and claims m for this
// attempt. claimed is false when there is nothing to do: m was answered in
// full already, or (with a retryable error) another attempt holds it now.
func (s *Service) claim(ctx context.Context, log *slog.Logger, m chat.Message, attempt string) (rec chat.Receipt, claimed bool, err error) {
	rec, err = s.cfg.Receipts.Get(ctx, m)
	if err != nil {
		return rec, false, retry.Mark(fmt.Errorf("read the message's receipt: %w", err))
	}
	if rec.Delivered {
		log.Log(ctx, logging.LevelNotice, "message already answered; duplicate delivery ignored")
		return rec, false, nil
	}
	claimed, err = s.cfg.Receipts.Claim(ctx, m, attempt, s.cfg.Timeout+claimMargin)
	switch {
	case err != nil:
		return rec, false, retry.Mark(fmt.Errorf("claim the message: %w", err))
	case !claimed:
		// Another attempt is answering it right now. If it fails, FC's
		// retry of this one finds the claim released or stale.
		return rec, false, retry.Mark(errors.New("the message is being answered by another invocation"))
	}
	return rec, true, nil
}

// release gives up this attempt's claim on m after a failure, so that FC's
// retry can take the message at once.
func (s *Service) release(ctx context.Context, log *slog.Logger, m chat.Message, attempt string) {
	if err := s.cfg.Receipts.Release(ctx, m, attempt); err != nil {
		log.WarnContext(ctx, "could not release the message's claim", "err", err)
	}
}
