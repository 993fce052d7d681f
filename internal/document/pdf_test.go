package document_test

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/document"
	"github.com/dingtalk-llm/fcrobot/internal/document/documenttest"
)

// TestPDFLayout checks how the text drawn by a page's content is laid out:
// by where it is drawn, not by the operators that draw it.
func TestPDFLayout(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"TJ offsets", `BT /F1 12 Tf 72 700 Td [(Hello) -250 (World) -50 (!)] TJ ET`, "Hello World!"},
		{"TJ kerning", `BT /F1 12 Tf 72 700 Td [(W) 80 (A) 120 (V) -120 (E)] TJ ET`, "WAVE"},
		{"T* and TL", `BT /F1 12 Tf 14 TL 72 700 Td (one) Tj T* (two) Tj (three) ' ET`, "one\ntwo\nthree"},
		{"quote operator", `BT /F1 12 Tf 14 TL 72 700 Td (one) Tj 1 0 (two) " ET`, "one\ntwo"},
		{"TD", `BT /F1 12 Tf 72 700 Td (a) Tj 0 -14 TD (b) Tj T* (c) Tj ET`, "a\nb\nc"},
		{"cells by Tm", `BT /F1 12 Tf 1 0 0 1 72 700 Tm (Name) Tj 1 0 0 1 200 700 Tm (Alice) Tj 1 0 0 1 72 680 Tm (Age) Tj 1 0 0 1 200 680 Tm (30) Tj ET`, "Name Alice\nAge 30"},
		{"text blocks per cell", `BT /F2 10 Tf 72 700 Td <59D3540D> Tj ET BT /F2 10 Tf 200 700 Td <5F204E09> Tj ET BT /F2 10 Tf 72 680 Td <5E749F84> Tj ET`, "姓名 张三\n年龄"},
		{"glyph by glyph", `BT /F2 12 Tf 1 0 0 1 72 700 Tm <4F60> Tj ET BT /F2 12 Tf 1 0 0 1 84 700 Tm <597D> Tj ET BT /F2 12 Tf 1 0 0 1 96 700 Tm <FF0C> Tj ET`, "你好，"},
		{"scaled by Tm", `BT /F1 1 Tf 12 0 0 12 72 700 Tm (big) Tj 12 0 0 12 72 686 Tm (text) Tj ET`, "big\ntext"},
		{"moved by cm", `q 1 0 0 1 72 700 cm BT /F1 12 Tf (A) Tj ET Q q 1 0 0 1 72 680 cm BT /F1 12 Tf (B) Tj ET Q q 1 0 0 1 100 680 cm BT /F1 12 Tf (C) Tj ET Q`, "A\nB C"},
		{"y down", `1 0 0 -1 0 842 cm BT /F1 12 Tf 1 0 0 -1 72 100 Tm (top) Tj 1 0 0 -1 72 120 Tm (below) Tj ET`, "top\nbelow"},
		{"mixed fonts on a line", `BT /F1 12 Tf 72 700 Td (Total: ) Tj /F2 12 Tf <4E0753436E2F> Tj ET`, "Total: 万千港"},
		{"word spacing", `BT /F1 12 Tf 72 700 Td (no gap here) Tj ET`, "no gap here"},
		{"letters font", `BT /F3 12 Tf 72 700 Td <00080005000C000C000F> Tj ET`, "hello"},
		{"form XObject", `BT /F1 12 Tf 72 700 Td (page) Tj ET /Fm1 Do q 0.5 0 0 0.5 0 0 cm /Fm1 Do Q`, "page\nForm text\nForm text"},
		{"inline image", "BT /F1 12 Tf 72 700 Td (before) Tj ET BI /W 4 /H 1 /BPC 8 /CS /G ID \x00EI(x)Tj\xff\x10 EI BT /F1 12 Tf 72 680 Td (after) Tj ET", "before\nafter"},
		{"unknown font", `BT /F9 12 Tf 72 700 Td (caf\351) Tj ET`, "café"},
		{"no font", `BT 72 700 Td (plain) Tj ET`, "plain"},
		{"marked content", `/Span << /ActualText (x) >> BDC BT /F1 12 Tf 72 700 Td (marked) Tj ET EMC`, "marked"},
		{"damage", `BT /F1 12 Tf 72 700 Td (ok) Tj ] >> } ) Tj 1 2 3 4 5 6 7 8 9 Tm (still) Tj /F1 Tf (same font) Tj ET`, "ok\nstillsame font"},
		{"unterminated hex string", `BT /F1 12 Tf 72 700 Td (ok) Tj <41`, "ok"},
		{"unterminated string", `BT /F1 12 Tf 72 700 Td (ok) Tj (abc`, "ok"},
		{"unterminated array", `BT /F1 12 Tf 72 700 Td (ok) Tj [(abc)`, "ok"},
		{"unbalanced Q", `Q Q Q BT /F1 12 Tf 72 700 Td (ok) Tj ET q q`, "ok"},
		{"huge numbers", `BT /F1 999999999999999999999999999 Tf 1e308 1e308 Td (a) Tj 99999999999999999999 0 Td (b) Tj 0 -99999999999999999999 Td (c) Tj ET`, "abc"}, // an em that large hides every gap
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			var doc document.Document
			var err error
			go func() {
				defer close(done)
				doc, err = document.Extract("a.pdf", documenttest.PDFContent([]byte(tt.content)))
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Extract hangs")
			}
			if err != nil {
				t.Fatal(err)
			}
			if doc.Text != tt.want {
				t.Errorf("Text = %q, want %q", doc.Text, tt.want)
			}
		})
	}
}

