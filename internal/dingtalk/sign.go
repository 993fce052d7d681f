package dingtalk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultSignatureWindow is how old a callback's timestamp may be: DingTalk's
// own rule, and the most a Verifier accepts. The signature covers the
// timestamp alone, so whoever captures one callback's timestamp and sign
// can post any body with them until the timestamp is this old: a shorter
// window (SIGNATURE_MAX_AGE) shortens that (docs/threat-model.md).
const DefaultSignatureWindow = time.Hour

// MaxFutureSkew is how far ahead of the current time a callback's timestamp
// may be: DingTalk stamps a callback when it sends it, so a timestamp from
// the future is only ever clock skew, which NTP keeps to well under this.
const MaxFutureSkew = time.Minute

// ErrUnauthorized is matched by every error Verify returns, so that a handler
// can answer 403 without caring which check failed.
var ErrUnauthorized = errors.New("unauthorized")

// The reasons a callback is refused. Each wraps ErrUnauthorized; their text is
// short and holds no secret, so it can be the body of a 403.
var (
	ErrSignatureMissing   = fmt.Errorf("%w: missing timestamp or sign header", ErrUnauthorized)
	ErrTimestampMalformed = fmt.Errorf("%w: timestamp is not milliseconds since the epoch", ErrUnauthorized)
	ErrTimestampStale     = fmt.Errorf("%w: timestamp too far from the current time", ErrUnauthorized)
	ErrSignatureMismatch  = fmt.Errorf("%w: signature mismatch", ErrUnauthorized)
	// ErrNoAppSecret is returned when the verifier has no secret: anyone can
	// compute the signature for an empty secret, so nothing may pass.
	ErrNoAppSecret = fmt.Errorf("%w: no app secret configured", ErrUnauthorized)
)

// Sign computes the signature DingTalk sends in the sign header of a callback:
// Base64(HMAC-SHA256(key=appSecret, message=timestamp+"\n"+appSecret)).
func Sign(appSecret, timestamp string) string {
	return base64.StdEncoding.EncodeToString(mac(appSecret, timestamp))
}

func mac(appSecret, timestamp string) []byte {
	h := hmac.New(sha256.New, []byte(appSecret))
	h.Write([]byte(timestamp + "\n" + appSecret))
	return h.Sum(nil)
}

// Verifier checks the timestamp and sign headers of a DingTalk callback.
type Verifier struct {
	AppSecret string
	// Window is the largest accepted age of the timestamp; 0 means
	// DefaultSignatureWindow. A timestamp ahead of the current time by
	// more than MaxFutureSkew (or Window, if shorter) is refused.
	Window time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verify checks the values of a callback's timestamp and sign headers. Both
// checks are required by DingTalk: the signature alone would let a captured
// request be replayed forever.
func (v Verifier) Verify(timestamp, sign string) error {
	if timestamp == "" || sign == "" {
		return ErrSignatureMissing
	}
	if v.AppSecret == "" {
		return ErrNoAppSecret
	}
	if err := checkTimestamp(timestamp, v.Window, v.Now); err != nil {
		return err
	}
	if !signatureMatches(v.AppSecret, timestamp, sign) {
		return ErrSignatureMismatch
	}
	return nil
}

// checkTimestamp checks that a signed timestamp in milliseconds is at most
// window old (DefaultSignatureWindow when 0 or less) and at most
// MaxFutureSkew (or window, if shorter) ahead of now (time.Now when nil).
func checkTimestamp(timestamp string, window time.Duration, now func() time.Time) error {
	ms, err := parseMillis(timestamp)
	if err != nil {
		return ErrTimestampMalformed
	}
	if window <= 0 {
		window = DefaultSignatureWindow
	}
	if now == nil {
		now = time.Now
	}
	// Sub saturates instead of overflowing, so an absurd timestamp is
	// simply far away.
	age := now().Sub(time.UnixMilli(ms))
	if age > window || age < -min(MaxFutureSkew, window) {
		return fmt.Errorf("%w (window %s, %s ahead at most)", ErrTimestampStale, window, min(MaxFutureSkew, window))
	}
	return nil
}

// signatureMatches compares in constant time. The given signature is decoded
// strictly, and line breaks (which the decoder would otherwise skip) are
// refused, so that exactly one string - the one Sign returns - matches.
func signatureMatches(appSecret, timestamp, sign string) bool {
	if strings.ContainsAny(sign, "\r\n") {
		return false
	}
	got, err := base64.StdEncoding.Strict().DecodeString(sign)
	if err != nil {
		return false
	}
	return hmac.Equal(got, mac(appSecret, timestamp))
}

// parseMillis reads a non-negative decimal integer of milliseconds; unlike
// strconv.ParseInt it refuses a sign, so "+1" is not a timestamp.
func parseMillis(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a decimal integer")
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
