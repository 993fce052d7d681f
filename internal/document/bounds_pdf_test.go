package document_test

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/document"
)

// These tests give Extract hostile PDFs — nesting thousands or millions
// deep, object streams that loop, that end inside a hex string, that the
// file's references make recurse — and check that each is answered with
// the error a user is told, or read, as said. A regression here does not
// fail fast: it overflows the stack (the test binary dies) or loops (the
// test times out). Both are failures; no test here measures time.

// wantErr extracts data as name and checks that it fails with want.
func wantErr(t *testing.T, name string, data []byte, want error) {
	t.Helper()
	doc, err := document.Extract(name, data)
	if !errors.Is(err, want) {
		t.Fatalf("Extract = %q, %v; want %v", clipText(doc.Text), err, want)
	}
}

// wantText extracts data as name and checks that its text is want.
func wantText(t *testing.T, name string, data []byte, want string) {
	t.Helper()
	doc, err := document.Extract(name, data)
	if err != nil || doc.Text != want {
		t.Fatalf("Extract = %q, %v; want %q", clipText(doc.Text), err, want)
	}
}

func clipText(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// The builders themselves make files that read.
func TestHostilePDFBuildersRead(t *testing.T) {
	wantText(t, "f.pdf", objStmPDF("", nil, 0, true), "Hello")
	wantText(t, "f.pdf", objStmPDF("", nil, 0, false), "Hello")
	wantText(t, "f.pdf", contentPDF([]byte("BT /F1 12 Tf 72 700 Td (Hello) Tj ET")), "Hello")
	wantText(t, "f.pdf", rawObjectPDF("[1 [2 << /A [3] >>]]"), "Hello")
	wantText(t, "f.pdf", objStmChain(1, false), "Hello")
	wantText(t, "f.pdf", objStmChain(3, false), "Hello")
	wantText(t, "f.pdf", encryptedObjStmPDF(nil, 0), "Hello")
}

// Arrays and dictionaries nested past maxPDFObjectDepth in a page's
// content end the content there, as damage: the text before them is read.
// A page of nothing else is ErrCorrupt. Nesting within the bound is
// dropped, the text around it read.
func TestPDFContentDeepNesting(t *testing.T) {
	const hello = "BT /F1 12 Tf 72 700 Td (Hello) Tj ET"
	for name, nested := range map[string]string{
		"arrays":          deepArrays(10 << 20),
		"dicts":           deepDicts(1 << 20),
		"mixed":           deepMixed(1 << 20),
		"arrays unclosed": strings.Repeat("[", 1<<20),
		"in TJ":           "BT /F1 12 Tf 72 700 Td [(Hel) " + deepArrays(1<<20) + " (lo)] TJ ET",
		"in a dictionary": "/Span << /A " + deepArrays(1<<20) + " >> BDC EMC",
	} {
		t.Run(name, func(t *testing.T) {
			wantText(t, "f.pdf", contentPDF([]byte(hello+" "+nested+" "+hello)), "Hello")
			wantErr(t, "f.pdf", contentPDF([]byte(nested+" "+hello)), document.ErrCorrupt)
		})
	}
	for name, nested := range map[string]string{
		"arrays": deepArrays(200), "dicts": deepDicts(200), "mixed": deepMixed(200),
	} {
		t.Run(name+" within the bound", func(t *testing.T) {
			wantText(t, "f.pdf", contentPDF([]byte(hello+" "+nested+" "+hello)), "Hello Hello")
		})
	}
}

// Arrays and dictionaries nested past maxPDFObjectDepth in the file's own
// objects, or in an object stream, are ErrCorrupt: no real file nests
// them so, and the library would recurse on them.
func TestPDFObjectsDeepNesting(t *testing.T) {
	for name, nested := range map[string]string{
		"arrays": deepArrays(5000), "dicts": deepDicts(5000), "mixed": deepMixed(5000),
		"arrays unclosed": strings.Repeat("[", 5000),
	} {
		t.Run("raw "+name, func(t *testing.T) {
			wantErr(t, "f.pdf", rawObjectPDF(nested), document.ErrCorrupt)
		})
		t.Run("object stream "+name, func(t *testing.T) {
			data, first := objectStreamData([]int{6}, []string{"<< /Font << /F1 7 0 R >> /Deep " + nested + " >>"})
			wantErr(t, "f.pdf", objStmPDF("", data, first, true), document.ErrCorrupt)
		})
	}
	// A name that spells a keyword does not hide what follows it.
	wantErr(t, "f.pdf", rawObjectPDF("[/stream "+deepArrays(5000)+"]"), document.ErrCorrupt)
	// Nesting within the bound reads.
	wantText(t, "f.pdf", rawObjectPDF(deepArrays(200)), "Hello")
}

// Object streams that extend each other in a loop, or in a chain longer
// than maxObjectStreamChain, are ErrCorrupt: the library would follow them
// forever, or for every object it resolves.
func TestPDFObjectStreamExtends(t *testing.T) {
	for _, c := range []struct {
		name string
		n    int
		loop bool
	}{{"self", 1, true}, {"2-cycle", 2, true}, {"5-cycle", 5, true}, {"chain of 40", 40, false}, {"chain of 100", 100, false}} {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, "f.pdf", objStmChain(c.n, c.loop), document.ErrCorrupt)
		})
	}
}

