package fcruntime

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// MaxEventBytes bounds the payload of an event. It is above FC's 128 KB
// limit for asynchronous payloads (docs/protocols.md §10), so any event FC
// delivers is read whole, and anything larger did not come from FC.
const MaxEventBytes = 256 << 10

// Events serves FC's invocations of an event function: POST /invoke with
// the event as the body (docs/protocols.md §8). It reads at most
// MaxEventBytes, decodes the JSON into an E, validates it when E has a
// method Validate() error, and calls handle with the invocation's context
// (FromContext gives the Invocation). Validate may have a value or a
// pointer receiver. What it answers is what FC acts on:
//
//   - 200 when handle succeeds;
//   - 413 or 400, without x-fc-status, for a payload that is too large, is
//     not an E, or does not validate: another delivery would fail the same
//     way, and FC retries only what carries x-fc-status;
//   - 404 with x-fc-status: 404, FC's signal to retry, when handle's error
//     is retryable (retry.Retryable);
//   - 404 without x-fc-status for any other error of handle: FC counts the
//     invocation done and does not bill retries that cannot succeed.
//
// Every failure is logged once, here.
func Events[E any](handle func(context.Context, E) error, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /invoke", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEventBytes))
		if err != nil {
			status := http.StatusBadRequest
			if errors.As(err, new(*http.MaxBytesError)) {
				status = http.StatusRequestEntityTooLarge
			}
			refuse(ctx, w, logger, status, "event too large or unreadable", err)
			return
		}
		var ev E
		if err := json.Unmarshal(body, &ev); err != nil {
			refuse(ctx, w, logger, http.StatusBadRequest, "event is not JSON of the expected shape", err)
			return
		}
		if v, ok := any(&ev).(interface{ Validate() error }); ok {
			if err := v.Validate(); err != nil {
				refuse(ctx, w, logger, http.StatusBadRequest, "event refused", err)
				return
			}
		}
		if err := handle(ctx, ev); err != nil {
			again := retry.Retryable(err)
			if again {
				reportRetry(w.Header())
			}
			logger.ErrorContext(ctx, "invocation failed", "err", err, "retry", again)
			http.Error(w, "invocation failed: "+err.Error(), http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

// refuse answers an event that can never be handled, without x-fc-status,
// so that FC does not retry it.
func refuse(ctx context.Context, w http.ResponseWriter, logger *slog.Logger, status int, msg string, err error) {
	logger.ErrorContext(ctx, msg, "err", err, "retry", false)
	http.Error(w, msg+": "+err.Error(), status)
}

// reportRetry marks an answer as a failure for FC to retry: FC reads an
// invocation's outcome from x-fc-status alone, and only 404 there counts as
// an error (docs/protocols.md §8).
func reportRetry(h http.Header) { h.Set("x-fc-status", "404") }
