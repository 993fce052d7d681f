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

// duplicatePoll is how often a second delivery of an attempt looks whether
// the first has answered.
const duplicatePoll = time.Second

// claim reads what earlier attempts did for m and claims m for attempt a.
// claimed is false when there is nothing to do: m was answered in full
// already, or (with a retryable error) another attempt holds it now.
//
// A second delivery of the very attempt that holds m (FC delivers at least
// once, now and then twice at the same time) waits for the first to end
// instead: FC counts one outcome for both, and a failure reported for this
// one would make FC retry, and the retry take m over from the first while
// it still answers. So it ends with the first: done once m is delivered,
// taking m itself if the first gives it up or goes stale.
func (s *Service) claim(ctx context.Context, log *slog.Logger, m chat.Message, a chat.Attempt) (rec chat.Receipt, claimed bool, err error) {
	ttl := s.cfg.Timeout + claimMargin
	for waited := time.Duration(0); ; waited += duplicatePoll {
		var holder chat.Attempt
		rec, holder, claimed, err = s.cfg.Receipts.Claim(ctx, m, a, ttl)
		switch {
		case err != nil:
			return rec, false, retry.Mark(fmt.Errorf("claim the message: %w", err))
		case rec.Delivered:
			log.Log(ctx, logging.LevelNotice, "message already answered; duplicate delivery ignored")
			return rec, false, nil
		case claimed:
			return rec, true, nil
		case !a.Duplicates(holder) || waited > ttl:
			// Another invocation is answering it right now. If it fails,
			// FC's retry of this one finds the claim released or stale.
			return rec, false, retry.Mark(fmt.Errorf("the message is being answered by another invocation (%s)", holder))
		}
		if waited == 0 {
			log.InfoContext(ctx, "a second delivery of this attempt: waiting for the first to answer", "holder", holder.String())
		}
		if err := retry.Sleep(ctx, duplicatePoll); err != nil {
			return rec, false, retry.Mark(fmt.Errorf("wait for the first delivery: %w", errors.Join(err, ctx.Err())))
		}
	}
}

// release gives up a's claim on m after a failure, so that FC's retry can
// take the message at once.
func (s *Service) release(ctx context.Context, log *slog.Logger, m chat.Message, a chat.Attempt) {
	if err := s.cfg.Receipts.Release(ctx, m, a); err != nil {
		log.WarnContext(ctx, "could not release the message's claim", "err", err)
	}
}