// pdfObjects returns a PDF file of the objects numbered from 1, whose
// catalog is object 1; trailer adds entries to the trailer, and may refer
// to the offset of the cross-reference table as %[1]d.
func pdfObjects(trailer string, objects ...string) []byte {
	var out bytes.Buffer
	out.WriteString("%PDF-1.7\n")
	offsets := make([]int, len(objects))
	for i, obj := range objects {
		offsets[i] = out.Len()
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", i+1, obj)
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&out, "%010d 00000 n \n", off)
	}
	if strings.Contains(trailer, "%") {
		trailer = fmt.Sprintf(trailer, xref)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, trailer, xref)
	return out.Bytes()
}

func stream(data string) string {
	return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(data), data)
}

func flateStream(data []byte) string {
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	zw.Write(data)
	zw.Close()
	return fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", z.Len(), z.Bytes())
}

const helvetica = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"

func TestPDFStructure(t *testing.T) {
	twoPages := pdfObjects("",
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 /Resources << /Font << /F1 5 0 R >> >> >>",
		"<< /Type /Page /Parent 2 0 R /Contents [6 0 R 7 0 R] >>", // inherits its resources
		"<< /Type /Page /Parent 2 0 R /Contents 8 0 R >>",
		helvetica,
		stream("BT /F1 12 Tf 72 700 Td"), // a content stream may be split between two tokens
		stream("(first page, split) Tj ET"),
		flateStream([]byte("BT /F1 12 Tf 72 700 Td (second page) Tj ET")),
	)
	differences := pdfObjects("",
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Custom /Encoding << /Type /Encoding /BaseEncoding /WinAnsiEncoding /Differences [1 /H /e /l /o 128 /Euro] >> >>",
		stream(`BT /F1 12 Tf 72 700 Td <0102030304> Tj ( \200 \223q\224) Tj ET`),
	)
	simpleToUnicode := pdfObjects("",
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /TrueType /BaseFont /ABCDEF+SimHei /ToUnicode 6 0 R >>",
		stream(`BT /F1 12 Tf 72 700 Td <0102> Tj (AB) Tj ET`),
		stream("1 begincodespacerange <00> <FF> endcodespacerange 2 beginbfchar <01> <4F60> <02> <597D> endbfchar 1 beginbfrange <41> <42> [<0058> <0059>] endbfrange"),
	)
	deep := pdfObjects("",
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Pages /Kids [4 0 R] /Count 1 /Parent 2 0 R >>",
		"<< /Type /Page /Parent 3 0 R /Resources << /Font << /F1 5 0 R >> >> /Contents 6 0 R >>",
		helvetica,
		stream("BT /F1 12 Tf 72 700 Td (deep) Tj ET"),
	)
	pdf20 := bytes.Replace(documenttest.PDF("version 2.0"), []byte("%PDF-1.7"), []byte("%PDF-2.0"), 1)
	padded := append(documenttest.PDF("padded"), bytes.Repeat([]byte{0}, 4096)...)

	for name, tt := range map[string]struct {
		data []byte
		want string
	}{
		"pages":              {twoPages, "first page, split\n\nsecond page"},
		"differences":        {differences, "Hello € “q”"},
		"simple ToUnicode":   {simpleToUnicode, "你好XY"},
		"nested page tree":   {deep, "deep"},
		"PDF 2.0 header":     {pdf20, "version 2.0"},
		"padding after EOF":  {padded, "padded"},
		"CRLF after header":  {bytes.Replace(documenttest.PDF("x"), []byte("%PDF-1.7\n"), []byte("%PDF-1.7\r"), 1), "x"},
		"compressed streams": {documenttest.PDFIdentityToUnicode("压缩的流"), "压缩的流"},
	} {
		t.Run(name, func(t *testing.T) {
			doc, err := document.Extract("a.pdf", tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if doc.Text != tt.want {
				t.Errorf("Text = %q, want %q", doc.Text, tt.want)
			}
		})
	}
}

// TestPDFHostile checks files built to make a reader loop, allocate or
// expand without bound.
func TestPDFHostile(t *testing.T) {
	page := "<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
	content := stream("BT /F1 12 Tf 72 700 Td (text) Tj ET")
	var bomb bytes.Buffer
	bomb.WriteString("BT /F1 12 Tf 72 700 Td (bomb) Tj ET\n")
	bomb.Write(bytes.Repeat([]byte(" "), 300<<20))
	manyKids := "<< /Type /Pages /Count 1 /Kids [" + strings.Repeat("3 0 R ", 3000) + "] >>"

	tests := map[string]struct {
		data []byte
		want error
	}{
		"page count": {pdfObjects("", "<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 5000 >>", page, helvetica, content), document.ErrTooLarge},
		"many kids":  {pdfObjects("", "<< /Type /Catalog /Pages 2 0 R >>", manyKids, page, helvetica, content), document.ErrTooLarge},
		"kids cycle": {pdfObjects("", "<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 1 >>", page, helvetica, content), document.ErrCorrupt},
		"parent cycle": {pdfObjects("", "<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 2 0 R >>",
			"<< /Type /Page /Parent 3 0 R /Contents 5 0 R >>", helvetica, content), nil}, // no resources anywhere: the fallback font
		"prev cycle":      {pdfObjects("/Prev %[1]d", "<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>", page, helvetica, content), document.ErrCorrupt},
		"huge size":       {bytes.Replace(documenttest.PDF("x"), []byte("/Size 9"), []byte("/Size 999999999"), 1), document.ErrTooLarge},
		"huge subsection": {bytes.Replace(documenttest.PDF("x"), []byte("xref\n0 9"), []byte("xref\n4294967000 9"), 1), document.ErrTooLarge},
		"content bomb":    {pdfObjects("", "<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>", page, helvetica, flateStream(bomb.Bytes())), document.ErrTooLarge},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			done := make(chan struct{})
			var err error
			go func() {
				defer close(done)
				_, err = document.Extract("a.pdf", tt.data)
			}()
			select {
			case <-done:
			case <-time.After(time.Minute): // the bomb takes a second, twenty with -race
				t.Fatal("Extract hangs")
			}
			if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
				t.Errorf("Extract: %v, want %v", err, tt.want)
			}
		})
	}
}
