// Package conversation is the HTTP-triggered function that DingTalk calls
// with each message: it checks that DingTalk sent it, hands the message to
// the reply function through an asynchronous FC invocation, and answers
// DingTalk at once, because DingTalk gives up on a callback that is slow to
// answer and may deliver it again. The presses of the buttons of the
// robot's cards come the same way, at PressPath (press.go).
//
// It never waits for the answer and knows nothing of the model or the OSS
// mount: all of that happens in the reply function.
package conversation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/fc"
	"github.com/dingtalk-llm/fcrobot/internal/fcruntime"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
)

// MaxCallbackBytes bounds a callback's body. DingTalk's messages are a few
// KB; the event built from one must fit FC's 128 KB async payload limit.
const MaxCallbackBytes = 64 << 10

// Invoker starts the reply function asynchronously (fc.Invoker).
type Invoker interface {
	InvokeAsync(ctx context.Context, creds alicloud.Credentials, function string, payload []byte, taskID string) (requestID string, err error)
}

// Handler answers DingTalk's callbacks.
type Handler struct {
	verifier dingtalk.Verifier
	invoker  Invoker
	function string
	// fallback credentials, used when FC did not pass the role's credentials
	// with the request (a function without a role, or a local run).
	fallback alicloud.Credentials
	logger   *slog.Logger
	now      func() time.Time
	// robotCode, when known, is the only robotCode accepted.
	robotCode string
	// presses are the presses of the cards' buttons, served at pressPaths.
	presses    PressConfig
	pressPaths []string
	// hostWarned is set once the log has said that a message's Host gave
	// no card callback URL.
	hostWarned atomic.Bool
}

// Config holds what a Handler needs.
type Config struct {
	Verifier dingtalk.Verifier
	Invoker  Invoker
	// Function is the reply function's name (CHATGPT_FUNCTION).
	Function string
	// Credentials are used when a request carries none from FC.
	Credentials alicloud.Credentials
	Logger      *slog.Logger
	Now         func() time.Time
	// RobotCode is the robot's code, its app's AppKey (DINGTALK_APP_KEY):
	// when set, a callback whose robotCode differs is refused before the
	// reply function is invoked. Empty accepts any robotCode.
	RobotCode string
	// Presses serves the presses of the buttons of the robot's cards; its
	// zero value serves none.
	Presses PressConfig
}

// NewHandler returns the conversation function's handler.
func NewHandler(c Config) *Handler {
	if c.Now == nil {
		c.Now = time.Now
	}
	h := &Handler{verifier: c.Verifier, invoker: c.Invoker, function: c.Function,
		fallback: c.Credentials, logger: c.Logger, now: c.Now, robotCode: c.RobotCode,
		presses: c.Presses, pressPaths: []string{PressPath}}
	if u, err := url.Parse(c.Presses.CallbackURL); err == nil && u.Path != "" && u.Path != PressPath && u.Path != "/" {
		h.pressPaths = append(h.pressPaths, u.Path)
	}
	return h
}

