package mcp

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// maxModelName is the longest function name the OpenAI-compatible APIs
// take (^[a-zA-Z0-9_-]{1,64}$).
const maxModelName = 64

// modelNames names a server's tools as the model sees them: <server>__<tool>,
// characters outside [a-zA-Z0-9_-] replaced by "_". A name too long, or
// taken by an earlier tool of the list, is cut and ends with "_" and eight
// hex digits of a hash of the tool's own name. The result has one name per
// original, in order; the same list gives the same names.
//
// The names of two servers never meet: a server's name (checkName) holds no
// "__" and does not end with "_", so the first "__" of a name ends the
// server's part, and the server's part is never cut (24 + 2 characters
// leave room for the tool's). Callers pass originals sorted and without
// duplicates so that the names do not depend on the server's order.
func modelNames(server string, originals []string) []string {
	names := make([]string, len(originals))
	taken := make(map[string]bool, len(originals))
	prefix := server + "__"
	for i, original := range originals {
		name := prefix + sanitize(original)
		if len(name) > maxModelName || taken[name] {
			base := name[:min(len(name), maxModelName-9)]
			for salt := 0; ; salt++ {
				name = base + "_" + shortHash(original, salt)
				if !taken[name] {
					break
				}
			}
		}
		taken[name] = true
		names[i] = name
	}
	return names
}

// sanitize replaces each character outside [a-zA-Z0-9_-] with "_" (one per
// rune, so a name in Chinese keeps its length in characters); an empty name
// becomes "tool".
func sanitize(s string) string {
	if s == "" {
		return "tool"
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < 128 && isNameByte(byte(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// shortHash is eight hex digits of a hash of the tool's name; salt, when
// not zero, takes another hash for the rare name whose first one is taken.
func shortHash(original string, salt int) string {
	in := original
	if salt > 0 {
		in += "\x00" + strconv.Itoa(salt)
	}
	sum := sha256.Sum256([]byte(in))
	return hex.EncodeToString(sum[:4])
}
