package dingtalk

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxMessageBytes is the most content DingTalk shows in one message: a
// longer one is refused with errcode 460101.
const MaxMessageBytes = 20000

// MinSplitLimit is the smallest limit SplitMessage accepts: a piece must
// have room for a reopened code fence, a closing one and a character.
const MinSplitLimit = 16

// SplitMessage cuts text into pieces of at most limit bytes that, sent one
// after the other, carry all of it in order. Text of at most limit bytes is
// the one piece, unchanged; empty text is no piece (nil).
//
// A cut never falls inside a UTF-8 character. Where it falls is chosen in
// this order: a paragraph break (after a blank line or the end of a code
// block), a line break, or a space or a Chinese punctuation mark in the
// second half of the room; the last of them if it leaves the piece at least
// a quarter full; any other character boundary; and only when nothing else
// fits, a boundary that changes how a fence line reads.
//
// A fenced code block (a line of three or more ` or ~, indented by at most
// three spaces, up to the line that closes it, as in CommonMark) is never
// left open in a piece, so that each piece renders on its own:
//   - a piece that begins inside a code block begins with a copy of the
//     block's opening line (for example "```go") and a "\n";
//   - a piece that would end inside a code block, read on its own, ends with
//     the fence's closing run (for example "```"), after a "\n" when the
//     piece does not already end with one. The last piece is closed this way
//     only when the whole text is balanced.
//
// Removing those added lines from each piece and joining the pieces gives
// text back exactly. Every piece but the last is balanced; the last is
// balanced when text is. An opening line longer than limit/4 bytes is read as
// ordinary text, because it could not be repeated in the next piece.
//
// The added fences count toward limit. SplitMessage panics if limit is less
// than MinSplitLimit. The result depends only on text and limit.
func SplitMessage(text string, limit int) []string {
	return split(text, limit, false)
}

// SplitMessageChars is SplitMessage with limit counted in characters
// (runes) rather than bytes: DingTalk's markdown messages stop rendering
// past a number of characters, whatever their bytes (docs/protocols.md §7).
func SplitMessageChars(text string, limit int) []string {
	return split(text, limit, true)
}

func split(text string, limit int, chars bool) []string {
	if limit < MinSplitLimit {
		panic(fmt.Sprintf("dingtalk: SplitMessage limit %d is less than MinSplitLimit (%d)", limit, MinSplitLimit))
	}
	if text == "" {
		return nil
	}
	sp := newSplitter(text, limit, chars)
	if sp.units(0, len(text)) <= limit {
		return []string{text}
	}
	spans := sp.spans()
	pieces := make([]string, len(spans))
	for i, s := range spans {
		pieces[i] = s.reopen + text[s.start:s.end] + s.close
	}
	return pieces
}

// span is one piece: text[start:end] with the fence lines added around it.
type span struct {
	start, end int
	reopen     string // the opening line of the block the piece starts in, and "\n"
	close      string // "\n" if needed and the closing run of the block the piece ends in
}

// codeFence is an open fenced code block.
type codeFence struct {
	opening string // its opening line as written, without the line break
	char    byte   // '`' or '~'
	n       int    // the length of the opening run; a closing run is at least as long
}

func (f *codeFence) closingRun() string { return strings.Repeat(string(f.char), f.n) }

// fenceShape is what matters about a line for fences: whether it starts,
// after at most three spaces, with a run of three or more '`' or '~'.
type fenceShape struct {
	start    int  // where the line starts
	char     byte // 0 when the line starts with no such run
	runStart int
	runEnd   int
	tickAt   int // the first '`' at or after runEnd, or the line's end
	nonBlank int // the first byte at or after runEnd other than ' ', '\t', '\r', or the line's end
}

// shapeLine reads the line text[start:end] (end excludes the '\n').
func shapeLine(text string, start, end int) fenceShape {
	s := fenceShape{start: start}
	i := start
	for i < end && i-start < 3 && text[i] == ' ' {
		i++
	}
	if i >= end || (text[i] != '`' && text[i] != '~') {
		return s
	}
	j := i
	for j < end && text[j] == text[i] {
		j++
	}
	if j-i < 3 {
		return s
	}
	s.char, s.runStart, s.runEnd = text[i], i, j
	s.tickAt = end
	if k := strings.IndexByte(text[j:end], '`'); k >= 0 {
		s.tickAt = j + k
	}
	s.nonBlank = end
	for k := j; k < end; k++ {
		if b := text[k]; b != ' ' && b != '\t' && b != '\r' {
			s.nonBlank = k
			break
		}
	}
	return s
}

