package dingtalk_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
)

// The timestamp of DingTalk's example headers (milliseconds).
const cardTimestamp = "1595925864847"

func TestCardCallbackSignatureVector(t *testing.T) {
	// Computed independently: printf %s 1595925864847 | openssl dgst
	// -sha256 -hmac card-callback-secret-for-test -binary | base64
	const want = "9JbldIdvYvlT7YmFXt4POWQvF7Mpcdw2FGY75B2ylC8="
	if got := dingtalk.CardCallbackSign(cardSecret, cardTimestamp); got != want {
		t.Errorf("CardCallbackSign = %s, want %s", got, want)
	}
	// Unlike a message's, the secret is not part of what is signed.
	if dingtalk.CardCallbackSign(cardSecret, cardTimestamp) == dingtalk.Sign(cardSecret, cardTimestamp) {
		t.Error("a card callback is signed as a message")
	}
}

func TestCardCallbackVerifier(t *testing.T) {
	at := time.UnixMilli(1595925864847)
	clock := func(d time.Duration) func() time.Time { return func() time.Time { return at.Add(d) } }
	good := dingtalk.CardCallbackSign(cardSecret, cardTimestamp)
	for _, tt := range []struct {
		name                 string
		v                    dingtalk.CardCallbackVerifier
		timestamp, signature string
		want                 error // nil: accepted
	}{
		{"fresh", dingtalk.CardCallbackVerifier{Secret: cardSecret, Now: clock(time.Second)}, cardTimestamp, good, nil},
		{"an hour old", dingtalk.CardCallbackVerifier{Secret: cardSecret, Now: clock(time.Hour)}, cardTimestamp, good, nil},
		{"older than the hour", dingtalk.CardCallbackVerifier{Secret: cardSecret, Now: clock(time.Hour + time.Millisecond)}, cardTimestamp, good, dingtalk.ErrTimestampStale},
		{"older than SIGNATURE_MAX_AGE", dingtalk.CardCallbackVerifier{Secret: cardSecret, Window: time.Minute, Now: clock(2 * time.Minute)}, cardTimestamp, good, dingtalk.ErrTimestampStale},
		{"a minute ahead", dingtalk.CardCallbackVerifier{Secret: cardSecret, Now: clock(-time.Minute)}, cardTimestamp, good, nil},
		{"further ahead", dingtalk.CardCallbackVerifier{Secret: cardSecret, Now: clock(-2 * time.Minute)}, cardTimestamp, good, dingtalk.ErrTimestampStale},
		// A timestamp in seconds is half a century ago in milliseconds.
		{"in seconds", dingtalk.CardCallbackVerifier{Secret: cardSecret, Now: clock(0)}, "1595925864", dingtalk.CardCallbackSign(cardSecret, "1595925864"), dingtalk.ErrTimestampStale},
		{"another secret", dingtalk.CardCallbackVerifier{Secret: "another-secret-0123456789", Now: clock(0)}, cardTimestamp, good, dingtalk.ErrSignatureMismatch},
		{"another timestamp", dingtalk.CardCallbackVerifier{Secret: cardSecret, Now: clock(0)}, "1595925864848", good, dingtalk.ErrSignatureMismatch},
		{"a message's signature", dingtalk.CardCallbackVerifier{Secret: cardSecret, Now: clock(0)}, cardTimestamp, dingtalk.Sign(cardSecret, cardTimestamp), dingtalk.ErrSignatureMismatch},
		{"a line break", dingtalk.CardCallbackVerifier{Secret: cardSecret, Now: clock(0)}, cardTimestamp, good[:10] + "\n" + good[10:], dingtalk.ErrSignatureMismatch},
		{"not Base64", dingtalk.CardCallbackVerifier{Secret: cardSecret, Now: clock(0)}, cardTimestamp, "!!!", dingtalk.ErrSignatureMismatch},
		{"no signature", dingtalk.CardCallbackVerifier{Secret: cardSecret, Now: clock(0)}, cardTimestamp, "", dingtalk.ErrCardSignatureMissing},
		{"no timestamp", dingtalk.CardCallbackVerifier{Secret: cardSecret, Now: clock(0)}, "", good, dingtalk.ErrCardSignatureMissing},
		{"a signed timestamp", dingtalk.CardCallbackVerifier{Secret: cardSecret, Now: clock(0)}, "+" + cardTimestamp, dingtalk.CardCallbackSign(cardSecret, "+"+cardTimestamp), dingtalk.ErrTimestampMalformed},
		{"no secret configured", dingtalk.CardCallbackVerifier{Now: clock(0)}, cardTimestamp, dingtalk.CardCallbackSign("", cardTimestamp), dingtalk.ErrNoCardSecret},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.v.Verify(tt.timestamp, tt.signature)
			switch {
			case tt.want == nil && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != nil && (!errors.Is(err, tt.want) || !errors.Is(err, dingtalk.ErrUnauthorized)):
				t.Errorf("Verify = %v, want %v", err, tt.want)
			case err != nil && strings.Contains(err.Error(), cardSecret):
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}
