package dingtalk

import (
	"unicode/utf8"
)

// The room the texts of a message may take in the event that carries it to
// the reply function, as JSON: encoding/json writes "<" or a control
// character as six bytes, so a text is bounded by its encoding, not its
// length, to keep the event below FC's 128 KB payload limit
// (docs/protocols.md §1, §10) whatever the characters.
const (
	maxTextEncoded  = 64 << 10
	maxQuoteEncoded = 24 << 10
)

// truncateEncoded cuts s so that encoding/json writes it in at most max
// bytes, marking the cut. It counts each character as the encoder writes
// it, or more.
func truncateEncoded(s string, max int) string {
	n := len(`"…"`)
	for i, r := range s {
		n += encodedLen(r)
		if n > max {
			return s[:i] + "…"
		}
	}
	return s
}

// encodedLen is how many bytes encoding/json writes r in, or more.
func encodedLen(r rune) int {
	switch {
	case r == utf8.RuneError: // invalid UTF-8 is written as \ufffd
		return 6
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
		return 6
	}
	return utf8.RuneLen(r)
}
