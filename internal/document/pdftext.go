package document

import (
	"io"
	"math"
	"unicode"

	"github.com/ledongthuc/pdf"
	"golang.org/x/text/encoding/charmap"
)

// This file runs a page's content stream — the operators that draw it — for
// its text, laying the text out from where it is drawn: a string drawn
// below the previous one starts a line, one drawn further along the same
// line after a gap is preceded by a space. Producers draw text in any order
// and pieces (a word, a glyph, a table cell each in its own BT…ET block, or
// moved by cm), so the position, not the operator, decides.

// Bounds of the content interpreter.
const (
	maxContentOperands = 128 // no operator takes more
	maxSavedStates     = 64  // nested q
	maxFormDepth       = 12  // form XObjects drawing form XObjects
	maxFormRuns        = 10000
)

// Layout thresholds, in ems of the current font.
const (
	newLineEms = 0.5 // a string this far off the previous line starts a new one
	gapEms     = 0.2 // a gap this wide on a line is a space (a TJ offset below -200)
	backEms    = 1.0 // so is a step back this long
)

// matrix is a PDF transformation matrix [a b c d e f].
type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// mul returns m×n: the transformation m, then n.
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2],
		m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2],
		m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4],
		m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

func (m matrix) apply(x, y float64) (float64, float64) {
	return x*m[0] + y*m[2] + m[4], x*m[1] + y*m[3] + m[5]
}

// translated returns translate(tx, ty)×m.
func (m matrix) translated(tx, ty float64) matrix {
	m[4] += tx*m[0] + ty*m[2]
	m[5] += tx*m[1] + ty*m[3]
	return m
}

// graphicsState is what q saves and Q restores, of what text needs.
type graphicsState struct {
	ctm                                       matrix
	font                                      *pdfFont
	size, charSpace, wordSpace, leading, rise float64
	scale                                     float64 // horizontal scaling: 1 is 100%
}

// resourceScope is a resource dictionary — a page's or a form's — with the
// fonts already looked up in it.
type resourceScope struct {
	res   pdf.Value
	fonts map[string]*pdfFont
}

// contentRun is the state of the interpretation of one page's content.
type contentRun struct {
	x        *pdfExtractor
	gs       graphicsState
	saved    []graphicsState
	lostSave int    // q beyond maxSavedStates, whose Q must not pop
	tm, tlm  matrix // text matrix and text line matrix
	glyphs   []glyph

	// where the last text shown ended, in user space, and the direction it
	// was written in
	hasLast       bool
	lastX, lastY  float64
	lastDirection [2]float64
}

func newContentRun(x *pdfExtractor) *contentRun {
	return &contentRun{x: x, gs: graphicsState{ctm: identity, scale: 1}, tm: identity, tlm: identity}
}

// run interprets the content of streams (one stream, or the parts of one
// split across several) with the resources of scope.
func (c *contentRun) run(streams []pdf.Value, scope *resourceScope, depth int) error {
	lex := newPDFLexer(&streamsReader{x: c.x, streams: streams})
	var operands []pdfToken
	for {
		tok := lex.next()
		switch tok.kind {
		case tokEOF:
			return lex.failure()
		case tokArrayClose, tokDictClose:
			// damage
		case tokKeyword:
			switch tok.text {
			case "true", "false", "null":
				operands = append(operands, tok)
				continue
			case "BI":
				lex.skipInlineImage()
			default:
				if err := c.do(tok.text, operands, scope, depth); err != nil {
					return err
				}
			}
			operands = operands[:0]
		default:
			op := lex.readOperand(tok)
			if len(operands) < maxContentOperands {
				operands = append(operands, op)
			}
		}
	}
}

// numbers returns the last n operands as numbers, if they are numbers.
func numbers(operands []pdfToken, n int) ([]float64, bool) {
	if len(operands) < n {
		return nil, false
	}
	v := make([]float64, n)
	for i, op := range operands[len(operands)-n:] {
		if op.kind != tokNumber || math.IsInf(op.num, 0) || math.IsNaN(op.num) {
			return nil, false
		}
		v[i] = op.num
	}
	return v, true
}

func lastOperand(operands []pdfToken, kind tokenKind) (pdfToken, bool) {
	if len(operands) == 0 || operands[len(operands)-1].kind != kind {
		return pdfToken{}, false
	}
	return operands[len(operands)-1], true
}

