package document

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// This file bounds what the XML of an Office file (.docx, .pptx, .xlsx)
// may make a decoder hold. encoding/xml's Decoder keeps a stack entry per
// open element and builds each token whole: ten kilobytes of zip inflate to
// ten megabytes of "<a>" nested three million deep, or of one element with
// two million attributes, and either costs hundreds of megabytes before a
// single token reaches this package. So the bytes the decoder reads pass
// through an xmlGuard, which refuses a start tag with too many attributes,
// and any token too long, before the decoder has built it; and the tokens
// it returns are counted, and their nesting, as they come.

// Bounds on the XML of one Office file.
const (
	// maxXMLDepth bounds elements within elements. Real documents nest a
	// few dozen deep (a table in a text box in a shape in a group in a
	// table is about sixty levels); excelize's own Unmarshal stops at
	// 10,000 levels, too late for memory. Deeper is ErrCorrupt.
	maxXMLDepth = 512
	// maxXMLAttributes bounds the attributes of one element, namespace
	// declarations included: a document's root element, which carries
	// the most, declares about forty. More is ErrCorrupt.
	maxXMLAttributes = 512
	// maxXMLTokenBytes bounds the bytes of one token: a text, a start tag
	// with its attribute values, a comment. The decoder holds a token
	// whole (and the text walker copies a text once more); Office's
	// largest are inline images in attributes (VML's o:gfxdata) of tens
	// of kilobytes. Longer is ErrTooLarge.
	maxXMLTokenBytes = 8 << 20
	// maxXMLTokens bounds the tokens (start and end tags, texts, comments)
	// of all the parts of one file read together: a workbook of
	// MaxXMLBytes of real cells has about ten million. It bounds the work
	// of a file made of empty elements, which cost no bytes to speak of.
	// More is ErrTooLarge.
	maxXMLTokens = 1 << 24
)

// xmlGuard passes the bytes of a part to a decoder, refusing a token that
// grows past maxXMLTokenBytes since the last reset (the decoder's caller
// resets it after every token) and a start tag with more than
// maxXMLAttributes attributes. To count attributes it follows start tags
// byte by byte: a "<" followed by neither "/", "!" nor "?" opens one, a
// quote opens and closes an attribute value, and an "=" outside values is
// an attribute. Comments and CDATA sections are followed to their ends,
// exactly as the decoder ends them. Outside those, any "<" restarts it: a
// "<" is allowed in neither a tag nor an attribute value (the decoder
// rejects one), so it cannot be fooled into missing a real tag — at worst,
// in a directive (<!DOCTYPE …>, which Office files do not have), it counts
// a tag that is not one. Processing instructions are followed to their
// "?>", as the decoder ends them.
//
// Alone (scanXMLBytes: a workbook's parts, which excelize decodes), the
// guard also counts what a decoder's caller would: nesting, tags, and the
// length of a number format.
type xmlGuard struct {
	r     io.Reader
	err   error // the bound that was passed, once passed
	since int   // bytes read since the last reset

	state xmlGuardState
	quote byte // in an attribute value: its quote
	attrs int  // "=" seen in the current start tag
	marks int  // "-" or "]" just seen in a comment or CDATA section, or the letters of "CDATA[" seen
	off   bool // the decoder switched to another encoding: see charset
	inner *xmlGuard

	// Without a decoder (scanXMLBytes), the guard counts as well:
	alone    bool
	depth    int    // elements open
	tokens   *int   // tags read, of all the parts of a file
	slash    bool   // the last character in a start tag, outside values, was "/"
	pi       []byte // the start of the processing instruction being read
	encoding bool   // a <?xml …?> declares an encoding other than UTF-8
	name     []byte // the name of the attribute being read
	named    bool   // and it has ended
	format   int    // bytes of the formatCode attribute value being read, -1 in another
}

type xmlGuardState uint8

const (
	xmlOutside   xmlGuardState = iota // text, or markup that is none of the below
	xmlAngle                          // just after "<"
	xmlTag                            // in a start tag
	xmlBang                           // just after "<!"
	xmlBangDash                       // just after "<!-"
	xmlComment                        // in a comment: "<!--" to "-->"
	xmlCDATAOpen                      // in "<![CDATA["
	xmlCDATA                          // in a CDATA section, to "]]>"
	xmlEndTag                         // in an end tag
	xmlPI                             // in a processing instruction, to "?>"
)

