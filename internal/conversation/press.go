package conversation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/fc"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
)

// The presses of the buttons of the robot's cards come to the same HTTP
// trigger as the messages, at PressPath (docs/protocols.md §18): DingTalk
// posts each to the URL the reply function registered for the route key,
// signed with CARD_CALLBACK_SECRET, and waits at most 2 s for the answer.
// A press is checked (the signature and its age, the body, the card: one
// of the robot's, by its tag, dingtalk.CardIDs) and handed to the reply
// function as an event, as a message is; nothing else is done here, so
// that the answer never waits on anything slow.

// PressPath is the path of the presses on the conversation function's
// address: the callback URL is that address with it, unless
// CARD_CALLBACK_URL names another.
const PressPath = "/card"

// MaxCardCallbackBytes bounds a press's body: DingTalk's are a few hundred
// bytes.
const MaxCardCallbackBytes = 64 << 10

// PressInvokeTimeout bounds the hand-over of a press to FC, well within
// the 2 s DingTalk waits: a press FC does not take by then is answered
// 502, and the presser may press again. The hand-over comes before the
// answer, not after it: FC may freeze an instance once it has answered.
const PressInvokeTimeout = 1500 * time.Millisecond

// pressAnswer tells DingTalk the press was taken, and changes nothing on
// the card: what an answer changes reaches the presser alone, so the reply
// function changes the card for everyone afterwards.
const pressAnswer = `{}`

// PressConfig is what the presses need. Without a Verifier.Secret
// (CARD_CALLBACK_SECRET) there are none: PressPath answers 404.
type PressConfig struct {
	// Verifier checks a press's signature; its Secret is
	// CARD_CALLBACK_SECRET, its Window SIGNATURE_MAX_AGE's.
	Verifier dingtalk.CardCallbackVerifier
	// IDs tells the robot's cards from forged ones.
	IDs dingtalk.CardIDs
	// CallbackURL is CARD_CALLBACK_URL: the callback URL each message's
	// event carries, and another path presses are served at. Empty, the
	// URL is the conversation function's own address as each message's
	// request shows it, with PressPath.
	CallbackURL string
}

func (c PressConfig) enabled() bool { return c.Verifier.Secret != "" }

// isPress reports whether r is addressed to the presses' path.
func (h *Handler) isPress(r *http.Request) bool {
	return slices.Contains(h.pressPaths, r.URL.Path)
}

func (h *Handler) servePress(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "card callbacks are POST requests", http.StatusMethodNotAllowed)
		return
	}
	if !h.presses.enabled() {
		h.logger.WarnContext(ctx, "card callback refused: CARD_CALLBACK_SECRET is not set, the robot's cards have no buttons", "remote", r.RemoteAddr)
		http.Error(w, "card callbacks are not configured (CARD_CALLBACK_SECRET)", http.StatusNotFound)
		return
	}
	timestamp := r.Header.Get(dingtalk.CardTimestampHeader)
	if err := h.presses.Verifier.Verify(timestamp, r.Header.Get(dingtalk.CardSignatureHeader)); err != nil {
		h.logger.WarnContext(ctx, "card callback refused", "reason", err.Error(), "remote", r.RemoteAddr)
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxCardCallbackBytes))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			h.logger.WarnContext(ctx, "card callback refused: body too large", "limit", MaxCardCallbackBytes)
			http.Error(w, "card callback body larger than 64 KiB", http.StatusRequestEntityTooLarge)
			return
		}
		h.logger.WarnContext(ctx, "card callback body unreadable", "err", err)
		http.Error(w, "card callback body unreadable", http.StatusBadRequest)
		return
	}
	p, err := dingtalk.ParseCardCallback(body)
	if err != nil {
		msg := "card callback refused: malformed"
		if errors.Is(err, dingtalk.ErrUnknownCardAction) {
			msg = "card callback refused: not one of the robot's buttons"
		}
		h.logger.WarnContext(ctx, msg, "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// The signature does not cover the body: a card that is not one of the
	// robot's is a forgery, or another app's card on this route key.
	if !h.presses.IDs.Check(p.CardID) {
		h.logger.WarnContext(ctx, "card callback refused: outTrackId is not one of this robot's cards", "outTrackId", p.CardID, "userId", p.UserID)
		http.Error(w, "outTrackId is not one of this robot's cards", http.StatusForbidden)
		return
	}

	now := h.now().UTC()
	p.At = now
	payload, err := json.Marshal(chat.Event{Version: chat.EventVersion, Press: &p, ReceivedAt: now})
	if err != nil { // a chat.Event always marshals
		h.logger.ErrorContext(ctx, "cannot encode the event", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	creds, _ := h.credentials(ctx)
	invokeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), PressInvokeTimeout)
	defer cancel()
	log := h.logger.With("action", string(p.Action), "outTrackId", p.CardID, "userId", p.UserID)
	replyRequestID, err := h.invoker.InvokeAsync(invokeCtx, creds, h.function, payload, PressTaskID(p, timestamp))
	switch {
	case errors.Is(err, fc.ErrTaskExists):
		// DingTalk sent this press again, and FC already has it.
		log.Log(ctx, logging.LevelNotice, "press already handed to the reply function")
	case err != nil:
		log.ErrorContext(ctx, "could not hand the press to the reply function", "replyFunction", h.function, "err", err)
		http.Error(w, "could not hand the press to the reply function", http.StatusBadGateway)
		return
	default:
		log.Log(ctx, logging.LevelNotice, "press handed to the reply function", "replyFunction", h.function, "replyRequestId", replyRequestID)
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, pressAnswer)
}

// PressTaskID is the FC async task id of a press: derived from the card,
// the presser, the button and its params, and the signed timestamp, so
// that DingTalk sending one press again is refused by FC (409) while the
// same button pressed again later is a new task. Hashing keeps it within
// the characters and length FC accepts.
func PressTaskID(p chat.Press, timestamp string) string {
	// JSON writes each part whole and a map's keys in order: no two
	// presses write the same text.
	b, _ := json.Marshal([]any{p.CardID, p.UserID, p.Action, timestamp, p.Params}) // strings and a map of strings always marshal
	sum := sha256.Sum256(b)
	return "dingtalk-press-" + hex.EncodeToString(sum[:16])
}
