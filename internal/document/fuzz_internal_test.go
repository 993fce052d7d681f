package document

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// FuzzToUnicodeCMap fuzzes the ToUnicode CMap parser, and the decoding of
// strings through the map it yields, for composite and simple fonts.
func FuzzToUnicodeCMap(f *testing.F) {
	f.Add([]byte("1 begincodespacerange <0000> <FFFF> endcodespacerange 2 beginbfchar <0003> <0041> <0004> <D83DDE00> endbfchar 1 beginbfrange <0010> <0020> <4E00> endbfrange"), []byte("\x00\x03\x00\x04\x00\x15\x01"))
	f.Add([]byte("1 begincodespacerange <00> <80> <8140> <FEFE> endcodespacerange 1 beginbfrange <20> <7E> [<0020> <0021>] endbfrange"), []byte(" !\x81\x40"))
	f.Add([]byte("/CIDInit /ProcSet findresource begin 12 dict begin begincmap 1 beginbfchar <01> <> endbfchar endcmap"), []byte("\x01"))
	f.Fuzz(func(t *testing.T, cmap, s []byte) {
		for _, composite := range []bool{true, false} {
			m := parseToUnicode(newPDFLexer(bytes.NewReader(cmap)), composite)
			font := &pdfFont{composite: composite, toUnicode: m, bytes: fallbackFont.bytes, widths: fallbackFont.widths, cidDefault: 1000, identity: true}
			glyphs, unreadable := font.decode(string(s), nil)
			if unreadable > len(s) || len(glyphs) > len(s) {
				t.Fatalf("%d glyphs, %d unreadable from %d bytes", len(glyphs), unreadable, len(s))
			}
			for _, g := range glyphs {
				if !utf8.ValidString(g.text) {
					t.Fatalf("invalid UTF-8 %q", g.text)
				}
			}
		}
	})
}
