package reply

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// maxEventBytes is above FC's 128 KB async payload limit, so any event FC
// delivers is read whole.
const maxEventBytes = 256 << 10

// Handler serves FC's invocations of the reply function: POST /invoke with
// the event as the body.
func Handler(s *Service, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /invoke", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEventBytes))
		if err != nil {
			fail(w, logger, r, http.StatusRequestEntityTooLarge, false, "event too large or unreadable", err)
			return
		}
		var ev chat.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			fail(w, logger, r, http.StatusBadRequest, false, "event is not JSON", err)
			return
		}
		if err := ev.Validate(); err != nil {
			fail(w, logger, r, http.StatusBadRequest, false, "event refused", err)
			return
		}
		if err := s.Handle(ctx, ev); err != nil {
			fail(w, logger, r, http.StatusNotFound, Retryable(err), "reply failed", err)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

// fail answers an invocation that did not succeed. FC retries an async
// invocation only when the answer carries x-fc-status: 404, so that header
// is set exactly for failures a retry can mend; an event that can never be
// handled is answered without it, so FC does not bill retries for nothing.
func fail(w http.ResponseWriter, logger *slog.Logger, r *http.Request, status int, retry bool, msg string, err error) {
	if retry {
		w.Header().Set("x-fc-status", "404")
		status = http.StatusNotFound
	}
	logger.ErrorContext(r.Context(), msg, "err", err, "retry", retry)
	http.Error(w, msg+": "+err.Error(), status)
}
