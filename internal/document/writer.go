package document

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// errFull is returned by a textWriter that has reached its rune bound and
// been handed more text: the reader stops, and what was written so far is
// the (truncated) text.
var errFull = errors.New("document: text bound reached")

// maxPendingTabs bounds the tabs a tidy textWriter holds between two words
// (empty cells of a sheet row): a row with thousands of empty columns before
// its last value says nothing more with thousands of tabs.
const maxPendingTabs = 256

// A textWriter accumulates the text of a document, at most max runes.
//
// A raw writer, for plain text, keeps the text as it is but for line ends
// ("\r\n" and "\r" become "\n") and control characters, which it drops.
//
// A tidy writer, for the structured kinds, lays the text out as it goes: a
// run of spaces becomes one space, and none at the start or end of a line;
// a run of line ends becomes at most one blank line; a tab is kept (it
// separates cells) but not at the end of a line. Readers can therefore write
// separators freely: a "\n" after every paragraph and every row, a " "
// between pieces of text.
//
// Whitespace costs nothing once the bound is reached: Truncated reports
// that text other than whitespace was left out.
type textWriter struct {
	buf       []byte
	runes     int // written
	visible   int // written, other than white space
	max       int
	tidy      bool
	truncated bool

	// raw state
	afterCR bool // the last rune was "\r", written as "\n": a "\n" next is its pair

	// tidy state
	newlines     int  // line ends at the end of buf (0, 1 or 2)
	pendingSpace bool // a space is due before the next word
	pendingTabs  int  // tabs are due before the next word
}

func newTextWriter(tidy bool, max int) *textWriter {
	return &textWriter{tidy: tidy, max: max}
}

// WriteString writes s, stopping with errFull at the bound.
func (w *textWriter) WriteString(s string) error {
	for _, r := range s {
		if err := w.WriteRune(r); err != nil {
			return err
		}
	}
	return nil
}

// WriteRune writes r, or returns errFull if r is not whitespace and the
// bound has been reached.
func (w *textWriter) WriteRune(r rune) error {
	if w.tidy {
		return w.writeTidy(r)
	}
	return w.writeRaw(r)
}

func (w *textWriter) writeRaw(r rune) error {
	afterCR := w.afterCR
	w.afterCR = false
	switch {
	case r == '\n' && afterCR:
		return nil
	case r == '\r':
		w.afterCR = true
		r = '\n'
	case r == '\f' || r == '\v' || r == '\u2028' || r == '\u2029':
		r = '\n'
	case r == '\t' || r == '\n':
	case unicode.IsControl(r) || r == '\uFEFF':
		return nil
	}
	return w.put(r)
}

func (w *textWriter) writeTidy(r rune) error {
	switch {
	case r == '\n' || r == '\r' || r == '\f' || r == '\v' || r == '\u2028' || r == '\u2029':
		w.pendingSpace, w.pendingTabs = false, 0
		if len(w.buf) == 0 || w.newlines >= 2 {
			return nil
		}
		w.newlines++
		return w.put('\n')
	case r == '\t':
		w.pendingSpace = false
		w.pendingTabs = min(w.pendingTabs+1, maxPendingTabs)
		return nil
	case unicode.IsSpace(r):
		// a space next to a tab is the cell's padding: the tab says it all
		w.pendingSpace = w.pendingTabs == 0
		return nil
	case unicode.IsControl(r) || r == '\uFEFF' || r == utf8.RuneError:
		return nil
	}
	for ; w.pendingTabs > 0; w.pendingTabs-- {
		if err := w.put('\t'); err != nil {
			return err
		}
	}
	if w.pendingSpace && len(w.buf) > 0 && w.newlines == 0 {
		if err := w.put(' '); err != nil {
			return err
		}
	}
	w.pendingSpace = false
	w.newlines = 0
	return w.put(r)
}

// put appends r if the bound allows it.
func (w *textWriter) put(r rune) error {
	if w.runes >= w.max {
		if unicode.IsSpace(r) {
			return nil
		}
		w.truncated = true
		return errFull
	}
	w.runes++
	if !unicode.IsSpace(r) {
		w.visible++
	}
	w.buf = utf8.AppendRune(w.buf, r)
	return nil
}

// LineBreak ends the line being written, if one has begun: where a
// structure (a block, a table row) ends, not a line the document itself
// breaks.
func (w *textWriter) LineBreak() error {
	if w.AtLineStart() {
		w.pendingSpace, w.pendingTabs = false, 0
		return nil
	}
	return w.WriteRune('\n')
}

// Truncated reports whether text was left out at the bound.
func (w *textWriter) Truncated() bool { return w.truncated }

// AtLineStart reports whether the next rune written would start a line.
func (w *textWriter) AtLineStart() bool {
	return len(w.buf) == 0 || w.buf[len(w.buf)-1] == '\n'
}

// String returns the text written, trimmed: without leading or trailing
// white space — but a plain text keeps the indentation of its first line:
// it may be code.
func (w *textWriter) String() string {
	text := strings.TrimRightFunc(string(w.buf), unicode.IsSpace)
	if w.tidy {
		return strings.TrimLeftFunc(text, unicode.IsSpace)
	}
	// drop the leading blank lines only
	start := 0
	for i, r := range text {
		if !unicode.IsSpace(r) {
			break
		}
		if r == '\n' {
			start = i + 1
		}
	}
	return text[start:]
}
