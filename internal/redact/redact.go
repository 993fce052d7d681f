// Package redact keeps secrets out of text bound for errors and logs: it
// replaces each secret it is given with one placeholder, Placeholder, and
// wraps an error so that its text is the scrubbed one while errors.Is and
// errors.As still see the original chain.
//
// What counts as a secret (an app secret, an access token, a webhook's
// session, an API key and its fragments) is for each caller to say; this
// package only replaces what it is handed.
//
// It depends on the standard library alone.
package redact

import (
	"net/url"
	"strings"
)

// Placeholder is what every secret is replaced with.
const Placeholder = "REDACTED"

// String returns s with every occurrence of each non-empty secret replaced
// by Placeholder. Secrets are replaced one after the other, in the order
// given, so a secret that holds another should come first.
func String(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, Placeholder)
		}
	}
	return s
}

// WithDecoded returns the secrets, each followed by its URL-decoded form
// (url.QueryUnescape) when that decodes, is not empty and differs from it:
// a secret taken from a URL may be quoted in either form. Empty secrets
// are left out.
func WithDecoded(secrets ...string) []string {
	out := make([]string, 0, len(secrets))
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		out = append(out, secret)
		if decoded, err := url.QueryUnescape(secret); err == nil && decoded != secret && decoded != "" {
			out = append(out, decoded)
		}
	}
	return out
}

// Error returns err with its text scrubbed of the secrets as String does,
// unwrapping to err; err itself when its text holds none of them (nil
// included).
func Error(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	if scrubbed := String(text, secrets...); scrubbed != text {
		return Wrap(err, scrubbed)
	}
	return err
}

// Wrap returns an error whose text is text and which unwraps to err, for a
// caller that has hidden a secret in err's text by a rule of its own; nil
// stays nil.
func Wrap(err error, text string) error {
	if err == nil {
		return nil
	}
	return &redacted{text: text, err: err}
}

// redacted shows scrubbed text and unwraps to the original error.
type redacted struct {
	text string
	err  error
}

func (e *redacted) Error() string { return e.text }
func (e *redacted) Unwrap() error { return e.err }
