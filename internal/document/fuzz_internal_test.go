package document

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzToUnicodeCMap fuzzes the ToUnicode CMap parser, and the decoding of
// strings through the map it yields, for composite and simple fonts.
func FuzzToUnicodeCMap(f *testing.F) {
	f.Add([]byte("1 begincodespacerange <0000> <FFFF> endcodespacerange 2 beginbfchar <0003> <0041> <0004> <D83DDE00> endbfchar 1 beginbfrange <0010> <0020> <4E00> endbfrange"), []byte("\x00\x03\x00\x04\x00\x15\x01"))
	f.Add([]byte("1 begincodespacerange <00> <80> <8140> <FEFE> endcodespacerange 1 beginbfrange <20> <7E> [<0020> <0021>] endbfrange"), []byte(" !\x81\x40"))
	f.Add([]byte("/CIDInit /ProcSet findresource begin 12 dict begin begincmap 1 beginbfchar <01> <> endbfchar endcmap"), []byte("\x01"))
	// hostile structures: deep nesting, truncation, huge sizes
	f.Add([]byte("1 beginbfrange <00> <FF> "+strings.Repeat("[", 300)+"<0041>"+strings.Repeat("]", 300)+" endbfrange"), []byte("A"))
	f.Add([]byte("1 beginbfrange <00> <FF> "+strings.Repeat("<<", 300)+" endbfrange"), []byte("A"))
	f.Add([]byte("1 beginbfchar <01> <0041"), []byte("\x01"))
	f.Add([]byte("1 beginbfchar <01> (A"), []byte("\x01"))
	f.Add([]byte("99999999 begincodespacerange <00000000> <FFFFFFFF> endcodespacerange 1 beginbfrange <00000000> <FFFFFFFF> <0041> endbfrange"), []byte("\xff\xff\xff\xff"))
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

// FuzzObjectStreamScan fuzzes the scan of an object stream's data: it
// must refuse, as ErrCorrupt, exactly the data on which the library's
// lexer, started at some "<", would wait for the end of a hex string
// forever (hexSpins, a copy of the library's loop), or that nests past the
// bound.
func FuzzObjectStreamScan(f *testing.F) {
	for _, seed := range []string{"1 0 <41 42", "1 0 <<>>", "1 0 [<41>]", "<", "(<)", "%<\n", strings.Repeat("[", 300), "1 0 (a\\) <41",
		"6 0 [<\x7f", "<41 x \n", "<4 x", "<<", "<41>x"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := scanObjectStream(bytes.NewReader(data))
		spins := false
		for p, c := range data {
			if c == '<' && (p+1 == len(data) || data[p+1] != '<') && hexSpins(data[p+1:]) {
				spins = true
			}
		}
		switch {
		case err == nil && spins:
			t.Fatalf("%q passes, and the library would wait for the end of a hex string in it", data)
		case err != nil && !errors.Is(err, ErrCorrupt):
			t.Fatalf("%q: %v", data, err)
		case err != nil && !spins && !errors.Is(err, errPDFDepth):
			t.Fatalf("%q: %v", data, err)
		}
	})
}

// hexSpins reports whether the library's lexer (readHexString, in
// github.com/ledongthuc/pdf's lex.go), reading the hex string whose "<"
// comes before rest, loops at the end of rest: there it reads white space
// for ever.
func hexSpins(rest []byte) bool {
	i := 0
	next := func() (byte, bool) {
		for ; i < len(rest); i++ {
			if !isPDFSpace(rest[i]) {
				i++
				return rest[i-1], true
			}
		}
		return 0, false
	}
	for {
		c, ok := next()
		if !ok {
			return true
		}
		if c == '>' {
			return false
		}
		c2, ok := next()
		if !ok {
			return true
		}
		_, hex1 := unhex(c)
		_, hex2 := unhex(c2)
		if !hex1 || !hex2 {
			return false // it panics
		}
	}
}

// FuzzXMLBounds fuzzes the XML guard against encoding/xml itself: XML
// the decoder reads whole within the bounds must pass, and XML that it
// reads past a bound (before any error) must be refused.
func FuzzXMLBounds(f *testing.F) {
	for _, seed := range []string{
		`<a><b c="1" d='2'/></a>`, `<?xml version="1.0"?><a x=">"/>`, `<!-- <a b="c" --><a/>`, `<a><![CDATA[<b c="]]></a>`,
		strings.Repeat("<a>", 600), "<a" + strings.Repeat(` b=""`, 600) + "/>", "<a" + strings.Repeat(` b="<"`, 600) + "/>",
		`<a b="` + strings.Repeat(`=`, 600) + `"/>`, "<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>",
		`<?xml version="1.0" encoding="utf-16le"?>` + "<\x00a\x00>\x00", `<?xml version="1.0" encoding="UTF-8"?><a><?pi <b>?></a>`,
		`<numFmt x:formatCode = "0.00"/>`, `<a><b></a>`, `<a/ >`, "<a\n/>",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// What the decoder alone reads: the deepest nesting and the most
		// attributes, up to its first error.
		d := xml.NewDecoder(bytes.NewReader(data))
		depth, deepest, attrs := 0, 0, 0
		var decodeErr error
		for {
			tok, err := d.Token()
			if err != nil {
				if err != io.EOF {
					decodeErr = err
				}
				break
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				depth++
				deepest, attrs = max(deepest, depth), max(attrs, len(tok.Attr))
			case xml.EndElement:
				depth--
			}
			if deepest > maxXMLDepth || attrs > maxXMLAttributes {
				break
			}
		}
		for name, scan := range map[string]func() error{
			"bytes": func() error {
				tokens := 0
				_, err := scanXMLBytes(bytes.NewReader(data), &tokens)
				return err
			},
			"decoded": func() error {
				tokens := 0
				return scanXMLDecoded(bytes.NewReader(data), &tokens)
			},
		} {
			err := scan()
			switch {
			case deepest > maxXMLDepth || attrs > maxXMLAttributes:
				if err == nil {
					t.Fatalf("%s: depth %d, %d attributes: passes", name, deepest, attrs)
				}
			case decodeErr == nil && err != nil && !errors.Is(err, errXMLDirective) && !errors.Is(err, errXMLNumFmt):
				t.Fatalf("%s: depth %d, %d attributes: %v", name, deepest, attrs, err)
			}
		}
	})
}
