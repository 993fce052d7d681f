package dingtalk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxOutTrackIDLen is the most characters DingTalk takes in an outTrackId
// ("不超过100个字符", docs/protocols.md §18).
const MaxOutTrackIDLen = 100

// CardIDs makes and checks the outTrackIds of the robot's cards with
// buttons, so that the conversation function can tell a press on one of
// them from a press on a forged id without storing anything: a card
// callback's signature covers its timestamp, not its body, so whoever
// captured one may post any outTrackId within the window.
//
// An id is the reply function's own id of the card (base), "_", and the
// first 16 hex digits (64 bits) of HMAC-SHA256 of the base, keyed by a key
// derived from CARD_CALLBACK_SECRET, which both functions have:
// "fcrobot-3f2a…_9c41d0e2b7a85f13". Only letters, digits, "-" and "_", the
// characters of DingTalk's own examples, and 57 characters for the
// robot's 40-character bases, within MaxOutTrackIDLen. A forger who sees
// ids of real cards learns nothing of the key; guessing a tag takes 2^64
// tries, each a request the conversation function refuses and logs.
type CardIDs struct {
	// Secret is CARD_CALLBACK_SECRET. Empty, New marks nothing and Check
	// accepts nothing.
	Secret string
}

const (
	cardIDSeparator = "_"
	cardIDTagHex    = 16
	// cardIDKeyLabel derives the tag's key from the secret, so that the
	// key is never the very key of the callbacks' signature
	// (HMAC-SHA256(secret, timestamp)): a tag is no signature of anything.
	cardIDKeyLabel = "fcrobot card ids v1"
)

// New returns base with its tag: the outTrackId of a card with buttons.
// Without a secret it returns base as it is.
func (c CardIDs) New(base string) string {
	if c.Secret == "" {
		return base
	}
	return base + cardIDSeparator + c.tag(base)
}

// Check reports whether outTrackID is one New made with this secret: at
// most MaxOutTrackIDLen long, a non-empty base, and its tag, compared in
// constant time.
func (c CardIDs) Check(outTrackID string) bool {
	if c.Secret == "" || len(outTrackID) > MaxOutTrackIDLen {
		return false
	}
	i := strings.LastIndex(outTrackID, cardIDSeparator)
	if i <= 0 {
		return false
	}
	base, tag := outTrackID[:i], outTrackID[i+1:]
	if len(tag) != cardIDTagHex {
		return false
	}
	return hmac.Equal([]byte(tag), []byte(c.tag(base)))
}

// tag is the first cardIDTagHex lower-case hex digits of the base's MAC.
func (c CardIDs) tag(base string) string {
	k := hmac.New(sha256.New, []byte(c.Secret))
	k.Write([]byte(cardIDKeyLabel))
	h := hmac.New(sha256.New, k.Sum(nil))
	h.Write([]byte(base))
	return hex.EncodeToString(h.Sum(nil))[:cardIDTagHex]
}

// The bounds CheckCardCallbackSettings holds a route key and a secret to.
const (
	MinCardSecretLen   = 16
	MaxCardSecretLen   = 256
	MaxCardRouteKeyLen = 128
)

// CheckCardCallbackSettings checks CARD_CALLBACK_ROUTE_KEY and
// CARD_CALLBACK_SECRET, which both functions read: both or neither (a
// route key without a secret would have DingTalk send presses nobody can
// verify, a secret alone has no route); a route key of letters, digits,
// ".", "-" and "_", at most MaxCardRouteKeyLen; a secret of
// MinCardSecretLen to MaxCardSecretLen characters without spaces or
// control characters: it signs the presses and keys the cards' tags.
// Its errors never show the secret.
func CheckCardCallbackSettings(routeKey, secret string) error {
	switch {
	case routeKey == "" && secret == "":
		return nil
	case routeKey == "":
		return errors.New("CARD_CALLBACK_SECRET is set without CARD_CALLBACK_ROUTE_KEY: set both for the cards' buttons, or neither")
	case secret == "":
		return errors.New("CARD_CALLBACK_ROUTE_KEY is set without CARD_CALLBACK_SECRET: set both for the cards' buttons, or neither")
	case len(routeKey) > MaxCardRouteKeyLen || strings.IndexFunc(routeKey, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_')
	}) >= 0:
		return fmt.Errorf("CARD_CALLBACK_ROUTE_KEY must be at most %d letters, digits, '.', '-' or '_'", MaxCardRouteKeyLen)
	case utf8.RuneCountInString(secret) < MinCardSecretLen || utf8.RuneCountInString(secret) > MaxCardSecretLen:
		return fmt.Errorf("CARD_CALLBACK_SECRET must be %d to %d characters long (a random one: openssl rand -hex 24)", MinCardSecretLen, MaxCardSecretLen)
	case !utf8.ValidString(secret) || strings.IndexFunc(secret, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return errors.New("CARD_CALLBACK_SECRET must hold no spaces or control characters")
	}
	return nil
}