// opensAt reports whether the line, cut at c, opens a code block: a
// backtick fence's info string holds no backtick, and the line is at most
// maxOpening bytes.
func (s fenceShape) opensAt(text string, c, maxOpening int) (*codeFence, bool) {
	if s.char == 0 || c-s.start > maxOpening {
		return nil, false
	}
	n := min(c, s.runEnd) - s.runStart
	if n < 3 || (s.char == '`' && s.tickAt < c) {
		return nil, false
	}
	return &codeFence{opening: text[s.start:c], char: s.char, n: n}, true
}

// closesAt reports whether the line, cut at c, closes f: a run of f's
// character at least as long as f's, followed by blanks only.
func (s fenceShape) closesAt(f *codeFence, c int) bool {
	return s.char == f.char && min(c, s.runEnd)-s.runStart >= f.n && c <= s.nonBlank
}

// advance returns the block open after the line (cut at c), given the
// block open before it.
func advance(open *codeFence, text string, s fenceShape, c, maxOpening int) *codeFence {
	if open == nil {
		if f, ok := s.opensAt(text, c, maxOpening); ok {
			return f
		}
		return nil
	}
	if s.closesAt(open, c) {
		return nil
	}
	return open
}

// fenceLike reports whether the line from i could read as a fence line, the
// way a cut at i would make the next piece read it: at most three spaces
// and three '`' or '~'. It is looser than the rules, so that a cut it allows
// never changes how a line reads.
func fenceLike(text string, i, end int) bool {
	for k := 0; k < 3 && i < end && text[i] == ' '; k++ {
		i++
	}
	if end-i < 3 {
		return false
	}
	head := text[i : i+3]
	return head == "```" || head == "~~~"
}

// breaksAfter reports whether the character before c ends a word or a
// clause: a space, a tab or a Chinese punctuation mark (Chinese has no
// spaces between words).
func breaksAfter(text string, c int) bool {
	r, _ := utf8.DecodeLastRuneInString(text[:c])
	switch r {
	case ' ', '\t', '，', '。', '、', '；', '：', '！', '？':
		return true
	}
	return false
}

// The kinds of cut, best first.
const (
	cutEnd       = iota // the rest of the text
	cutParagraph        // after a blank line or a code block, outside code
	cutLine             // after a line break
	cutWord             // after a space or a punctuation mark
	cutChar             // between two characters, fences unchanged
	cutForced           // between two characters, a fence line read differently
	numCutKinds
)

type textLine struct {
	start int
	open  *codeFence // the block open before the line
}

type splitter struct {
	text       string
	limit      int
	maxOpening int
	lines      []textLine
	endOpen    *codeFence // the block open at the end of the text
	// runesBefore, when the limit counts characters, holds for each byte
	// offset the number of characters before it; nil counts bytes.
	runesBefore []int32
}

func newSplitter(text string, limit int, chars bool) *splitter {
	sp := &splitter{text: text, limit: limit, maxOpening: limit / 4}
	if chars {
		sp.runesBefore = make([]int32, len(text)+1)
		n := int32(0)
		for i := range len(text) {
			sp.runesBefore[i] = n
			if utf8.RuneStart(text[i]) {
				n++
			}
		}
		sp.runesBefore[len(text)] = n
	}
	return sp
}

// units measures text[a:b] in what the limit counts: bytes or characters.
func (sp *splitter) units(a, b int) int {
	if sp.runesBefore == nil {
		return b - a
	}
	return int(sp.runesBefore[b] - sp.runesBefore[a])
}

// unitsOf measures an added string (a fence line) the same way.
func (sp *splitter) unitsOf(s string) int {
	if sp.runesBefore == nil {
		return len(s)
	}
	return runeStarts(s)
}

// runeStarts counts the characters of s as the limit does: the bytes that
// start one, so that an invalid byte inside a character adds nothing.
func runeStarts(s string) int {
	n := 0
	for i := range len(s) {
		if utf8.RuneStart(s[i]) {
			n++
		}
	}
	return n
}

