package dingtalk_test

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
)

func TestSignKnownVector(t *testing.T) {
	// From docs/protocols.md §2, itself from DingTalk's documentation.
	got := dingtalk.Sign("client-secret-for-test", "1684493546276")
	if want := "nwBJQmaBLv9+5/sSS/66jcFc1/kGY5wo38L88LOGfRU="; got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	const secret = "app-secret-never-shown"
	now := time.UnixMilli(1684493546276)
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	signed := func(ts string) string { return dingtalk.Sign(secret, ts) }
	at := ms(now)
	good := signed(at)
	// The same 32 bytes, with the last character's unused low bits set:
	// a lax decoder would accept it.
	nonCanonical := good[:len(good)-2] + string(good[len(good)-2]+1) + "="
	if a, b := mustDecode(t, good), mustDecode(t, nonCanonical); string(a) != string(b) {
		t.Fatalf("test setup: %q and %q decode differently", good, nonCanonical)
	}

	tests := []struct {
		name      string
		secret    string
		window    time.Duration
		timestamp string
		sign      string
		want      error // nil: accepted
	}{
		{name: "valid", timestamp: at, sign: good},
		{name: "59 minutes old", timestamp: ms(now.Add(-59 * time.Minute)), sign: signed(ms(now.Add(-59 * time.Minute)))},
		{name: "59 seconds ahead (clock skew)", timestamp: ms(now.Add(59 * time.Second)), sign: signed(ms(now.Add(59 * time.Second)))},
		{name: "2 minutes ahead", timestamp: ms(now.Add(2 * time.Minute)), sign: signed(ms(now.Add(2 * time.Minute))), want: dingtalk.ErrTimestampStale},
		{name: "59 minutes ahead", timestamp: ms(now.Add(59 * time.Minute)), sign: signed(ms(now.Add(59 * time.Minute))), want: dingtalk.ErrTimestampStale},
		{name: "61 minutes old", timestamp: ms(now.Add(-61 * time.Minute)), sign: signed(ms(now.Add(-61 * time.Minute))), want: dingtalk.ErrTimestampStale},
		{name: "61 minutes ahead", timestamp: ms(now.Add(61 * time.Minute)), sign: signed(ms(now.Add(61 * time.Minute))), want: dingtalk.ErrTimestampStale},
		{name: "inside a custom window", window: 5 * time.Minute, timestamp: ms(now.Add(-4 * time.Minute)), sign: signed(ms(now.Add(-4 * time.Minute)))},
		{name: "ahead within a window shorter than the skew", window: 10 * time.Second, timestamp: ms(now.Add(9 * time.Second)), sign: signed(ms(now.Add(9 * time.Second)))},
		{name: "ahead beyond a window shorter than the skew", window: 10 * time.Second, timestamp: ms(now.Add(11 * time.Second)), sign: signed(ms(now.Add(11 * time.Second))), want: dingtalk.ErrTimestampStale},
		{name: "outside a custom window", window: time.Minute, timestamp: ms(now.Add(-2 * time.Minute)), sign: signed(ms(now.Add(-2 * time.Minute))), want: dingtalk.ErrTimestampStale},
		{name: "epoch", timestamp: "0", sign: signed("0"), want: dingtalk.ErrTimestampStale},
		{name: "largest int64", timestamp: "9223372036854775807", sign: signed("9223372036854775807"), want: dingtalk.ErrTimestampStale},
		{name: "no timestamp", timestamp: "", sign: good, want: dingtalk.ErrSignatureMissing},
		{name: "no sign", timestamp: at, sign: "", want: dingtalk.ErrSignatureMissing},
		{name: "timestamp in seconds-with-fraction", timestamp: "1684493546.276", sign: signed("1684493546.276"), want: dingtalk.ErrTimestampMalformed},
		{name: "timestamp with a plus sign", timestamp: "+" + at, sign: signed("+" + at), want: dingtalk.ErrTimestampMalformed},
		{name: "negative timestamp", timestamp: "-1", sign: signed("-1"), want: dingtalk.ErrTimestampMalformed},
		{name: "timestamp with spaces", timestamp: " " + at, sign: signed(" " + at), want: dingtalk.ErrTimestampMalformed},
		{name: "timestamp overflowing int64", timestamp: "99999999999999999999", sign: signed("99999999999999999999"), want: dingtalk.ErrTimestampMalformed},
		{name: "other secret", timestamp: at, sign: dingtalk.Sign("other-secret", at), want: dingtalk.ErrSignatureMismatch},
		{name: "sign of another timestamp", timestamp: at, sign: signed(ms(now.Add(time.Millisecond))), want: dingtalk.ErrSignatureMismatch},
		{name: "sign not base64", timestamp: at, sign: "not base64!", want: dingtalk.ErrSignatureMismatch},
		{name: "sign URL-encoded", timestamp: at, sign: strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(good), want: dingtalk.ErrSignatureMismatch},
		{name: "sign without padding", timestamp: at, sign: strings.TrimRight(good, "="), want: dingtalk.ErrSignatureMismatch},
		{name: "sign with a line break", timestamp: at, sign: good[:10] + "\n" + good[10:], want: dingtalk.ErrSignatureMismatch},
		{name: "sign with non-zero padding bits", timestamp: at, sign: nonCanonical, want: dingtalk.ErrSignatureMismatch},
		{name: "no secret configured", secret: "-", timestamp: at, sign: dingtalk.Sign("", at), want: dingtalk.ErrNoAppSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := dingtalk.Verifier{AppSecret: secret, Window: tt.window, Now: func() time.Time { return now }}
			if tt.secret == "-" {
				v.AppSecret = ""
			}
			err := v.Verify(tt.timestamp, tt.sign)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want accepted", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if !errors.Is(err, dingtalk.ErrUnauthorized) {
				t.Errorf("Verify = %v, does not match ErrUnauthorized", err)
			}
			if msg := err.Error(); strings.Contains(msg, secret) || strings.Contains(msg, good) || (tt.sign != "" && strings.Contains(msg, tt.sign)) {
				t.Errorf("error %q reveals the secret or a signature", msg)
			}
		})
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyDefaultsToTheSystemClock(t *testing.T) {
	// An hour of window makes this independent of how slow the machine is.
	v := dingtalk.Verifier{AppSecret: "s"}
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	if err := v.Verify(ts, dingtalk.Sign("s", ts)); err != nil {
		t.Fatalf("Verify(now) = %v", err)
	}
	old := strconv.FormatInt(time.Now().Add(-2*time.Hour).UnixMilli(), 10)
	if err := v.Verify(old, dingtalk.Sign("s", old)); !errors.Is(err, dingtalk.ErrTimestampStale) {
		t.Fatalf("Verify(2h ago) = %v, want ErrTimestampStale", err)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("client-secret-for-test", "1684493546276", "nwBJQmaBLv9+5/sSS/66jcFc1/kGY5wo38L88LOGfRU=")
	f.Add("s", "", "")
	f.Add("s", "abc", "====")
	f.Add("", "1684493546276", "nwBJQmaBLv9+5/sSS/66jcFc1/kGY5wo38L88LOGfRU=")
	f.Add("s", "-9223372036854775808", "AAAA")
	f.Fuzz(func(t *testing.T, secret, timestamp, sign string) {
		now := time.UnixMilli(1684493546276)
		v := dingtalk.Verifier{AppSecret: secret, Now: func() time.Time { return now }}

		// Arbitrary input: no panic, and acceptance only of the one
		// signature for a fresh timestamp.
		if err := v.Verify(timestamp, sign); err == nil {
			if sign != dingtalk.Sign(secret, timestamp) {
				t.Fatalf("accepted sign %q, Sign gives %q", sign, dingtalk.Sign(secret, timestamp))
			}
			ms, perr := strconv.ParseInt(timestamp, 10, 64)
			if age := now.Sub(time.UnixMilli(ms)); perr != nil || age > time.Hour || age < -dingtalk.MaxFutureSkew {
				t.Fatalf("accepted timestamp %q", timestamp)
			}
		} else if !errors.Is(err, dingtalk.ErrUnauthorized) {
			t.Fatalf("error %v does not match ErrUnauthorized", err)
		}

		// The signature for the current time verifies; any other string
		// does not.
		current := strconv.FormatInt(now.UnixMilli(), 10)
		want := dingtalk.Sign(secret, current)
		err := v.Verify(current, want)
		if secret == "" {
			if !errors.Is(err, dingtalk.ErrNoAppSecret) {
				t.Fatalf("empty secret: Verify = %v, want ErrNoAppSecret", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Verify(current, Sign(current)) = %v", err)
		}
		wantErr := dingtalk.ErrSignatureMismatch
		if sign == "" {
			wantErr = dingtalk.ErrSignatureMissing
		}
		if sign != want {
			if err := v.Verify(current, sign); !errors.Is(err, wantErr) {
				t.Fatalf("Verify(current, %q) = %v, want %v", sign, err, wantErr)
			}
		}
	})
}