// follow moves the guard's reading of the markup past the byte c, and
// returns the error of a bound passed.
func (g *xmlGuard) follow(c byte) error {
	switch g.state {
	case xmlComment:
		// "--" ends a comment, with the ">" that must follow
		if c == '-' {
			g.marks++
		} else {
			if c == '>' && g.marks >= 2 {
				g.state = xmlOutside
				g.ended()
			}
			g.marks = 0
		}
		return nil
	case xmlCDATA:
		switch {
		case c == ']':
			g.marks++
		case c == '>' && g.marks >= 2:
			g.state = xmlOutside
			g.ended()
			fallthrough
		default:
			g.marks = 0
		}
		return nil
	case xmlPI:
		if c == '>' && len(g.pi) > 0 && g.pi[len(g.pi)-1] == '?' {
			g.state = xmlOutside
			g.ended()
			g.checkDeclaration()
			return nil
		}
		if len(g.pi) < 256 {
			g.pi = append(g.pi, c)
		}
		return nil
	}
	if c == '<' {
		g.state, g.quote, g.attrs, g.slash, g.name, g.named = xmlAngle, 0, 0, false, g.name[:0], false
		if g.alone {
			g.since = 1 // a text ends, a tag begins
		}
		return nil
	}
	switch g.state {
	case xmlAngle:
		switch c {
		case '!':
			g.state = xmlBang
		case '/':
			g.state = xmlEndTag
		case '?':
			g.state, g.pi = xmlPI, g.pi[:0]
		default:
			g.state = xmlTag
		}
	case xmlBang:
		switch c {
		case '-':
			g.state = xmlBangDash
		case '[':
			g.state, g.marks = xmlCDATAOpen, 0
		default:
			g.state = xmlOutside // a directive: <!DOCTYPE …>
			if g.alone {
				return errXMLDirective
			}
		}
	case xmlBangDash:
		g.state, g.marks = xmlOutside, 0
		if c == '-' {
			g.state = xmlComment
		}
	case xmlCDATAOpen:
		if c != "CDATA["[g.marks] {
			g.state = xmlOutside
			break
		}
		if g.marks++; g.marks == len("CDATA[") {
			g.state, g.marks = xmlCDATA, 0
		}
	case xmlEndTag:
		if c == '>' {
			g.state = xmlOutside
			g.ended()
			if g.alone {
				g.depth = max(g.depth-1, 0)
				return g.counted()
			}
		}
	case xmlTag:
		switch {
		case g.quote != 0:
			if c == g.quote {
				g.quote = 0
			} else if g.format >= 0 {
				if g.format++; g.format > maxNumFmtBytes {
					return errXMLNumFmt
				}
			}
		case c == '"' || c == '\'':
			g.quote = c
			g.slash = false
			// a number format: see maxNumFmtBytes
			g.format = -1
			if g.alone && isFormatCode(g.name) {
				g.format = 0
			}
			g.name, g.named = g.name[:0], false
		case c == '=':
			g.slash = false
			if g.attrs++; g.attrs > maxXMLAttributes {
				return errXMLAttributes
			}
		case c == '>':
			g.state = xmlOutside
			g.ended()
			if g.alone {
				if g.slash { // <a/>: a decoder returns a start and an end
					if err := g.counted(); err != nil {
						return err
					}
				} else if g.depth++; g.depth > maxXMLDepth {
					return errXMLDepth
				}
				return g.counted()
			}
		case c == '/':
			g.slash = true
		case isXMLSpace(c):
			g.named = len(g.name) > 0 // a name ends; "=" may follow after spaces
		default:
			g.slash = false
			if g.named {
				g.name, g.named = g.name[:0], false
			}
			if g.alone && len(g.name) < 32 {
				g.name = append(g.name, c)
			}
		}
	}
	return nil
}

// ended marks the end of a piece of markup: without a decoder, the end
// of a token.
func (g *xmlGuard) ended() {
	if g.alone {
		g.since = 0
	}
}

// counted counts a tag read without a decoder.
func (g *xmlGuard) counted() error {
	if *g.tokens++; *g.tokens > maxXMLTokens {
		return errXMLTokens
	}
	return nil
}

// checkDeclaration notes an XML declaration, just read into g.pi, that
// declares an encoding other than UTF-8: the decoder switches to it, even
// in the middle of a part, and the bytes read then are not what a decoder
// reads.
func (g *xmlGuard) checkDeclaration() {
	pi := string(g.pi)
	if !strings.HasPrefix(pi, "xml") || len(pi) < 4 || !isXMLSpace(pi[3]) {
		return
	}
	i := strings.Index(pi, "encoding")
	if i < 0 {
		return
	}
	value := strings.TrimLeft(pi[i+len("encoding"):], " \t\r\n=\"'")
	if !strings.HasPrefix(strings.ToLower(value), "utf-8") || len(value) > 5 && value[5] != '"' && value[5] != '\'' {
		g.encoding = true
	}
}

