package reply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// DefaultClaimLease is how long a claim on a message holds unless its
// holder renews it. The holder renews it every third of the lease while it
// works, so that:
//   - an answer shorter than a third of the lease (most are) costs no
//     renewal, and a longer one a request per third;
//   - a holder that died is known for dead, and its message taken over, a
//     lease after its last renewal, however long a live answer takes;
//   - a holder stops being sure of its claim only after two renewals in a
//     row failed, and then makes sure before it writes or posts anything;
//     the last third of the lease is the slack for the clocks of two
//     instances to differ and for one post to go out.
//
// What remains of answering twice, with the default lease: a holder cut
// off from the bucket for two renewals in a row (20 s) whose confirm then
// passed just before, and whose keeping and posting of the answer then
// outlast the last 10 s of its lease less the difference between the two
// instances' clocks; and FC retrying one attempt twice, should it count
// each of the attempt's two deliveries' failures as its own (see
// followFirst): the second retry takes the message from the first at once.
// What remains of not answering: a first delivery still renewing when its
// twin's wait ends (5 s before the function's deadline) that then fails,
// with FC counting the twin's success.
const DefaultClaimLease = 30 * time.Second

// duplicateWait bounds how long, beyond the model's timeout, a second
// delivery of an attempt waits for the first when the function's timeout is
// not known: it must end before FC's timeout of the function, or FC would
// count it failed.
const duplicateWait = 30 * time.Second

// duplicateMargin is what a second delivery leaves of the function's time
// when it knows it: enough to end and answer FC.
const duplicateMargin = 5 * time.Second

// duplicateWait is how long a second delivery of an attempt waits for the
// first: as long as the first may work, up to the function's deadline when
// there is one (the first's answer may run until then), else TIMEOUT and
// duplicateWait.
func (c *Claims) duplicateWait(ctx context.Context) time.Duration {
	if deadline, ok := ctx.Deadline(); ok {
		return time.Until(deadline) - duplicateMargin
	}
	return c.timeout + duplicateWait
}

// Claims take each message for one attempt at a time, across instances,
// with a lease its holder renews while it works (DefaultClaimLease): the
// first step of a message, before anything is done for it, and the only
// one that speaks to Receipts of who holds what.
type Claims struct {
	receipts Receipts
	// lease is how long a claim holds unless renewed (ClaimLease).
	lease time.Duration
	// timeout is the model's TIMEOUT: how long a second delivery of an
	// attempt waits for the first, beyond duplicateWait, when the
	// function's deadline is not known.
	timeout time.Duration
	now     func() time.Time
}

// ClaimsConfig is what Claims need.
type ClaimsConfig struct {
	Receipts Receipts
	// Lease is how long a claim holds unless renewed; 0 means
	// DefaultClaimLease.
	Lease time.Duration
	// Timeout is the model's TIMEOUT.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewClaims returns the claims on messages kept in cfg.Receipts.
func NewClaims(cfg ClaimsConfig) *Claims {
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultClaimLease
	}
	return &Claims{receipts: cfg.Receipts, lease: cfg.Lease, timeout: cfg.Timeout, now: orNow(cfg.Now)}
}

// renewEvery is how often a holder renews its claim.
func (c *Claims) renewEvery() time.Duration { return c.lease / 3 }

// duplicatePoll is how often a second delivery of an attempt looks at how
// the first is doing: a few times per renewal.
func (c *Claims) duplicatePoll() time.Duration { return c.lease / 15 }

// claim reads what earlier attempts did for m and claims m for attempt a.
// claimed is false when there is nothing to do: m was answered in full
// already, or (with a retryable error) another invocation holds it now.
func (c *Claims) claim(ctx context.Context, log *slog.Logger, m chat.Message, a chat.Attempt) (rec chat.Receipt, claimed bool, err error) {
	rec, holder, claimed, err := c.receipts.Claim(ctx, m, a, c.lease)
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
		// FC's retry of this one finds the claim released, or its lease
		// run out.
		return rec, false, retry.Mark(fmt.Errorf("the message is being answered by another invocation (%s)", holder))
	}
	return rec, false, c.followFirst(ctx, log, m, holder)
}