// emptyReply tells DingTalk that there is no synchronous reply: the answer
// comes later through the session webhook.
const emptyReply = `{"msgtype":"empty"}`

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if h.isPress(r) {
		h.servePress(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "DingTalk callbacks are POST requests", http.StatusMethodNotAllowed)
		return
	}

	// The signature first: nothing from a sender we cannot trust is read
	// further, let alone passed on.
	if err := h.verifier.Verify(r.Header.Get("timestamp"), r.Header.Get("sign")); err != nil {
		h.logger.WarnContext(ctx, "callback refused", "reason", err.Error(), "remote", r.RemoteAddr)
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxCallbackBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.logger.WarnContext(ctx, "callback refused: body too large", "limit", MaxCallbackBytes)
			http.Error(w, "callback body larger than 64 KiB", http.StatusRequestEntityTooLarge)
			return
		}
		h.logger.WarnContext(ctx, "callback body unreadable", "err", err)
		http.Error(w, "callback body unreadable", http.StatusBadRequest)
		return
	}
	msg, err := dingtalk.ParseCallback(body)
	if err != nil {
		h.logger.WarnContext(ctx, "callback refused: malformed", "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}

	// The signature covers the timestamp, not the body (docs/threat-model.md):
	// a body that names another robot was not DingTalk's for this one.
	// DingTalk always sends an enterprise app robot's robotCode, so an
	// absent one is refused as well.
	if h.robotCode != "" && msg.RobotCode != h.robotCode {
		h.logger.WarnContext(ctx, "callback refused: robotCode is not this robot's", "robotCode", msg.RobotCode, "msgId", msg.ID)
		http.Error(w, "robotCode is not this robot's (DINGTALK_APP_KEY)", http.StatusForbidden)
		return
	}

	ev := chat.Event{Version: chat.EventVersion, Message: msg, ReceivedAt: h.now().UTC()}
	if h.presses.enabled() {
		var ok bool
		if ev.CardCallbackURL, ok = h.cardCallbackURL(r); !ok && !h.hostWarned.Swap(true) {
			h.logger.WarnContext(ctx, "the request's Host is no host name to register the card callback at: set CARD_CALLBACK_URL",
				"host", truncateHost(r.Host))
		}
	}
	payload, err := json.Marshal(ev)
	if err != nil { // a chat.Event always marshals; this guards a future field that would not
		h.logger.ErrorContext(ctx, "cannot encode the event", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}

	creds, source := h.credentials(ctx)
	// The reply function runs longer than DingTalk waits; the invocation must
	// not be cut off when DingTalk hangs up, only by its own timeout.
	invokeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 8*time.Second)
	defer cancel()
	replyRequestID, err := h.invoker.InvokeAsync(invokeCtx, creds, h.function, payload, TaskID(msg.ID))
	switch {
	case errors.Is(err, fc.ErrTaskExists):
		// DingTalk delivered this message again, and FC already has it.
		h.logger.Log(ctx, logging.LevelNotice, "message already handed to the reply function", "msgId", msg.ID)
	case err != nil:
		h.logger.ErrorContext(ctx, "could not invoke the reply function", "replyFunction", h.function, "msgId", msg.ID, "err", err)
		http.Error(w, "could not hand the message to the reply function", http.StatusBadGateway)
		return
	default:
		log := h.logger
		if ev.CardCallbackURL != "" {
			log = log.With("cardCallbackUrl", ev.CardCallbackURL)
		}
		log.Log(ctx, logging.LevelNotice, "message handed to the reply function",
			"msgId", msg.ID, "msgtype", msg.Type, "conversationType", msg.ConversationType,
			"replyFunction", h.function, "replyRequestId", replyRequestID, "credentials", source)
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, emptyReply)
}

// credentials are what InvokeFunction is signed with, and where they came
// from. The function role's credentials are temporary, so they are the
// request's only when FC passed all three, token included: a Debian 11 or
// newer custom runtime passes no token (and may pass the key id and
// secret all the same), and an
// STS key signed without its token is refused. Else they are the
// environment's ALIBABA_CLOUD_* triple, which FC sets for the role
// (docs/protocols.md §9).
func (h *Handler) credentials(ctx context.Context) (alicloud.Credentials, string) {
	if inv, err := fcruntime.FromContext(ctx); err == nil && inv.Credentials.Complete() && inv.Credentials.SecurityToken != "" {
		return inv.Credentials, "request"
	}
	return h.fallback, "environment"
}

// TaskID is the FC async task id for a DingTalk message: derived from msgId
// alone, so that a redelivered message maps to the same task and FC refuses
// it (409) instead of running the reply twice. Hashing keeps it within the
// characters and length FC accepts whatever msgId holds.
func TaskID(msgID string) string {
	sum := sha256.Sum256([]byte(msgID))
	return "dingtalk-" + hex.EncodeToString(sum[:16])
}

// truncateHost bounds a Host header for a log line.
func truncateHost(host string) string {
	if len(host) > 100 {
		return strings.ToValidUTF8(host[:100], "") + "…"
	}
	return host
}
