package chat

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// PressAction is what a button of one of the robot's cards asks for: the
// button's params.action in the card template.
type PressAction string

// The buttons of the robot's card (docs/cards.md). Any other action is
// refused before it reaches the reply function.
const (
	// PressStop ends the answer while it streams, as \stop does.
	PressStop PressAction = "stop"
	// PressLike and PressDislike are a vote on a finished answer.
	PressLike    PressAction = "like"
	PressDislike PressAction = "dislike"
	// PressApprove and PressDeny decide on a tool the model wants to use;
	// the button's params name the call ("call").
	PressApprove PressAction = "approve"
	PressDeny    PressAction = "deny"
)

// Known reports whether a is one of the robot's buttons.
func (a PressAction) Known() bool {
	switch a {
	case PressStop, PressLike, PressDislike, PressApprove, PressDeny:
		return true
	}
	return false
}

// Bounds of what a press carries, whatever the callback held: far more
// than the robot's buttons send, small enough that an event stays small.
const (
	MaxPressParams     = 8
	MaxPressParamKey   = 64
	MaxPressParamValue = 1024 // a card variable's value is at most 1 KB
	MaxPressIDBytes    = 128  // outTrackId (DingTalk: at most 100 characters), userId, corpId
)

// Press is a button of one of the robot's cards, pressed by someone: the
// conversation function hands it to the reply function as an Event, as it
// hands over a message.
type Press struct {
	// CardID is the card's outTrackId: the reply function made it when it
	// opened the card, and the conversation function checked that it did.
	CardID string `json:"cardId"`
	// UserID is the presser's userId in the company (the staff id), as a
	// message's SenderStaffID.
	UserID string `json:"userId"`
	// CorpID is the presser's company.
	CorpID string `json:"corpId,omitempty"`
	// Action is the button's params.action.
	Action PressAction `json:"action"`
	// Params are the button's other string params (approve and deny name
	// the call they decide, "call").
	Params map[string]string `json:"params,omitempty"`
	// At is when the conversation function received the press.
	At time.Time `json:"at"`
}

// ErrInvalidPress is wrapped by every error Press.Validate returns.
var ErrInvalidPress = errors.New("invalid press")

// Validate checks that a press names a card, a presser and a known
// action, within the bounds above.
func (p Press) Validate() error {
	switch {
	case p.CardID == "" || len(p.CardID) > MaxPressIDBytes:
		return fmt.Errorf("%w: cardId missing or longer than %d bytes", ErrInvalidPress, MaxPressIDBytes)
	case p.UserID == "" || len(p.UserID) > MaxPressIDBytes:
		return fmt.Errorf("%w: userId missing or longer than %d bytes", ErrInvalidPress, MaxPressIDBytes)
	case len(p.CorpID) > MaxPressIDBytes:
		return fmt.Errorf("%w: corpId longer than %d bytes", ErrInvalidPress, MaxPressIDBytes)
	case !p.Action.Known():
		return fmt.Errorf("%w: action %q is none of the robot's buttons", ErrInvalidPress, truncate(string(p.Action), 32))
	case len(p.Params) > MaxPressParams:
		return fmt.Errorf("%w: %d params, at most %d", ErrInvalidPress, len(p.Params), MaxPressParams)
	}
	for k, v := range p.Params {
		if k == "" || len(k) > MaxPressParamKey || len(v) > MaxPressParamValue || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("%w: a param's name or value is empty, too long or not UTF-8", ErrInvalidPress)
		}
	}
	return nil
}

// truncate cuts s to at most n bytes, on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
