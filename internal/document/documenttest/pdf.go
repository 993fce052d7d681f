package documenttest

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// PDF returns a minimal valid one-page PDF (with correct xref offsets)
// showing lines one below the other. A line of ASCII is shown in Helvetica
// with WinAnsiEncoding; a line with any other character is shown in the
// CJK font STSong-Light through the predefined CMap UniGB-UCS2-H, its
// string hex-encoded as UTF-16BE, the way Chinese producers write a PDF that
// relies on the reader's Asian fonts (no font file is embedded: none is
// needed to extract the text).
func PDF(lines ...string) []byte {
	return PDFWithCMap("UniGB-UCS2-H", lines...)
}

// PDFWithCMap is PDF with the CJK font's encoding set to the predefined CMap
// cmap, its strings encoded to match: UTF-16BE for the Uni…-UCS2 and
// Uni…-UTF16 CMaps, GBK for GB-EUC, GBpc-EUC, GBK-EUC and GBKp-EUC, GB18030
// for GBK2K, Big5 for B5pc and ETen-B5, Shift JIS for 90ms-RKSJ and 90msp-RKSJ,
// EUC-JP for EUC, EUC-KR for KSC-EUC and KSCms-UHC; each with the -H or -V
// suffix. The font's name and character collection follow the CMap's
// language (STSong-Light/GB1, MSung-Light/CNS1, HeiseiMin-W3/Japan1,
// HYSMyeongJo-Medium/Korea1). It panics on any other CMap, or on a line the
// CMap's encoding cannot encode.
//
// The lines are laid out one below the other whatever the CMap: with a -V
// (vertical) CMap, a reader that follows the writing direction reads them
// as one column of text; give it a single line.
func PDFWithCMap(cmap string, lines ...string) []byte {
	enc, font := cjkCMap(cmap)
	return linesPDF(lines, false, "", cjkLines{add: func(b *pdfBuilder) int {
		descriptor := b.add(fmt.Sprintf("<< /Type /FontDescriptor /FontName /%s /Flags 6 /FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>", font.name))
		cid := b.add(fmt.Sprintf("<< /Type /Font /Subtype /CIDFontType0 /BaseFont /%s /CIDSystemInfo << /Registry (Adobe) /Ordering (%s) /Supplement 2 >> /FontDescriptor %d 0 R /DW 1000 >>", font.name, font.ordering, descriptor))
		return b.add(fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /%s /DescendantFonts [%d 0 R] >>", font.name, cmap, cid))
	}, encode: func(line string) []byte {
		if enc == nil {
			return utf16BE(line)
		}
		b, err := enc.NewEncoder().Bytes([]byte(line))
		if err != nil {
			panic(fmt.Sprintf("documenttest: %s cannot encode %q: %v", cmap, line, err))
		}
		return b
	}})
}

// PDFIdentityNoToUnicode returns a one-page PDF showing every line in an
// embedded-subset TrueType font with Encoding Identity-H and no ToUnicode
// CMap: its strings are 2-byte glyph ids (the first distinct character is
// glyph 3, the next 4, …), which say nothing of the characters without the
// font program's tables — the PDF whose text cannot be extracted.
func PDFIdentityNoToUnicode(lines ...string) []byte {
	gids := glyphIDs(lines)
	return linesPDF(lines, false, "", cjkLines{add: func(b *pdfBuilder) int {
		return identityFont(b, 0)
	}, encode: gids.encode, all: true})
}

// PDFIdentityToUnicode is PDFIdentityNoToUnicode with a ToUnicode CMap
// mapping each glyph id back to its character (bfrange for runs of
// consecutive glyphs and characters, bfchar for the others), as most
// embedded CJK fonts have; its streams are FlateDecode-compressed.
func PDFIdentityToUnicode(lines ...string) []byte {
	gids := glyphIDs(lines)
	return linesPDF(lines, true, "", cjkLines{add: func(b *pdfBuilder) int {
		return identityFont(b, b.add(b.stream("", gids.toUnicode(), true)))
	}, encode: gids.encode, all: true})
}

// PDFContent returns a one-page PDF whose page content stream is content,
// verbatim and uncompressed, with these fonts in its resources:
//
//	/F1 Helvetica, WinAnsiEncoding
//	/F2 STSong-Light, UniGB-UCS2-H (strings are UTF-16BE)
//	/F3 Identity-H with a ToUnicode CMap mapping <0001>…<001A> to a…z
//	/F4 Identity-H without ToUnicode
//
// and the form XObject /Fm1, which shows "Form text" in Helvetica. Use it
// for a page with no text (an empty content: a scanned PDF), or to feed the
// content interpreter arbitrary operators.
func PDFContent(content []byte) []byte {
	b := &pdfBuilder{}
	fonts := make([]int, 0, 4)
	fonts = append(fonts, b.add(helvetica))
	_, song := cjkCMap("UniGB-UCS2-H")
	descriptor := b.add("<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>")
	cid := b.add(fmt.Sprintf("<< /Type /Font /Subtype /CIDFontType0 /BaseFont /%s /CIDSystemInfo << /Registry (Adobe) /Ordering (%s) /Supplement 2 >> /FontDescriptor %d 0 R /DW 1000 >>", song.name, song.ordering, descriptor))
	fonts = append(fonts, b.add(fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [%d 0 R] >>", cid)))
	letters := "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n" +
		"/CMapName /Letters def\n1 begincodespacerange <0000> <FFFF> endcodespacerange\n" +
		"1 beginbfrange <0001> <001A> <0061> endbfrange\nendcmap CMapName currentdict /CMap defineresource pop end end\n"
	fonts = append(fonts, identityFont(b, b.add(b.stream("", []byte(letters), false))))
	fonts = append(fonts, identityFont(b, 0))
	form := b.add(b.stream(fmt.Sprintf("/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >>", fonts[0]),
		[]byte("BT /F1 12 Tf 72 100 Td (Form text) Tj ET"), false))
	return b.page(content, false, fonts, fmt.Sprintf("/XObject << /Fm1 %d 0 R >>", form), "")
}

// EncryptedPDF returns a one-page PDF encrypted with a user password (the
// standard security handler, RC4 128-bit): it cannot be opened, let alone
// read, without the password. Its encryption dictionary is valid in form
// but its keys are made up, so no password opens it.
func EncryptedPDF() []byte {
	encrypt := "/Encrypt << /Filter /Standard /V 2 /R 3 /Length 128 /P -3904" +
		" /O <" + strings.Repeat("5a", 32) + "> /U <" + strings.Repeat("a5", 32) + "> >>" +
		" /ID [<00112233445566778899aabbccddeeff> <00112233445566778899aabbccddeeff>]"
	return linesPDF([]string{"secret"}, false, encrypt, cjkLines{add: func(b *pdfBuilder) int { return b.add(helvetica) }})
}

const helvetica = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"

// cjkLines is the second font of a linesPDF: how to add it, and how a line
// is encoded in it.
type cjkLines struct {
	add    func(*pdfBuilder) int // adds the font, returns its object number
	encode func(string) []byte
	all    bool // every line goes through this font, ASCII ones too
}

// linesPDF builds the one-page PDF of lines: /F1 is Helvetica, for lines of
// ASCII, /F2 the font f, for the others.
func linesPDF(lines []string, compress bool, trailer string, f cjkLines) []byte {
	b := &pdfBuilder{}
	fonts := []int{b.add(helvetica), f.add(b)}
	var content strings.Builder
	content.WriteString("BT\n18 TL\n72 800 Td\n")
	current := ""
	for _, line := range lines {
		font, str := "/F1", literal(line)
		if f.all || !isASCII(line) {
			font, str = "/F2", "<"+hex.EncodeToString(f.encode(line))+">"
		}
		if font != current {
			fmt.Fprintf(&content, "%s 12 Tf\n", font)
			current = font
		}
		fmt.Fprintf(&content, "%s Tj\nT*\n", str)
	}
	content.WriteString("ET\n")
	return b.page([]byte(content.String()), compress, fonts, "", trailer)
}

// identityFont adds a Type0 font with Encoding Identity-H over an embedded
// TrueType subset, with the ToUnicode stream toUnicode when it is not 0.
func identityFont(b *pdfBuilder, toUnicode int) int {
	program := b.add(b.stream("/Length1 4", []byte("\x00\x01\x00\x00"), false)) // a stand-in: nothing reads it
	descriptor := b.add(fmt.Sprintf("<< /Type /FontDescriptor /FontName /ABCDEF+SimSun /Flags 4 /FontBBox [0 -141 1000 859] /ItalicAngle 0 /Ascent 859 /Descent -141 /CapHeight 859 /StemV 80 /FontFile2 %d 0 R >>", program))
	cid := b.add(fmt.Sprintf("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /ABCDEF+SimSun /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor %d 0 R /CIDToGIDMap /Identity /DW 1000 >>", descriptor))
	font := fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+SimSun /Encoding /Identity-H /DescendantFonts [%d 0 R]", cid)
	if toUnicode != 0 {
		font += fmt.Sprintf(" /ToUnicode %d 0 R", toUnicode)
	}
	return b.add(font + " >>")
}

// glyphs numbers the distinct characters of a text as a font subset would.
type glyphs struct {
	ids   map[rune]uint16
	order []rune
}

func glyphIDs(lines []string) *glyphs {
	g := &glyphs{ids: map[rune]uint16{}}
	for _, line := range lines {
		for _, r := range line {
			if _, ok := g.ids[r]; !ok {
				g.ids[r] = uint16(3 + len(g.order))
				g.order = append(g.order, r)
			}
		}
	}
	return g
}

func (g *glyphs) encode(line string) []byte {
	var b []byte
	for _, r := range line {
		id := g.ids[r]
		b = append(b, byte(id>>8), byte(id))
	}
	return b
}

func (g *glyphs) toUnicode() []byte {
	var ranges, chars []string
	for i := 0; i < len(g.order); {
		j := i + 1
		for j < len(g.order) && g.order[j] == g.order[j-1]+1 && g.order[j] < 0xD800 {
			j++
		}
		lo, hi := g.ids[g.order[i]], g.ids[g.order[j-1]]
		if j-i > 1 {
			ranges = append(ranges, fmt.Sprintf("<%04X> <%04X> <%X>", lo, hi, utf16BE(string(g.order[i]))))
		} else {
			chars = append(chars, fmt.Sprintf("<%04X> <%X>", lo, utf16BE(string(g.order[i]))))
		}
		i = j
	}
	var b strings.Builder
	b.WriteString("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n")
	b.WriteString("/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n")
	b.WriteString("/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n")
	b.WriteString("1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n")
	if len(chars) > 0 {
		fmt.Fprintf(&b, "%d beginbfchar\n%s\nendbfchar\n", len(chars), strings.Join(chars, "\n"))
	}
	if len(ranges) > 0 {
		fmt.Fprintf(&b, "%d beginbfrange\n%s\nendbfrange\n", len(ranges), strings.Join(ranges, "\n"))
	}
	b.WriteString("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
	return []byte(b.String())
}

type cjkFont struct{ name, ordering string }

// cjkCMap returns the encoding of the strings a predefined CMap reads (nil
// for UTF-16BE) and the font that goes with its language.
func cjkCMap(cmap string) (encoding.Encoding, cjkFont) {
	var (
		gb     = cjkFont{"STSong-Light", "GB1"}
		cns    = cjkFont{"MSung-Light", "CNS1"}
		japan  = cjkFont{"HeiseiMin-W3", "Japan1"}
		korea  = cjkFont{"HYSMyeongJo-Medium", "Korea1"}
		family = strings.TrimSuffix(strings.TrimSuffix(cmap, "-H"), "-V")
	)
	switch family {
	case "UniGB-UCS2", "UniGB-UTF16":
		return nil, gb
	case "UniCNS-UCS2", "UniCNS-UTF16":
		return nil, cns
	case "UniJIS-UCS2", "UniJIS-UTF16", "UniJIS-UCS2-HW":
		return nil, japan
	case "UniKS-UCS2", "UniKS-UTF16":
		return nil, korea
	case "GB-EUC", "GBpc-EUC", "GBK-EUC", "GBKp-EUC":
		return simplifiedchinese.GBK, gb
	case "GBK2K":
		return simplifiedchinese.GB18030, gb
	case "B5pc", "ETen-B5", "ETenms-B5", "HKscs-B5":
		return traditionalchinese.Big5, cns
	case "90ms-RKSJ", "90msp-RKSJ":
		return japanese.ShiftJIS, japan
	case "EUC":
		return japanese.EUCJP, japan
	case "KSC-EUC", "KSCms-UHC", "KSCpc-EUC":
		return korean.EUCKR, korea
	}
	panic("documenttest: no encoding for the CMap " + cmap)
}

// pdfBuilder numbers objects from 1 in the order they are added.
type pdfBuilder struct{ objects []string }

func (b *pdfBuilder) add(object string) int {
	b.objects = append(b.objects, object)
	return len(b.objects)
}

// stream returns a stream object holding data, with the extra entries dict
// in its dictionary.
func (b *pdfBuilder) stream(dict string, data []byte, compress bool) string {
	if compress {
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(data)
		zw.Close()
		data, dict = z.Bytes(), dict+" /Filter /FlateDecode"
	}
	return fmt.Sprintf("<< /Length %d%s >>\nstream\n%s\nendstream", len(data), prefixSpace(dict), data)
}

// page adds the catalog, the page tree and the page with its content and
// fonts (named /F1, /F2, … in order) and returns the whole file.
func (b *pdfBuilder) page(content []byte, compress bool, fonts []int, resources, trailer string) []byte {
	contents := b.add(b.stream("", content, compress))
	var res strings.Builder
	for i, f := range fonts {
		fmt.Fprintf(&res, " /F%d %d 0 R", i+1, f)
	}
	pages := len(b.objects) + 2
	page := b.add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources << /Font <<%s >>%s >> /Contents %d 0 R >>", pages, res.String(), prefixSpace(resources), contents))
	b.add(fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	root := b.add(fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))

	var out bytes.Buffer
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(b.objects))
	for i, obj := range b.objects {
		offsets[i] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", i+1, obj)
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(b.objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&out, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root %d 0 R%s >>\nstartxref\n%d\n%%%%EOF\n", len(b.objects)+1, root, prefixSpace(trailer), xref)
	return out.Bytes()
}

func prefixSpace(s string) string {
	if s == "" {
		return ""
	}
	return " " + s
}

// literal returns s as a PDF literal string.
func literal(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`, "\r", `\r`, "\n", `\n`)
	return "(" + r.Replace(s) + ")"
}

func utf16BE(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return b
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