// followFirst is a second delivery of the very attempt that holds m (FC
// delivers at least once, now and then twice at the same time). It never
// claims m: FC's retry of the attempt takes m over from an earlier attempt
// at once, and would take it from this one while it still answers. It
// waits, within FC's timeout, for the first delivery to end, and ends as
// the first did, so that whichever of the two outcomes FC counts for the
// attempt is the right one: success once m is delivered or once FC's retry
// holds it; a failure, for FC to retry, once the first gave m up after a
// failure or stopped renewing its claim (its instance died).
func (c *Claims) followFirst(ctx context.Context, log *slog.Logger, m chat.Message, first chat.Attempt) error {
	log.InfoContext(ctx, "a second delivery of this attempt: waiting for the first to answer", "holder", first.String())
	poll, limit := c.duplicatePoll(), c.duplicateWait(ctx)
	for waited := time.Duration(0); waited < limit; waited += poll {
		if err := retry.Sleep(ctx, poll); err != nil {
			break
		}
		rec, now, held, err := c.receipts.Holder(ctx, m)
		switch {
		case err != nil:
			continue // a passing failure to read: look again
		case rec.Delivered:
			log.Log(ctx, logging.LevelNotice, "the first delivery of this attempt answered the message")
			return nil
		case held && now == first:
			continue
		case held:
			log.InfoContext(ctx, "FC's retry holds the message now", "holder", now.String())
			return nil
		}
		log.WarnContext(ctx, "the first delivery of this attempt gave the message up or died: failing as it did, for FC's retry to answer")
		return retry.Mark(errors.New("the first delivery of this attempt ended without answering"))
	}
	log.WarnContext(ctx, "the first delivery of this attempt has not finished: leaving the message to it, and to FC's retry should it fail")
	return nil
}

// hold is an attempt's claim on a message while it works on it: it renews
// the claim every renewEvery and, should another attempt have taken the
// message over, cancels the work with chat.ErrNotHeld as its cause.
type hold struct {
	c      *Claims
	m      chat.Message
	a      chat.Attempt
	log    *slog.Logger
	cancel context.CancelCauseFunc
	stop   chan struct{}
	done   chan struct{}
	ending sync.Once

	mu sync.Mutex
	// renewedAt is when the newest renewal that succeeded was sent: the
	// claim holds at least a lease from then.
	renewedAt time.Time
}

// keep starts renewing a's claim on m, which a has just taken; the work on
// m goes on under the context it returns, and end stops the renewals.
func (c *Claims) keep(ctx context.Context, log *slog.Logger, m chat.Message, a chat.Attempt) (context.Context, *hold) {
	ctx, cancel := context.WithCancelCause(ctx)
	h := &hold{
		c: c, m: m, a: a, log: log, cancel: cancel,
		stop: make(chan struct{}), done: make(chan struct{}), renewedAt: c.now(),
	}
	go h.renewing(ctx)
	return ctx, h
}

func (h *hold) renewing(ctx context.Context) {
	defer close(h.done)
	tick := time.NewTicker(h.c.renewEvery())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.stop:
			return
		case <-tick.C:
		}
		if errors.Is(h.renew(ctx), chat.ErrNotHeld) {
			return
		}
	}
}

func (h *hold) renew(ctx context.Context) error {
	sent := h.c.now()
	err := h.c.receipts.Renew(ctx, h.m, h.a, h.c.lease)
	switch {
	case errors.Is(err, chat.ErrNotHeld):
		h.log.WarnContext(ctx, "another attempt took the message over: this one stops", "err", err)
		h.cancel(chat.ErrNotHeld)
		return err
	case err != nil:
		h.log.WarnContext(ctx, "could not renew the message's claim", "err", err)
		return err
	}
	h.mu.Lock()
	if sent.After(h.renewedAt) {
		h.renewedAt = sent
	}
	h.mu.Unlock()
	return nil
}

// confirm makes sure that the attempt still holds its message before it
// keeps or posts an answer: at no cost while the newest renewal is less
// than two thirds of a lease old, as it is unless the bucket failed; else
// by renewing the claim now. An error matching chat.ErrNotHeld says that
// another attempt has the message.
func (h *hold) confirm(ctx context.Context) error {
	if cause := context.Cause(ctx); errors.Is(cause, chat.ErrNotHeld) {
		return cause
	}
	h.mu.Lock()
	age := h.c.now().Sub(h.renewedAt)
	h.mu.Unlock()
	if age < h.c.lease-h.c.renewEvery() {
		return nil
	}
	if err := h.renew(ctx); err != nil {
		if errors.Is(err, chat.ErrNotHeld) {
			return err
		}
		return retry.Mark(fmt.Errorf("make sure the message is still this attempt's: %w", err))
	}
	return nil
}

// end stops the renewals, and returns once none is being written; it may
// be called more than once.
func (h *hold) end() {
	h.ending.Do(func() { close(h.stop) })
	<-h.done
	h.cancel(nil)
}

// takenOver reports whether the work on a message ended because another
// attempt took it over.
func takenOver(ctx context.Context, err error) bool {
	return errors.Is(err, chat.ErrNotHeld) || errors.Is(context.Cause(ctx), chat.ErrNotHeld)
}

// done records that nothing is left to do for m, so that a later delivery
// of it ends at once.
func (c *Claims) done(ctx context.Context, log *slog.Logger, m chat.Message) {
	if err := c.receipts.MarkDelivered(ctx, m); err != nil {
		log.ErrorContext(ctx, "could not record the delivery", "err", err)
	}
}

// release gives up a's claim on m after a failure, so that FC's retry can
// take the message at once.
func (c *Claims) release(ctx context.Context, log *slog.Logger, m chat.Message, a chat.Attempt) {
	if err := c.receipts.Release(ctx, m, a); err != nil {
		log.WarnContext(ctx, "could not release the message's claim", "err", err)
	}
}
