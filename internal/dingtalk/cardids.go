package dingtalk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// MaxOutTrackIDLen is the most characters DingTalk takes in an outTrackId
// ("不超过100个字符", docs/protocols.md §17).
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
