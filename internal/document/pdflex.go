package document

import (
	"bufio"
	"errors"
	"io"
	"strconv"
)

// This file splits PDF content streams and CMaps into tokens. The library's
// own interpreter (pdf.Interpret) is not used: it loops forever on a hex
// string left open at the end of a stream ("<41" then EOF), it has no way to
// stop early, and it lets the operand stack grow without bound; this lexer
// reads through a budget, caps every token, and always makes progress.

// Bounds of the lexer; past them, input is read and dropped.
const (
	maxTokenBytes = 1 << 20 // a string, name or word
	maxArrayLen   = 1 << 16 // elements of one array
	// maxArrayDepth bounds the arrays within arrays kept as operands: no
	// operator takes more than an array of strings and numbers (TJ), nor a
	// CMap more than one level (bfrange). Deeper ones are skipped without
	// recursion (skipArray), however deep they go.
	maxArrayDepth = 16
)

type tokenKind uint8

const (
	tokEOF        tokenKind = iota
	tokNumber               // num
	tokString               // text: the string's bytes, literal or hex
	tokName                 // text: without the slash
	tokKeyword              // text: an operator, or true, false, null
	tokArray                // array: the elements (only from readOperand)
	tokDict                 // a dictionary, skipped (only from readOperand)
	tokArrayOpen            // [
	tokArrayClose           // ]
	tokDictOpen             // <<
	tokDictClose            // >>
)

// A pdfToken is a token, or an operand built of tokens (an array).
type pdfToken struct {
	kind  tokenKind
	num   float64
	text  string
	array []pdfToken
	dict  map[string]pdfToken // only from readRawDict
}

type pdfLexer struct {
	r   *bufio.Reader
	err error // the first read error other than io.EOF
	buf []byte
}

func newPDFLexer(r io.Reader) *pdfLexer {
	return &pdfLexer{r: bufio.NewReaderSize(r, 32<<10)}
}

// newSmallPDFLexer returns a lexer for a few tokens of r, with a small
// buffer: a dictionary in a file, looked up among thousands.
func newSmallPDFLexer(r io.Reader) *pdfLexer {
	return &pdfLexer{r: bufio.NewReaderSize(r, 512)}
}

// failure returns the error that ended the input early, if any.
func (l *pdfLexer) failure() error { return l.err }

func (l *pdfLexer) readByte() (byte, bool) {
	c, err := l.r.ReadByte()
	if err != nil {
		if !errors.Is(err, io.EOF) && l.err == nil {
			l.err = err
		}
		return 0, false
	}
	return c, true
}

func (l *pdfLexer) peekByte() (byte, bool) {
	b, err := l.r.Peek(1)
	if err != nil {
		return 0, false
	}
	return b[0], true
}

func isPDFSpace(c byte) bool {
	switch c {
	case 0, '\t', '\n', '\f', '\r', ' ':
		return true
	}
	return false
}

func isPDFDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

// next returns the next token; tokEOF at the end of the input, or once
// it has failed.
func (l *pdfLexer) next() pdfToken {
	if l.err != nil {
		return pdfToken{kind: tokEOF}
	}
	for {
		c, ok := l.readByte()
		if !ok {
			return pdfToken{kind: tokEOF}
		}
		switch {
		case isPDFSpace(c), c == ')', c == '{', c == '}':
			// Procedures ({…}) hold nothing a text reader needs; a stray
			// parenthesis is damage.
		case c == '%':
			for c != '\n' && c != '\r' && ok {
				c, ok = l.readByte()
			}
		case c == '(':
			return pdfToken{kind: tokString, text: l.literalString()}
		case c == '<':
			if n, ok := l.peekByte(); ok && n == '<' {
				l.readByte()
				return pdfToken{kind: tokDictOpen}
			}
			return pdfToken{kind: tokString, text: l.hexString()}
		case c == '>':
			if n, ok := l.peekByte(); ok && n == '>' {
				l.readByte()
			}
			return pdfToken{kind: tokDictClose}
		case c == '[':
			return pdfToken{kind: tokArrayOpen}
		case c == ']':
			return pdfToken{kind: tokArrayClose}
		case c == '/':
			return pdfToken{kind: tokName, text: l.name()}
		default:
			return l.word(c)
		}
	}
}

func (l *pdfLexer) appendCapped(c byte) {
	if len(l.buf) < maxTokenBytes {
		l.buf = append(l.buf, c)
	}
}

func (l *pdfLexer) literalString() string {
	l.buf = l.buf[:0]
	depth := 1
	for {
		c, ok := l.readByte()
		if !ok {
			return string(l.buf)
		}
		switch c {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return string(l.buf)
			}
		case '\r': // a line end in a string is "\n", whatever it was
			if n, ok := l.peekByte(); ok && n == '\n' {
				l.readByte()
			}
			c = '\n'
		case '\\':
			e, ok := l.readByte()
			if !ok {
				return string(l.buf)
			}
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r': // a line continuation
				if n, ok := l.peekByte(); ok && n == '\n' {
					l.readByte()
				}
				continue
			case '\n':
				continue
			case '0', '1', '2', '3', '4', '5', '6', '7':
				v := int(e - '0')
				for range 2 {
					n, ok := l.peekByte()
					if !ok || n < '0' || n > '7' {
						break
					}
					l.readByte()
					v = v*8 + int(n-'0')
				}
				c = byte(v)
			default: // \( \) \\ and, against the rules, any other character: itself
				c = e
			}
		}
		l.appendCapped(c)
	}
}