// do executes the operator op; only those that bear on text do anything.
func (c *contentRun) do(op string, operands []pdfToken, scope *resourceScope, depth int) error {
	one := func(set *float64) {
		if v, ok := numbers(operands, 1); ok {
			*set = v[0]
		}
	}
	switch op {
	case "q":
		if len(c.saved) < maxSavedStates {
			c.saved = append(c.saved, c.gs)
		} else {
			c.lostSave++
		}
	case "Q":
		if c.lostSave > 0 {
			c.lostSave--
		} else if n := len(c.saved); n > 0 {
			c.gs, c.saved = c.saved[n-1], c.saved[:n-1]
		}
	case "cm":
		if v, ok := numbers(operands, 6); ok {
			c.gs.ctm = matrix(v).mul(c.gs.ctm)
		}
	case "BT":
		c.tm, c.tlm = identity, identity
	case "Tf":
		if len(operands) >= 2 && operands[len(operands)-2].kind == tokName {
			c.gs.font = c.x.font(scope, operands[len(operands)-2].text)
			if v, ok := numbers(operands, 1); ok {
				c.gs.size = v[0]
			}
		}
	case "Tc":
		one(&c.gs.charSpace)
	case "Tw":
		one(&c.gs.wordSpace)
	case "TL":
		one(&c.gs.leading)
	case "Ts":
		one(&c.gs.rise)
	case "Tz":
		if v, ok := numbers(operands, 1); ok {
			c.gs.scale = v[0] / 100
		}
	case "Td", "TD":
		if v, ok := numbers(operands, 2); ok {
			if op == "TD" {
				c.gs.leading = -v[1]
			}
			c.tlm = c.tlm.translated(v[0], v[1])
			c.tm = c.tlm
		}
	case "Tm":
		if v, ok := numbers(operands, 6); ok {
			c.tm, c.tlm = matrix(v), matrix(v)
		}
	case "T*":
		c.nextLine()
	case "Tj", "'", "\"":
		s, ok := lastOperand(operands, tokString)
		if !ok {
			return nil
		}
		if op == "\"" {
			if v, ok := numbers(operands[:len(operands)-1], 2); ok {
				c.gs.wordSpace, c.gs.charSpace = v[0], v[1]
			}
		}
		if op != "Tj" {
			c.nextLine()
		}
		return c.show(s.text)
	case "TJ":
		a, ok := lastOperand(operands, tokArray)
		if !ok {
			return nil
		}
		for _, e := range a.array {
			switch e.kind {
			case tokString:
				if err := c.show(e.text); err != nil {
					return err
				}
			case tokNumber:
				c.adjust(e.num)
			}
		}
	case "Do":
		if name, ok := lastOperand(operands, tokName); ok {
			return c.form(scope, name.text, depth)
		}
	}
	return nil
}

func (c *contentRun) nextLine() {
	c.tlm = c.tlm.translated(0, -c.gs.leading)
	c.tm = c.tlm
}

// adjust moves the text position by a TJ offset, in thousandths of an em
// (a positive offset moves back).
func (c *contentRun) adjust(offset float64) {
	if math.IsInf(offset, 0) || math.IsNaN(offset) {
		return
	}
	d := -offset / 1000 * c.gs.size
	if c.font().vertical {
		c.tm = c.tm.translated(0, d)
	} else {
		c.tm = c.tm.translated(d*c.gs.scale, 0)
	}
}

func (c *contentRun) font() *pdfFont {
	if c.gs.font == nil {
		return fallbackFont
	}
	return c.gs.font
}

// show writes the text of the string s, drawn at the text position, and
// moves the position past it.
func (c *contentRun) show(s string) error {
	font := c.font()
	glyphs, unreadable := font.decode(s, c.glyphs[:0])
	c.glyphs = glyphs
	c.x.unreadable += unreadable

	hasText := false
	for _, g := range glyphs {
		if g.text != "" {
			hasText = true
			break
		}
	}
	if hasText {
		if err := c.separate(); err != nil {
			return err
		}
	}
	for _, g := range glyphs {
		if g.text != "" {
			for _, r := range g.text {
				if !unicode.IsSpace(r) {
					c.x.readable++
				}
			}
			if err := c.x.out.WriteString(g.text); err != nil {
				return err
			}
		}
		spacing := c.gs.charSpace
		if g.space {
			spacing += c.gs.wordSpace
		}
		if font.vertical {
			c.tm = c.tm.translated(0, -g.width/1000*c.gs.size+spacing)
		} else {
			c.tm = c.tm.translated((g.width/1000*c.gs.size+spacing)*c.gs.scale, 0)
		}
	}
	if hasText {
		trm := c.tm.mul(c.gs.ctm)
		c.lastX, c.lastY = trm.apply(0, c.gs.rise)
		c.lastDirection = c.direction(trm)
		c.hasLast = true
	}
	return nil
}

