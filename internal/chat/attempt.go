package chat

import (
	"errors"
	"strconv"
)

// Attempt is one attempt at answering a message: one delivery of the FC
// invocation that carries it, in one process. It is what holds a message's
// claim, so that two deliveries of one event never both answer it.
type Attempt struct {
	// RequestID is FC's id of the invocation. FC keeps it across its
	// retries, and a duplicate delivery carries it too.
	RequestID string
	// Retry is FC's retry count: 0 on the first delivery, n on the n-th
	// retry.
	Retry int
	// Instance tells apart the deliveries of one attempt: the process that
	// received it, and which of its deliveries it is. Two deliveries of one
	// attempt at once, on two instances or on one, differ only in it.
	Instance string
}

// String names the attempt, for logs and for what it creates (an AI card).
func (a Attempt) String() string {
	return a.RequestID + "/" + strconv.Itoa(a.Retry) + "/" + a.Instance
}

// Retries reports whether a is FC's retry of b's invocation. FC retries an
// invocation only once an attempt at it has ended (failed, timed out, or
// lost with its instance), so b can no longer be answering.
func (a Attempt) Retries(b Attempt) bool {
	return a.RequestID == b.RequestID && a.Retry > b.Retry
}

// Duplicates reports whether a and b are two deliveries of one attempt:
// FC delivers at least once, and now and then twice at the same time.
func (a Attempt) Duplicates(b Attempt) bool {
	return a.RequestID == b.RequestID && a.Retry == b.Retry && a.Instance != b.Instance
}

// ErrNotHeld says that an attempt no longer holds the message it claimed:
// it stopped renewing its claim for long enough that another attempt took
// the message over, and must leave the message to that one.
var ErrNotHeld = errors.New("the message's claim is held by another attempt")