// isFormatCode reports whether the attribute name is formatCode, with a
// namespace prefix or without (a decoder matches the local name).
func isFormatCode(name []byte) bool {
	const local = "formatCode"
	n := string(name)
	return n == local || strings.HasSuffix(n, ":"+local)
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

var (
	errXMLTokenTooLarge = fmt.Errorf("%w: a part's XML holds a token longer than %d MiB", ErrTooLarge, maxXMLTokenBytes>>20)
	errXMLAttributes    = fmt.Errorf("%w: a part's XML has an element with more than %d attributes", ErrCorrupt, maxXMLAttributes)
	errXMLDepth         = fmt.Errorf("%w: a part's XML nests elements more than %d deep", ErrCorrupt, maxXMLDepth)
	errXMLTokens        = fmt.Errorf("%w: the file's XML has more than %d elements and texts", ErrTooLarge, maxXMLTokens)
	errXMLNumFmt        = fmt.Errorf("%w: a number format of the xlsx is longer than %d bytes", ErrCorrupt, maxNumFmtBytes)
	errXMLDirective     = fmt.Errorf("%w: a part's XML has a document type declaration, which Office files do not have", ErrCorrupt)
)

// scanXMLBytes reads the XML of r through a guard alone, without a
// decoder: a tenth of a decoder's work, for the parts that excelize is to
// decode. It counts as boundedXML does — nesting (a start tag not ended by
// "/>" opens an element, an end tag closes one), tags in tokens,
// attributes, token length — and also refuses a document type declaration
// (ErrCorrupt): its "<" and ">" are not markup, and a reading that does not
// follow them as a decoder does could count end tags that a decoder does
// not. It reports whether the part declares an encoding other than UTF-8,
// whose bytes it has then not read as a decoder does.
func scanXMLBytes(r io.Reader, tokens *int) (otherEncoding bool, err error) {
	g := &xmlGuard{r: r, alone: true, tokens: tokens}
	_, err = io.Copy(io.Discard, g)
	if e := g.failure(); e != nil {
		return false, e
	}
	return g.encoding, nil
}

func newXMLGuard(r io.Reader) *xmlGuard { return &xmlGuard{r: r} }

// reset marks the end of a token.
func (g *xmlGuard) reset() {
	g.since = 0
	if g.inner != nil {
		g.inner.reset()
	}
}

func (g *xmlGuard) Read(b []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.off {
		return g.r.Read(b)
	}
	if g.since >= maxXMLTokenBytes {
		g.err = errXMLTokenTooLarge
		return 0, g.err
	}
	// The decoder reads ahead (4 KiB): a token is refused at most that
	// much past the bound.
	if len(b) > maxXMLTokenBytes-g.since {
		b = b[:maxXMLTokenBytes-g.since]
	}
	n, err := g.r.Read(b)
	g.since += n
	for _, c := range b[:n] {
		if e := g.follow(c); e != nil {
			g.err = e
			return 0, g.err
		}
	}
	return n, err
}

// charset returns a CharsetReader for a decoder reading through g, that
// converts with convert: the guard then follows the converted bytes,
// through a guard of its own, instead of the raw ones.
func (g *xmlGuard) charset(convert func(label string, r io.Reader) (io.Reader, error)) func(string, io.Reader) (io.Reader, error) {
	return func(label string, r io.Reader) (io.Reader, error) {
		converted, err := convert(label, r)
		if err != nil {
			return nil, err
		}
		g.off = true
		g.inner = newXMLGuard(converted)
		return g.inner, nil
	}
}

// boundedXML reads the tokens of one part through an xmlGuard, counting
// their nesting and, in tokens, those of every part of the file.
type boundedXML struct {
	d      *xml.Decoder
	guard  *xmlGuard
	depth  int
	tokens *int // shared by the parts of one file
	raw    bool // read with RawToken: names not checked, nor translated
}

func newBoundedXML(r io.Reader, tokens *int) *boundedXML {
	g := newXMLGuard(r)
	return &boundedXML{d: xml.NewDecoder(g), guard: g, tokens: tokens}
}

// Token returns the next token, or the error of a bound passed (ErrCorrupt
// or ErrTooLarge), or the decoder's.
func (b *boundedXML) Token() (xml.Token, error) {
	var tok xml.Token
	var err error
	if b.raw {
		tok, err = b.d.RawToken()
	} else {
		tok, err = b.d.Token()
	}
	b.guard.reset()
	if err != nil {
		if g := b.guard.failure(); g != nil {
			return nil, g
		}
		return nil, err
	}
	if *b.tokens++; *b.tokens > maxXMLTokens {
		return nil, errXMLTokens
	}
	switch t := tok.(type) {
	case xml.StartElement:
		if b.depth++; b.depth > maxXMLDepth {
			return nil, errXMLDepth
		}
		if len(t.Attr) > maxXMLAttributes {
			return nil, errXMLAttributes
		}
	case xml.EndElement:
		b.depth--
	}
	return tok, nil
}

// skip reads to the end of the element whose start was the last token.
func (b *boundedXML) skip() error {
	for depth := b.depth - 1; b.depth > depth; {
		if _, err := b.Token(); err != nil {
			return err
		}
	}
	return nil
}

// failure returns the bound the guard, or its inner guard, refused.
func (g *xmlGuard) failure() error {
	if g.inner != nil && g.inner.err != nil {
		return g.inner.err
	}
	return g.err
}

// isBoundError reports whether err is a bound of this file passed.
func isBoundError(err error) bool {
	for _, e := range []error{errXMLTokenTooLarge, errXMLAttributes, errXMLDepth, errXMLTokens, errXMLDirective, errXMLNumFmt} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