// separate writes what separates the text about to be shown from the last
// text shown: a line end if it is off that text's line, a space if there is
// a gap between them, nothing if it follows on.
func (c *contentRun) separate() error {
	if !c.hasLast {
		return nil
	}
	trm := c.tm.mul(c.gs.ctm)
	x, y := trm.apply(0, c.gs.rise)
	em := c.gs.size * math.Sqrt(math.Abs(trm[0]*trm[3]-trm[1]*trm[2]))
	if !(em >= 1) { // also NaN
		em = 1
	}
	dx, dy := x-c.lastX, y-c.lastY
	u := c.lastDirection
	along := dx*u[0] + dy*u[1]
	across := dy*u[0] - dx*u[1]
	switch {
	case math.Abs(across) > newLineEms*em:
		return c.x.out.WriteRune('\n')
	case along > gapEms*em || along < -backEms*em:
		return c.x.out.WriteRune(' ')
	}
	return nil
}

// direction returns the unit vector along which text in the current font
// advances, in user space.
func (c *contentRun) direction(trm matrix) [2]float64 {
	dx, dy := trm[0], trm[1]
	if c.font().vertical {
		dx, dy = -trm[2], -trm[3]
	}
	n := math.Hypot(dx, dy)
	if !(n > 0) || math.IsInf(n, 0) {
		return [2]float64{1, 0}
	}
	return [2]float64{dx / n, dy / n}
}

// form draws the form XObject name, if it is one: a piece of content with
// its own resources, drawn where Do is.
func (c *contentRun) form(scope *resourceScope, name string, depth int) error {
	xo := scope.res.Key("XObject").Key(name)
	if xo.Kind() != pdf.Stream || xo.Key("Subtype").Name() != "Form" {
		return nil // an image, or nothing
	}
	if depth >= maxFormDepth || c.x.formRuns >= maxFormRuns {
		return nil
	}
	c.x.formRuns++
	gs, tm, tlm, saved, lost := c.gs, c.tm, c.tlm, len(c.saved), c.lostSave
	defer func() {
		c.gs, c.tm, c.tlm, c.saved, c.lostSave = gs, tm, tlm, c.saved[:saved], lost
	}()
	if m, ok := matrixOf(xo.Key("Matrix")); ok {
		c.gs.ctm = m.mul(c.gs.ctm)
	}
	inner := scope
	if res := xo.Key("Resources"); res.Kind() == pdf.Dict {
		inner = newResourceScope(res)
	}
	return c.run([]pdf.Value{xo}, inner, depth+1)
}

func newResourceScope(res pdf.Value) *resourceScope {
	return &resourceScope{res: res, fonts: make(map[string]*pdfFont)}
}

func matrixOf(v pdf.Value) (matrix, bool) {
	if v.Len() != 6 {
		return matrix{}, false
	}
	var m matrix
	for i := range m {
		e := v.Index(i)
		if e.Kind() != pdf.Integer && e.Kind() != pdf.Real {
			return matrix{}, false
		}
		m[i] = e.Float64()
	}
	return m, true
}

// streamsReader reads the decoded data of streams one after the other,
// with a line end between two (a content stream may be split at any token
// boundary), charging what it reads to the document's budget. A stream that
// cannot be decoded (an unknown filter, damaged data) ends where it fails.
type streamsReader struct {
	x       *pdfExtractor
	streams []pdf.Value
	cur     io.Reader
}

func (s *streamsReader) Read(b []byte) (int, error) {
	for {
		if s.cur == nil {
			if len(s.streams) == 0 {
				return 0, io.EOF
			}
			s.cur = openStream(s.streams[0])
			s.streams = s.streams[1:]
			continue
		}
		if s.x.budget <= 0 {
			var one [1]byte
			if n, err := s.cur.Read(one[:]); n > 0 {
				return 0, s.x.tooLarge()
			} else if err == nil {
				continue
			}
		} else {
			if int64(len(b)) > s.x.budget {
				b = b[:s.x.budget]
			}
			n, err := s.cur.Read(b)
			s.x.budget -= int64(n)
			if n > 0 {
				return n, nil
			}
			if err == nil {
				continue
			}
		}
		s.cur = nil
		if len(s.streams) > 0 {
			b[0] = '\n'
			return 1, nil
		}
	}
}

// openStream returns a reader of the decoded data of the stream v, or nil
// if the library cannot decode it (it panics on an unknown filter).
//
// The library decompresses without bound: what it inflates is bounded only
// by the reader of its output (streamsReader's budget), which stops
// reading, and so inflating, at the budget.
func openStream(v pdf.Value) (r io.Reader) {
	defer func() {
		if p := recover(); p != nil {
			recovered(p)
			r = nil
		}
	}()
	if v.Kind() != pdf.Stream {
		return nil
	}
	return v.Reader()
}

// fallbackFont reads the strings of a font that is missing from the
// resources: as Windows-1252, like a simple font with no encoding.
var fallbackFont = func() *pdfFont {
	var text [256]string
	for b := range text {
		text[b] = string(charmap.Windows1252.DecodeByte(byte(b)))
	}
	f := &pdfFont{bytes: &text}
	f.widths = simpleFontWidths(pdf.Value{}, f.bytes)
	return f
}()
