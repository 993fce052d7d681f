package document

import (
	"cmp"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// A pdfFont turns the strings a PDF shows in one font into text.
//
// The character codes of a string mean nothing by themselves; the font says
// what they are, in order of authority:
//
//   - its ToUnicode CMap, when it has one, maps codes to Unicode;
//   - a simple font (Type1, TrueType, Type3) maps single bytes through its
//     Encoding: WinAnsi, MacRoman, or a Differences array of glyph names
//     (read with the library's Font.Encoder);
//   - a composite font (Type0) through a predefined CMap names an encoding:
//     Uni…-UCS2/UTF16 CMaps read UTF-16BE; GB-EUC, GBpc-EUC, GBK-EUC,
//     GBKp-EUC and GBK2K read GB18030 (a superset of all of them); B5pc and
//     ETen-B5 read Big5; the Japanese and Korean ones Shift JIS, EUC-JP,
//     EUC-KR. The library decodes only UniGB-UCS2-H of all these and returns
//     the others' raw bytes, hence this type;
//   - a composite font with Identity-H or -V (or a CMap of its own) and no
//     ToUnicode has codes that are glyph ids: without the font program's
//     tables they cannot be read, and are counted as unreadable rather than
//     turned into garbage.
type pdfFont struct {
	composite  bool
	vertical   bool              // written top to bottom (a -V CMap)
	toUnicode  *toUnicodeMap     // nil if none (or unusable)
	bytes      *[256]string      // a simple font: the text of each byte
	utf16      bool              // a composite font whose codes are UTF-16BE
	charset    encoding.Encoding // or whose codes are in this encoding
	identity   bool              // or whose codes are CIDs (Identity-H, -V)
	widths     *[256]float64     // a simple font's glyph widths, in 1/1000 em
	cidWidths  []float32         // a composite font's widths by CID (0: default)
	cidDefault float64
}

// A glyph is one character code shown: its text (empty when it cannot be
// read) and its advance, in thousandths of an em.
type glyph struct {
	text  string
	width float64
	space bool // the single-byte code 32, to which word spacing applies
}

// newPDFFont reads the font dictionary v, using cmaps to parse a ToUnicode
// CMap.
func newPDFFont(v pdf.Value, cmaps func(v pdf.Value, composite bool) *toUnicodeMap) *pdfFont {
	f := &pdfFont{composite: v.Key("Subtype").Name() == "Type0"}
	if tu := v.Key("ToUnicode"); tu.Kind() == pdf.Stream {
		f.toUnicode = cmaps(tu, f.composite)
	}
	if !f.composite {
		f.bytes = simpleFontText(v)
		f.widths = simpleFontWidths(v, f.bytes)
		return f
	}

	enc := v.Key("Encoding")
	name := enc.Name()
	if enc.Kind() == pdf.Stream { // an embedded CMap, sometimes a copy of a predefined one
		name = enc.Key("CMapName").Name()
	}
	f.vertical = strings.HasSuffix(name, "-V")
	f.utf16, f.charset, f.identity = predefinedCMap(name)

	desc := v.Key("DescendantFonts").Index(0)
	f.cidDefault = 1000
	if dw := desc.Key("DW"); dw.Kind() == pdf.Integer || dw.Kind() == pdf.Real {
		f.cidDefault = dw.Float64()
	}
	if f.identity {
		f.cidWidths = cidWidths(desc.Key("W"))
	}
	return f
}

// predefinedCMap returns how the codes of a composite font with the
// predefined CMap name read: as UTF-16BE, in a character encoding, or as
// CIDs (identity); all false and nil for a CMap it does not know.
func predefinedCMap(name string) (utf16BE bool, charset encoding.Encoding, identity bool) {
	family := strings.TrimSuffix(strings.TrimSuffix(name, "-H"), "-V")
	switch {
	case family == "Identity":
		return false, nil, true
	case strings.HasPrefix(family, "Uni") && (strings.Contains(family, "UCS2") || strings.Contains(family, "UTF16")):
		return true, nil, false
	}
	switch family {
	case "GB-EUC", "GBpc-EUC", "GBK-EUC", "GBKp-EUC", "GBK2K":
		return false, simplifiedchinese.GB18030, false
	case "B5pc", "ETen-B5", "ETenms-B5", "HKscs-B5", "HKdla-B5", "HKdlb-B5", "HKgccs-B5", "HKm314-B5", "HKm471-B5":
		return false, traditionalchinese.Big5, false
	case "90ms-RKSJ", "90msp-RKSJ", "90pv-RKSJ", "83pv-RKSJ", "Add-RKSJ", "Ext-RKSJ", "RKSJ":
		return false, japanese.ShiftJIS, false
	case "EUC":
		return false, japanese.EUCJP, false
	case "KSC-EUC", "KSCms-UHC", "KSCms-UHC-HW", "KSCpc-EUC":
		return false, korean.EUCKR, false
	}
	return false, nil, false
}

// decode appends to glyphs the glyphs of the string s, and returns them
// with the number of codes that could not be read.
func (f *pdfFont) decode(s string, glyphs []glyph) ([]glyph, int) {
	if !f.composite {
		for i := 0; i < len(s); i++ {
			b := s[i]
			text, ok := "", false
			if f.toUnicode != nil {
				text, ok = f.toUnicode.lookup(s[i : i+1])
			}
			if !ok {
				text = f.bytes[b]
			}
			glyphs = append(glyphs, glyph{text: text, width: f.widths[b], space: b == ' '})
		}
		return glyphs, 0
	}

	if f.toUnicode == nil {
		switch {
		case f.utf16:
			return appendRuneGlyphs(glyphs, decodeUTF16BE(s)), 0
		case f.charset != nil:
			text, _ := f.charset.NewDecoder().String(s)
			return appendRuneGlyphs(glyphs, text), 0
		}
	}

	unreadable := 0
	for len(s) > 0 {
		n := 2
		if f.toUnicode != nil {
			n = f.toUnicode.codeLength(s)
		}
		n = min(n, len(s))
		code := s[:n]
		s = s[n:]

		text, ok := "", false
		if f.toUnicode != nil {
			text, ok = f.toUnicode.lookup(code)
		}
		if !ok && (f.utf16 || f.charset != nil) {
			if f.utf16 {
				text = decodeUTF16BE(code)
			} else {
				text, _ = f.charset.NewDecoder().String(code)
			}
			ok = text != "" && !strings.ContainsRune(text, utf8.RuneError)
		}
		if !ok {
			unreadable++
			text = ""
		}
		g := glyph{text: text, width: f.cidDefault, space: n == 1 && code[0] == ' '}
		switch {
		case f.identity && n == 2:
			if cid := int(code[0])<<8 | int(code[1]); cid < len(f.cidWidths) && f.cidWidths[cid] > 0 {
				g.width = float64(f.cidWidths[cid])
			}
		case !f.identity && text != "":
			g.width = estimatedWidth(text)
		}
		glyphs = append(glyphs, g)
	}
	return glyphs, unreadable
}

// appendRuneGlyphs appends a glyph for each character of text, its width
// estimated: the CID widths of a predefined CMap's font are not at hand.
func appendRuneGlyphs(glyphs []glyph, text string) []glyph {
	for _, r := range text {
		s := string(r)
		glyphs = append(glyphs, glyph{text: s, width: estimatedWidth(s), space: r == ' '})
	}
	return glyphs
}

// estimatedWidth guesses the advance of a glyph that shows text, in
// thousandths of an em: full width for East Asian characters, half for
// the others.
func estimatedWidth(text string) float64 {
	r, _ := utf8.DecodeRuneInString(text)
	switch {
	case r == ' ':
		return 250
	case isWide(r):
		return 1000
	}
	return 500
}

// isWide reports whether r is an East Asian wide or fullwidth character.
func isWide(r rune) bool {
	return r >= 0x1100 && (r <= 0x115F || // Hangul Jamo
		r >= 0x2E80 && r <= 0xA4CF && r != 0x303F || // CJK … Yi
		r >= 0xAC00 && r <= 0xD7A3 || // Hangul syllables
		r >= 0xF900 && r <= 0xFAFF || // CJK compatibility ideographs
		r >= 0xFE30 && r <= 0xFE4F || // CJK compatibility forms
		r >= 0xFF00 && r <= 0xFF60 || // fullwidth forms
		r >= 0xFFE0 && r <= 0xFFE6 ||
		r >= 0x20000 && r <= 0x3FFFD)
}

func decodeUTF16BE(s string) string {
	units := make([]uint16, len(s)/2)
	for i := range units {
		units[i] = uint16(s[2*i])<<8 | uint16(s[2*i+1])
	}
	return string(utf16.Decode(units))
}

// maxDifferences bounds the Differences array of a simple font's encoding
// that is read: at most 256 codes, each with a glyph name, and a number
// before each run.
const maxDifferences = 512

// indirectElement finds a reference in an array as the library formats it.
var indirectElement = regexp.MustCompile(`(^|[\[ ])[0-9]+ [0-9]+ R([ \]]|$)`)

// simpleFontText returns the text of each byte in the simple font v.
//
// The library's Font.Encoder reads the WinAnsi and MacRoman encodings and
// Differences arrays (whose glyph names need its table); it is asked once
// per byte here, which also spares a Differences array's linear scan per
// character. Bytes it leaves unmapped, and fonts with any other encoding
// (StandardEncoding, none at all), read as Windows-1252, a superset of
// ASCII and Latin-1 that is right for nearly every simple font with text.
func simpleFontText(v pdf.Value) *[256]string {
	base := charmap.Windows1252
	var lib pdf.TextEncoding
	enc := v.Key("Encoding")
	differences := false
	switch enc.Kind() {
	case pdf.Name:
		switch enc.Name() {
		case "WinAnsiEncoding", "MacRomanEncoding":
			font := pdf.Font{V: v}
			lib = font.Encoder()
		}
		if enc.Name() == "MacRomanEncoding" {
			base = charmap.Macintosh
		}
	case pdf.Dict:
		// Only for a dictionary: with no /Encoding the library would parse
		// the ToUnicode CMap with pdf.Interpret, which this package avoids.
		// The library looks through the whole Differences array for every
		// byte, resolving each element anew: one too long, or of
		// references (each read from the file every time), is left out.
		if d := enc.Key("Differences"); d.Len() <= maxDifferences && !indirectElement.MatchString(d.String()) {
			font := pdf.Font{V: v}
			lib = font.Encoder()
		}
		differences = true
		if enc.Key("BaseEncoding").Name() == "MacRomanEncoding" {
			base = charmap.Macintosh
		}
	}
	var table [256]string
	for b := range 256 {
		text := ""
		if lib != nil {
			text = lib.Decode(string([]byte{byte(b)}))
		}
		unmapped := differences && text == string(rune(b)) // a Differences array passes through what it does not name
		if text == "" || unmapped || !utf8.ValidString(text) || text == string(utf8.RuneError) {
			text = string(base.DecodeByte(byte(b)))
		}
		table[b] = text
	}
	return &table
}

// simpleFontWidths returns the glyph widths of the simple font v: its
// Widths from FirstChar on, else its MissingWidth, else a guess from the
// glyph's text.
func simpleFontWidths(v pdf.Value, text *[256]string) *[256]float64 {
	var widths [256]float64
	missing := v.Key("FontDescriptor").Key("MissingWidth").Float64()
	for b := range widths {
		if missing > 0 {
			widths[b] = missing
		} else {
			widths[b] = estimatedWidth(text[b])
		}
	}
	first := int(v.Key("FirstChar").Int64())
	w := v.Key("Widths")
	for i := 0; i < w.Len() && i < 256; i++ {
		if b := first + i; b >= 0 && b < 256 {
			if x := w.Index(i).Float64(); x > 0 {
				widths[b] = x
			}
		}
	}
	return &widths
}

// maxCID bounds the CIDs whose widths are kept: 2-byte codes.
const maxCID = 1 << 16

// cidWidths reads a CIDFont's W array — "c [w1 w2 …]" gives widths from c
// on, "c1 c2 w" one width for c1 to c2 — into widths by CID.
func cidWidths(w pdf.Value) []float32 {
	n := w.Len()
	if n == 0 {
		return nil
	}
	var widths []float32
	set := func(cid int64, width float64) {
		if cid < 0 || cid >= maxCID || width <= 0 {
			return
		}
		if int(cid) >= len(widths) {
			widths = slices.Grow(widths, int(cid)+1-len(widths))[:cid+1]
		}
		widths[cid] = float32(width)
	}
	for i := 0; i+1 < n; {
		first := w.Index(i).Int64()
		if next := w.Index(i + 1); next.Kind() == pdf.Array {
			for j := 0; j < next.Len() && first+int64(j) < maxCID; j++ {
				set(first+int64(j), next.Index(j).Float64())
			}
			i += 2
			continue
		}
		if i+2 >= n {
			break
		}
		last, width := w.Index(i+1).Int64(), w.Index(i+2).Float64()
		for cid := max(first, 0); cid <= last && cid < maxCID; cid++ {
			set(cid, width)
		}
		i += 3
	}
	return widths
}

// A toUnicodeMap is a parsed ToUnicode CMap: how to split a string into
// codes (its codespace ranges) and the text of each code (bfchar and
// bfrange mappings).
type toUnicodeMap struct {
	spaces    [4][]codeRange // codespace ranges by code length - 1
	chars     map[string]string
	ranges    []bfRange // sorted by length, then low code
	defaultN  int       // the code length when no codespace range matches
	overlaps  bool      // some ranges overlap: lookups scan
	mappings  int
	maxLength int
}

type codeRange struct{ lo, hi string }

// matches reports whether code is in the range, byte by byte (a codespace
// range is a rectangle, not an interval: <8140> <FEFE> excludes <817F>…).
func (r codeRange) matches(code string) bool {
	for i := 0; i < len(code); i++ {
		if code[i] < r.lo[i] || code[i] > r.hi[i] {
			return false
		}
	}
	return true
}

type bfRange struct {
	n      int
	lo, hi uint32
	start  []uint16 // the text of lo, as UTF-16; that of lo+k adds k to its last unit
	array  []string // or the text of each code, from lo on
}

// Bounds on a ToUnicode CMap.
const (
	maxCMapMappings = 1 << 17
	maxCMapOperands = 1 << 16
	maxOverlapScan  = 64 // ranges looked at for one code when ranges overlap
)

// parseToUnicode reads a ToUnicode CMap from lex; nil if it maps nothing.
// The CMap is a PostScript program; only its codespace, bfchar and bfrange
// sections are read, each the operands between a begin… and its end….
func parseToUnicode(lex *pdfLexer, composite bool) *toUnicodeMap {
	m := &toUnicodeMap{chars: make(map[string]string)}
	var operands []pdfToken
	for {
		tok := lex.next()
		switch tok.kind {
		case tokEOF:
			return m.finish(composite)
		case tokKeyword:
			switch tok.text {
			case "endcodespacerange":
				for i := 0; i+1 < len(operands); i += 2 {
					lo, hi := operands[i].text, operands[i+1].text
					if n := len(lo); n >= 1 && n <= 4 && len(hi) == n {
						m.spaces[n-1] = append(m.spaces[n-1], codeRange{lo, hi})
					}
				}
			case "endbfchar":
				for i := 0; i+1 < len(operands) && m.mappings < maxCMapMappings; i += 2 {
					code, dst := operands[i], operands[i+1]
					if n := len(code.text); n >= 1 && n <= 4 && code.kind == tokString && dst.kind == tokString {
						m.chars[code.text] = utf16Text(dst.text)
						m.mapped(n)
					}
				}
			case "endbfrange":
				for i := 0; i+2 < len(operands) && m.mappings < maxCMapMappings; i += 3 {
					m.addRange(operands[i], operands[i+1], operands[i+2])
				}
			}
			operands = operands[:0]
		default:
			if len(operands) < maxCMapOperands {
				operands = append(operands, lex.readOperand(tok))
			} else {
				lex.readOperand(tok)
			}
		}
	}
}

func (m *toUnicodeMap) mapped(n int) {
	m.mappings++
	m.maxLength = max(m.maxLength, n)
}

func (m *toUnicodeMap) addRange(loTok, hiTok, dst pdfToken) {
	lo, hi := loTok.text, hiTok.text
	n := len(lo)
	if n < 1 || n > 4 || len(hi) != n || loTok.kind != tokString || hiTok.kind != tokString {
		return
	}
	r := bfRange{n: n, lo: codeValue(lo), hi: codeValue(hi)}
	if r.lo > r.hi {
		return
	}
	switch dst.kind {
	case tokString:
		r.start = utf16Units(dst.text)
		if len(r.start) == 0 {
			return
		}
	case tokArray:
		for _, e := range dst.array {
			if uint32(len(r.array)) > r.hi-r.lo {
				break
			}
			r.array = append(r.array, utf16Text(e.text))
		}
	default:
		return
	}
	m.ranges = append(m.ranges, r)
	m.mapped(n)
}

// finish sorts the ranges and settles the code lengths; nil if m maps
// nothing.
func (m *toUnicodeMap) finish(composite bool) *toUnicodeMap {
	if m.mappings == 0 {
		return nil
	}
	slices.SortFunc(m.ranges, func(a, b bfRange) int {
		return cmp.Or(cmp.Compare(a.n, b.n), cmp.Compare(a.lo, b.lo))
	})
	for i := 1; i < len(m.ranges); i++ {
		if m.ranges[i].n == m.ranges[i-1].n && m.ranges[i].lo <= m.ranges[i-1].hi {
			m.overlaps = true
		}
	}
	// A codespace that fits none of the mappings is a mistake of the
	// producer's (one-byte ranges over two-byte codes): codes are then as
	// long as the mappings say.
	if !m.hasSpace(m.maxLength) {
		m.spaces = [4][]codeRange{}
	}
	m.defaultN = m.maxLength
	if !composite {
		m.defaultN = 1
	}
	return m
}

func (m *toUnicodeMap) hasSpace(n int) bool { return n >= 1 && n <= 4 && len(m.spaces[n-1]) > 0 }

// codeLength returns the length of the code that starts s.
func (m *toUnicodeMap) codeLength(s string) int {
	for n := 1; n <= 4 && n <= len(s); n++ {
		for _, r := range m.spaces[n-1] {
			if r.matches(s[:n]) {
				return n
			}
		}
	}
	return m.defaultN
}

// lookup returns the text of code, if the CMap maps it.
func (m *toUnicodeMap) lookup(code string) (string, bool) {
	if text, ok := m.chars[code]; ok {
		return text, true
	}
	n, v := len(code), codeValue(code)
	// the last range starting at or before v
	i := sort.Search(len(m.ranges), func(i int) bool {
		r := m.ranges[i]
		return r.n > n || r.n == n && r.lo > v
	}) - 1
	for steps := 0; i >= 0 && m.ranges[i].n == n && steps < maxOverlapScan; i, steps = i-1, steps+1 {
		r := m.ranges[i]
		if v <= r.hi {
			k := v - r.lo
			if r.array != nil {
				if int(k) < len(r.array) {
					return r.array[k], true
				}
				return "", false
			}
			units := slices.Clone(r.start)
			units[len(units)-1] += uint16(k)
			return string(utf16.Decode(units)), true
		}
		if !m.overlaps {
			break
		}
	}
	return "", false
}

func codeValue(code string) uint32 {
	var v uint32
	for i := 0; i < len(code); i++ {
		v = v<<8 | uint32(code[i])
	}
	return v
}

// utf16Units returns s, a CMap's destination string, as UTF-16 units; a
// lone byte (an error of some producers) is taken as one unit.
func utf16Units(s string) []uint16 {
	if len(s) == 1 {
		return []uint16{uint16(s[0])}
	}
	units := make([]uint16, len(s)/2)
	for i := range units {
		units[i] = uint16(s[2*i])<<8 | uint16(s[2*i+1])
	}
	return units
}

func utf16Text(s string) string { return string(utf16.Decode(utf16Units(s))) }