func (sp *splitter) spans() []span {
	text := sp.text
	var open *codeFence
	for start := 0; start < len(text); {
		end := lineEnd(text, start)
		sp.lines = append(sp.lines, textLine{start: start, open: open})
		open = advance(open, text, shapeLine(text, start, end), end, sp.maxOpening)
		start = end + 1
	}
	sp.endOpen = open

	var spans []span
	for start := 0; start < len(text); {
		s := sp.piece(start)
		spans = append(spans, s)
		start = s.end
	}
	return spans
}

func lineEnd(text string, from int) int {
	if i := strings.IndexByte(text[from:], '\n'); i >= 0 {
		return from + i
	}
	return len(text)
}

// lineAt returns the line holding position pos.
func (sp *splitter) lineAt(pos int) textLine {
	i := sort.Search(len(sp.lines), func(i int) bool { return sp.lines[i].start > pos })
	return sp.lines[i-1]
}

// piece chooses the piece that starts at start. It walks the room line by
// line, reading fences the way the piece on its own will be read, and keeps
// the furthest cut of each kind that fits.
func (sp *splitter) piece(start int) span {
	text := sp.text
	first := sp.lineAt(start)
	reopen := ""
	if first.open != nil {
		reopen = first.open.opening + "\n"
	}
	room := sp.limit - sp.unitsOf(reopen)

	var best [numCutKinds]span
	consider := func(kind, c int, open *codeFence) {
		closing := ""
		if open != nil && (c < len(text) || sp.endOpen == nil) {
			closing = open.closingRun()
			if text[c-1] != '\n' {
				closing = "\n" + closing
			}
		}
		if sp.unitsOf(reopen)+sp.units(start, c)+sp.unitsOf(closing) <= sp.limit {
			best[kind] = span{start: start, end: c, reopen: reopen, close: closing}
		}
	}

	open := first.open
	origStart := first.start
	afterBreak := false // the line before pos was blank or closed a block
	afterOpen := false  // the line before pos opened a block
	for pos := start; pos < len(text) && sp.units(start, pos) <= room; {
		end := lineEnd(text, pos)
		shape := shapeLine(text, pos, end)
		if pos > start {
			kind := cutLine
			switch {
			case open == nil && afterBreak:
				kind = cutParagraph
			case afterOpen || (open != nil && shape.closesAt(open, end)):
				// This piece or the next would hold an empty block.
				kind = cutChar
			}
			consider(kind, pos, open)
		}
		lineIsFence := fenceLike(text, pos, end) || fenceLike(text, origStart, end)
		for c := pos; c < end && sp.units(start, c) < room; {
			_, size := utf8.DecodeRuneInString(text[c:end])
			c += size
			kind := cutForced
			switch {
			case c == len(text):
				kind = cutEnd
			case lineIsFence || fenceLike(text, c, end):
			case breaksAfter(text, c):
				kind = cutWord
			default:
				kind = cutChar
			}
			consider(kind, c, advance(open, text, shape, c, sp.maxOpening))
		}
		next := advance(open, text, shape, end, sp.maxOpening)
		afterBreak = strings.TrimSpace(text[pos:end]) == "" || (open != nil && next == nil)
		afterOpen = open == nil && next != nil
		open = next
		if end == len(text) {
			break
		}
		pos, origStart = end+1, end+1
		if pos == len(text) {
			consider(cutEnd, pos, open)
		}
	}
	return sp.choose(best, start, room)
}

func (sp *splitter) choose(best [numCutKinds]span, start, room int) span {
	found := func(kind int) bool { return best[kind].end > start }
	if found(cutEnd) {
		return best[cutEnd]
	}
	breaks := []int{cutParagraph, cutLine, cutWord}
	for _, kind := range breaks {
		if found(kind) && sp.units(start, best[kind].end) >= room/2 {
			return best[kind]
		}
	}
	furthest := -1
	for _, kind := range breaks {
		if found(kind) && (furthest < 0 || best[kind].end > best[furthest].end) {
			furthest = kind
		}
	}
	switch {
	case furthest >= 0 && sp.units(start, best[furthest].end) >= room/4:
		return best[furthest]
	case found(cutChar):
		return best[cutChar]
	case furthest >= 0:
		return best[furthest]
	case found(cutForced):
		return best[cutForced]
	}
	// MinSplitLimit leaves room for a character between the longest
	// fences: one cut always fits.
	panic("dingtalk: SplitMessage found no cut")
}
