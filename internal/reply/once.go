package reply

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// claimMargin is how long, beyond the model's timeout, an attempt may take
// to store and post an answer before its claim counts as abandoned. With
// TIMEOUT's default of 55 s the claim lasts 175 s, past FC's 120 s timeout
// of the function (s.yaml), so no live attempt's claim goes stale.
const claimMargin = 2 * time.Minute

// duplicateWait bounds how long, beyond the model's timeout, a second
// delivery of an attempt waits for the first: it must end before FC's
// timeout of the function, or FC would count it failed.
const duplicateWait = 30 * time.Second

// duplicatePoll is how often a second delivery of an attempt looks whether
// the first has answered.
const duplicatePoll = time.Second

// claim reads what earlier attempts did for m and claims m for attempt a.
// claimed is false when there is nothing to do: m was answered in full
// already, or (with a retryable error) another invocation holds it now.
//
// A second delivery of the very attempt that holds m (FC delivers at least
// once, now and then twice at the same time) is left with nothing to do,
// and never fails: a failure reported for it would make FC retry the
// invocation, and FC's retry takes m over from an earlier attempt at once,
// so it would take m from the first delivery while that one still answers.
// It waits, within FC's timeout, for the first to end, so that the outcome
// FC hears from it is the first's: done once m is delivered, or once the
// first gives m up or FC's retry takes it over.
func (s *Service) claim(ctx context.Context, log *slog.Logger, m chat.Message, a chat.Attempt) (rec chat.Receipt, claimed bool, err error) {
	rec, holder, claimed, err := s.cfg.Receipts.Claim(ctx, m, a, s.cfg.Timeout+claimMargin)
	switch {
	case err != nil:
		return rec, false, retry.Mark(fmt.Errorf("claim the message: %w", err))
	case rec.Delivered:
		log.Log(ctx, logging.LevelNotice, "message already answered; duplicate delivery ignored")
		return rec, false, nil
	case claimed:
		return rec, true, nil
	case !a.Duplicates(holder):
		// Another invocation is answering it right now. If it fails,
		// FC's retry of this one finds the claim released or stale.
		return rec, false, retry.Mark(fmt.Errorf("the message is being answered by another invocation (%s)", holder))
	}
	log.InfoContext(ctx, "a second delivery of this attempt: waiting for the first to answer", "holder", holder.String())
	for waited := time.Duration(0); waited < s.cfg.Timeout+duplicateWait; waited += duplicatePoll {
		if err := retry.Sleep(ctx, duplicatePoll); err != nil {
			break
		}
		rec, now, held, err := s.cfg.Receipts.Holder(ctx, m)
		switch {
		case err != nil:
			continue // a passing failure to read: look again
		case rec.Delivered:
			log.Log(ctx, logging.LevelNotice, "the first delivery of this attempt answered the message")
			return rec, false, nil
		case !held || now != holder:
			log.InfoContext(ctx, "the first delivery of this attempt gave the message up: it is FC's retry's", "holder", now.String())
			return rec, false, nil
		}
	}
	log.WarnContext(ctx, "the first delivery of this attempt has not finished: leaving the message to it, and to FC's retry should it fail")
	return rec, false, nil
}

// release gives up a's claim on m after a failure, so that FC's retry can
// take the message at once.
func (s *Service) release(ctx context.Context, log *slog.Logger, m chat.Message, a chat.Attempt) {
	if err := s.cfg.Receipts.Release(ctx, m, a); err != nil {
		log.WarnContext(ctx, "could not release the message's claim", "err", err)
	}
}
