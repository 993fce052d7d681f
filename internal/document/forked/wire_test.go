package forked

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzReadOutput: whatever a child writes, the parent reads at most the
// limit of it, never panics, and takes only a valid header and UTF-8 text.
func FuzzReadOutput(f *testing.F) {
	for _, seed := range []string{
		"{}\n你好",
		`{"kind":"corrupt","detail":"bad"}` + "\n",
		`{"truncated":true}` + "\n" + strings.Repeat("字", 100),
		"DEBUG: int(1)\n. Skip dict{}\n",         // a library's print before the header
		"{\"kind\":" + strings.Repeat("[", 5000), // deep nesting, no end of line
		strings.Repeat("x", maxHeaderBytes+10),   // a header longer than its bound
		"{}\n\xff\xfe",                           // text that is not UTF-8
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		const limit = 1 << 10
		h, text, err := readOutput(bytes.NewReader(out), limit)
		if err != nil {
			if text != "" || h != (header{}) {
				t.Errorf("a failed read returned %+v, %q", h, text)
			}
			if errors.Is(err, errOutput) && len(out) <= limit {
				t.Errorf("%d bytes refused as too much, under the limit of %d", len(out), limit)
			}
			return
		}
		if len(text) > limit || !utf8.ValidString(text) {
			t.Errorf("text of %d bytes, valid UTF-8 %v", len(text), utf8.ValidString(text))
		}
		if kindErr := kindError(h); h.Kind != "" && kindErr == nil {
			t.Error("a header's failure is no error")
		}
	})
}
