package dingtalk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// The headers of a card callback's signature (docs/protocols.md §18).
const (
	CardTimestampHeader = "x-ddpaas-signature-timestamp"
	CardSignatureHeader = "x-ddpaas-signature"
)

// The reasons a card callback is refused beside those of Verifier (a stale
// or malformed timestamp, a signature that does not match). Each wraps
// ErrUnauthorized.
var (
	ErrCardSignatureMissing = fmt.Errorf("%w: missing %s or %s header", ErrUnauthorized, CardTimestampHeader, CardSignatureHeader)
	// ErrNoCardSecret is returned when the verifier has no secret:
	// anyone can compute the signature for an empty one.
	ErrNoCardSecret = fmt.Errorf("%w: no CARD_CALLBACK_SECRET configured", ErrUnauthorized)
)

// CardCallbackSign computes the signature DingTalk sends with a card
// callback when the route key was registered with an apiSecret:
// Base64(HMAC-SHA256(key=apiSecret, message=timestamp)), the timestamp in
// milliseconds as a decimal string. Unlike a message's signature, the
// secret is not part of the message.
func CardCallbackSign(apiSecret, timestamp string) string {
	return base64.StdEncoding.EncodeToString(cardMAC(apiSecret, timestamp))
}

func cardMAC(apiSecret, timestamp string) []byte {
	h := hmac.New(sha256.New, []byte(apiSecret))
	h.Write([]byte(timestamp))
	return h.Sum(nil)
}

// CardCallbackVerifier checks the signature headers of a card callback.
// DingTalk documents no freshness window for them; the verifier takes a
// message's (SIGNATURE_MAX_AGE, an hour at most), for the same reason: the
// signature covers the timestamp alone, so a captured pair is good for any
// body until the timestamp is too old.
type CardCallbackVerifier struct {
	// Secret is CARD_CALLBACK_SECRET, registered as the route key's
	// apiSecret.
	Secret string
	// Window is the largest accepted age of the timestamp; 0 means
	// DefaultSignatureWindow. A timestamp ahead by more than MaxFutureSkew
	// (or Window, if shorter) is refused.
	Window time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verify checks the values of a card callback's x-ddpaas-signature-timestamp
// and x-ddpaas-signature headers, comparing in constant time. Its errors
// wrap ErrUnauthorized; their text holds no secret.
func (v CardCallbackVerifier) Verify(timestamp, signature string) error {
	if timestamp == "" || signature == "" {
		return ErrCardSignatureMissing
	}
	if v.Secret == "" {
		return ErrNoCardSecret
	}
	if err := checkTimestamp(timestamp, v.Window, v.Now); err != nil {
		return err
	}
	// Decoded strictly, line breaks refused: exactly one string matches.
	if strings.ContainsAny(signature, "\r\n") {
		return ErrSignatureMismatch
	}
	got, err := base64.StdEncoding.Strict().DecodeString(signature)
	if err != nil || !hmac.Equal(got, cardMAC(v.Secret, timestamp)) {
		return ErrSignatureMismatch
	}
	return nil
}