func (l *pdfLexer) hexString() string {
	l.buf = l.buf[:0]
	var hi byte
	half := false
	for {
		c, ok := l.readByte()
		if !ok || c == '>' {
			break
		}
		v, ok := unhex(c)
		if !ok {
			continue // white space, or damage
		}
		if half {
			l.appendCapped(hi<<4 | v)
		} else {
			hi = v
		}
		half = !half
	}
	if half { // an odd digit count: the last digit is followed by a 0
		l.appendCapped(hi << 4)
	}
	return string(l.buf)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// regular reads the regular characters (neither white space nor
// delimiters) that follow, into l.buf.
func (l *pdfLexer) regular() {
	for {
		c, ok := l.peekByte()
		if !ok || isPDFSpace(c) || isPDFDelim(c) {
			return
		}
		l.readByte()
		l.appendCapped(c)
	}
}

func (l *pdfLexer) name() string {
	l.buf = l.buf[:0]
	l.regular()
	// #xx is the byte xx
	out := l.buf[:0]
	for i := 0; i < len(l.buf); i++ {
		if l.buf[i] == '#' && i+2 < len(l.buf) {
			hi, ok1 := unhex(l.buf[i+1])
			lo, ok2 := unhex(l.buf[i+2])
			if ok1 && ok2 {
				out = append(out, hi<<4|lo)
				i += 2
				continue
			}
		}
		out = append(out, l.buf[i])
	}
	return string(out)
}

// word reads a number or a keyword that starts with c.
func (l *pdfLexer) word(c byte) pdfToken {
	l.buf = append(l.buf[:0], c)
	l.regular()
	if isNumeric(l.buf) {
		if v, err := strconv.ParseFloat(string(l.buf), 64); err == nil {
			return pdfToken{kind: tokNumber, num: v}
		}
	}
	return pdfToken{kind: tokKeyword, text: string(l.buf)}
}

// isNumeric reports whether b is a PDF number: an optional sign, digits
// and at most one period.
func isNumeric(b []byte) bool {
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		b = b[1:]
	}
	digits, dots := 0, 0
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			digits++
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// readOperand returns the operand that tok starts: tok itself, or the
// array or dictionary it opens, read to its end.
func (l *pdfLexer) readOperand(tok pdfToken) pdfToken {
	switch tok.kind {
	case tokArrayOpen:
		return pdfToken{kind: tokArray, array: l.array(0)}
	case tokDictOpen:
		l.skipDict(1)
		return pdfToken{kind: tokDict}
	}
	return tok
}

func (l *pdfLexer) array(depth int) []pdfToken {
	var elems []pdfToken
	for {
		tok := l.next()
		switch tok.kind {
		case tokEOF, tokArrayClose:
			return elems
		case tokDictClose:
			continue
		case tokArrayOpen:
			if depth >= maxArrayDepth {
				l.skipArray(depth + 1) // read, and drop
				continue
			}
			tok = pdfToken{kind: tokArray, array: l.array(depth + 1)}
		case tokDictOpen:
			l.skipDict(depth + 1)
			tok = pdfToken{kind: tokDict}
		}
		if len(elems) < maxArrayLen {
			elems = append(elems, tok)
		}
	}
}

// skipArray reads to the end of an array whose "[" has been read, at the
// depth given, counting brackets rather than recursing. Past
// maxPDFObjectDepth it gives up: the input fails with errPDFDepth (no real
// content nests so; content nested millions deep, from a few kilobytes
// compressed, would cost seconds to read through). Arrays and
// dictionaries count alike, as they nest within each other.
func (l *pdfLexer) skipArray(depth int) { l.skipNested(depth) }

// skipDict reads to the end of a dictionary whose "<<" has been read, as
// skipArray does.
func (l *pdfLexer) skipDict(depth int) { l.skipNested(depth) }

func (l *pdfLexer) skipNested(depth int) {
	for end := depth - 1; depth > end; {
		switch l.next().kind {
		case tokEOF:
			return
		case tokArrayOpen, tokDictOpen:
			if depth++; depth > maxPDFObjectDepth {
				l.err = errPDFDepth
				return
			}
		case tokArrayClose, tokDictClose:
			depth--
		}
	}
}

// skipInlineImage reads past an inline image whose BI has been read: its
// dictionary up to ID, then its data up to an EI that stands alone (white
// space before it, and white space, a delimiter or the end after it,
// followed by text rather than binary data).
func (l *pdfLexer) skipInlineImage() {
	for {
		tok := l.next()
		if tok.kind == tokEOF {
			return
		}
		if tok.kind == tokKeyword && tok.text == "ID" {
			break
		}
	}
	l.readByte() // the white space after ID
	prev, prev2 := byte(' '), byte(' ')
	for {
		c, ok := l.readByte()
		if !ok {
			return
		}
		if c == 'I' && prev == 'E' && isPDFSpace(prev2) && l.endsImage() {
			return
		}
		prev2, prev = prev, c
	}
}

// endsImage reports whether what follows a candidate EI looks like the
// rest of a content stream.
func (l *pdfLexer) endsImage() bool {
	ahead, _ := l.r.Peek(32)
	if len(ahead) == 0 {
		return true
	}
	if !isPDFSpace(ahead[0]) && !isPDFDelim(ahead[0]) {
		return false
	}
	for _, c := range ahead {
		if c >= 0x7f || c < 0x20 && !isPDFSpace(c) {
			return false
		}
	}
	return true
}