// An object stream that ends inside a hex string is ErrCorrupt: the
// library's lexer would wait for the string's end forever.
func TestPDFObjectStreamOpenHexString(t *testing.T) {
	for name, data := range map[string]string{
		"digits":         "6 0 <41 42",
		"odd digits":     "6 0 <414",
		"empty":          "6 0 <",
		"spaces":         "6 0 <41 \n\r\t ",
		"in an array":    "6 0 [ (a) <4142",
		"in header":      "6 <",
		"after a dict":   "6 0 << /A 1 >> <41",
		"after a string": "6 0 (a) <00",
		// the library waits for the pair of a last character, hex or not
		"one more":           "6 0 [<\x7f",
		"one more after hex": "6 0 <41 x \n",
	} {
		for _, compress := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s compressed %v", name, compress), func(t *testing.T) {
				wantErr(t, "f.pdf", objStmPDF("", []byte(data), 4, compress), document.ErrCorrupt)
			})
		}
	}
	// Encrypted (with the empty user password): decrypted as the library does.
	wantErr(t, "f.pdf", encryptedObjStmPDF([]byte("6 0 <41 42"), 4), document.ErrCorrupt)
	wantErr(t, "f.pdf", encryptedObjStmPDF([]byte("6 0 [<\x7f"), 4), document.ErrCorrupt)
	// Length cut inside a hex string that the data goes on to close.
	wantErr(t, "f.pdf", objStmPDF("/Length 7", []byte("6 0 <41>"), 4, false), document.ErrCorrupt)
	wantErr(t, "f.pdf", objStmPDF("/Length 8 0 R", []byte("6 0 <41>"), 4, false, pdfObject{body: "7"}), document.ErrCorrupt)
}

