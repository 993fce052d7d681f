package fcruntime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
)

// Invocation is what FC says about the request being served
// (docs/protocols.md §8).
type Invocation struct {
	// RequestID is FC's id of the invocation. An asynchronous invocation
	// keeps it across FC's retries, so it names the invocation, not one
	// attempt at it.
	RequestID string
	// RetryCount is FC's x-fc-retry-count: 0 on the first delivery of an
	// asynchronous invocation, n on its n-th retry.
	RetryCount   int
	FunctionName string
	Region       string
	AccountID    string
	Qualifier    string
	// AsyncTaskID is set on an asynchronous invocation made with a task id.
	AsyncTaskID string
	// Deadline is when FC ends the invocation (Config.FunctionTimeout after
	// it came), or zero when the runtime was not told the function's
	// timeout. The request's context has the same deadline.
	Deadline time.Time
	// Credentials are the temporary credentials of the function's role that
	// came with the request, as far as FC sent them: none for a function
	// without a role or outside FC; on a Debian 11 or newer runtime no
	// token, and maybe no key either (docs/protocols.md §9).
	Credentials alicloud.Credentials
}

// ErrNoInvocation is returned by FromContext for a context that did not
// come from the runtime.
var ErrNoInvocation = errors.New("fcruntime: the context carries no FC invocation")

type invocationKey struct{}

// NewContext returns a context that carries inv.
func NewContext(ctx context.Context, inv Invocation) context.Context {
	return context.WithValue(ctx, invocationKey{}, inv)
}

// FromContext returns the invocation a request's context carries, or
// ErrNoInvocation. Every request the runtime serves has one, with a request
// id: a handler that needs the id never sees an empty one.
func FromContext(ctx context.Context) (Invocation, error) {
	inv, ok := ctx.Value(invocationKey{}).(Invocation)
	if !ok || inv.RequestID == "" {
		return Invocation{}, ErrNoInvocation
	}
	return inv, nil
}

// The request headers FC sets (docs/protocols.md §8).
const (
	headerRequestID  = "x-fc-request-id"
	headerRetryCount = "x-fc-retry-count"
)

func invocationFrom(r *http.Request) Invocation {
	h := r.Header
	id := h.Get(headerRequestID)
	if id == "" {
		// Outside FC (a local run, a direct call) there is no request id; make
		// one so that the lines of one request still belong together.
		id = "local-" + randomHex(8)
	}
	retries, err := strconv.Atoi(h.Get(headerRetryCount))
	if err != nil || retries < 0 {
		retries = 0
	}
	return Invocation{
		RequestID:    id,
		RetryCount:   retries,
		FunctionName: h.Get("x-fc-function-name"),
		Region:       h.Get("x-fc-region"),
		AccountID:    h.Get("x-fc-account-id"),
		Qualifier:    h.Get("x-fc-qualifier"),
		AsyncTaskID:  h.Get("x-fc-async-task-id"),
		Credentials: alicloud.Credentials{
			AccessKeyID:     h.Get("x-fc-access-key-id"),
			AccessKeySecret: h.Get("x-fc-access-key-secret"),
			SecurityToken:   h.Get("x-fc-security-token"),
		},
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