// References that make the library recurse without end fail within the
// stack bound on its reads, or are refused beforehand: ErrCorrupt, not a
// stack overflow.
func TestPDFRecursiveReferences(t *testing.T) {
	t.Run("object stream length inside itself", func(t *testing.T) {
		// /Length 6 0 R, and object 6 is in the stream.
		wantErr(t, "f.pdf", objStmPDF("/Length 6 0 R", nil, 0, true), document.ErrCorrupt)
	})
	t.Run("object stream inside itself", func(t *testing.T) {
		data, first := objectStreamData([]int{6}, []string{resources})
		objects := []pdfObject{
			{body: "<< /Type /Catalog /Pages 2 0 R >>"},
			{body: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"},
			{body: "<< /Type /Page /Parent 2 0 R /Resources 6 0 R /Contents 4 0 R >>"},
			{body: pdfStream("", []byte("BT /F1 12 Tf 72 700 Td (Hello) Tj ET"), false, "")},
			{body: pdfStream(fmt.Sprintf("/Type /ObjStm /N 1 /First %d", first), data, true, ""), streamOf: 5},
			{inStream: 5},
			{body: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"},
		}
		wantErr(t, "f.pdf", hostilePDF(objects), document.ErrCorrupt)
	})
	t.Run("two object streams inside each other", func(t *testing.T) {
		data, first := objectStreamData([]int{6}, []string{resources})
		objects := []pdfObject{
			{body: "<< /Type /Catalog /Pages 2 0 R >>"},
			{body: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"},
			{body: "<< /Type /Page /Parent 2 0 R /Resources 6 0 R /Contents 4 0 R >>"},
			{body: pdfStream("", []byte("BT /F1 12 Tf 72 700 Td (Hello) Tj ET"), false, "")},
			{body: pdfStream(fmt.Sprintf("/Type /ObjStm /N 1 /First %d", first), data, true, ""), streamOf: 8},
			{inStream: 5},
			{body: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"},
			{body: pdfStream(fmt.Sprintf("/Type /ObjStm /N 1 /First %d", first), data, true, ""), streamOf: 5},
		}
		wantErr(t, "f.pdf", hostilePDF(objects), document.ErrCorrupt)
	})
}

// The library looks through a font's whole Differences array for every
// byte it decodes, resolving every element each time: an array too long,
// or of references, is not given to it (the font reads as Windows-1252),
// where it cost seconds to minutes per font.
func TestPDFFontDifferences(t *testing.T) {
	font := func(differences string, extra ...pdfObject) []byte {
		objects := []pdfObject{
			{body: "<< /Type /Catalog /Pages 2 0 R >>"},
			{body: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>"},
			{body: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"},
			{body: pdfStream("", []byte("BT /F1 12 Tf 72 700 Td (A) Tj ET"), false, "")},
			{body: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Differences " + differences + " >> >>"},
		}
		return hostilePDF(append(objects, extra...))
	}
	wantText(t, "f.pdf", font("[65 /B]"), "B")
	// codes past 255, which no byte finds: the library looks through them all
	wantText(t, "f.pdf", font("[256 "+strings.Repeat("/a ", 200_000)+"]"), "A")
	refs := []pdfObject{{body: "/B"}}
	wantText(t, "f.pdf", font("[256 "+strings.Repeat("6 0 R ", 20_000)+"]", refs...), "A")
	wantText(t, "f.pdf", font("[65 6 0 R]", refs...), "A")
}

// Object streams are decoded, to be checked, within bounds: one past
// maxObjectStreamBytes, or all past maxObjectStreamsBytes together, is
// ErrTooLarge. Their entries may be references, resolved once each.
func TestPDFObjectStreamSizes(t *testing.T) {
	compressed := func(n int) string {
		var z bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
		zw.Write([]byte("6 0 "))
		zw.Write(bytes.Repeat([]byte(" "), n))
		zw.Close()
		return z.String()
	}
	streams := func(count, size int) []byte {
		data := compressed(size)
		extra := []pdfObject{{body: fmt.Sprint(len(data))}, {body: "/FlateDecode"}} // objects 8 and 9
		for range count {
			extra = append(extra, pdfObject{body: fmt.Sprintf("<< /Type /ObjStm /N 1 /First 4 /Filter 9 0 R /Length 8 0 R >>\nstream\n%s\nendstream", data)})
		}
		return objStmPDF("", nil, 0, true, extra...)
	}
	wantErr(t, "f.pdf", streams(1, 17<<20), document.ErrTooLarge)
	wantErr(t, "f.pdf", streams(5, 15<<20), document.ErrTooLarge)
	wantText(t, "f.pdf", streams(2000, 1000), "Hello")
}
