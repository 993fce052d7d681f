package document_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/document"
	"github.com/dingtalk-llm/fcrobot/internal/document/documenttest"
)

// These tests give Extract Office files whose XML is hostile — elements
// nested millions deep, elements with a million attributes, tokens of
// many megabytes — in each part the readers, this package's or
// excelize's, read: a document's body, a slide, a sheet, the shared
// strings, the workbook. Each such file is about ten kilobytes.

// withPart returns the zip data with the entry name's content replaced
// by content (added if it is not there), compressed as hard as deflate
// can.
func withPart(data []byte, name string, content []byte) []byte {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		panic(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	write := func(n string, b []byte) {
		w, err := zw.Create(n)
		if err != nil {
			panic(err)
		}
		w.Write(b)
	}
	replaced := false
	for _, f := range zr.File {
		if f.Name == name {
			write(name, content)
			replaced = true
			continue
		}
		rc, err := f.Open()
		if err != nil {
			panic(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		write(f.Name, b)
	}
	if !replaced {
		write(name, content)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return out.Bytes()
}

// Hostile XML, each within a root element that declares the usual
// namespaces.
func deepXML(open, close string, n int) string {
	return strings.Repeat(open, n) + strings.Repeat(close, n)
}

// manyAttributes returns an element with n attributes, all named a (the
// decoder does not look for duplicates, and they compress best).
func manyAttributes(n int) string {
	return "<x" + strings.Repeat(` a=""`, n) + "/>"
}

const (
	wordRoot  = `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`
	wordEnd   = `</w:body></w:document>`
	slideRoot = `<?xml version="1.0" encoding="UTF-8"?><p:sld xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:cSld><p:spTree>`
	slideEnd  = `</p:spTree></p:cSld></p:sld>`
	sheetRoot = `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>x</t></is></c></row>`
	sheetEnd  = `</sheetData></worksheet>`
	sstRoot   = `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>x</t></si>`
	sstEnd    = `</sst>`
	bookRoot  = `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets>`
	bookEnd   = `</workbook>`
)

// ooxmlPlace is a part of an Office file where hostile XML goes.
type ooxmlPlace struct {
	name       string // the file's name, for its kind
	base       []byte
	part       string
	head, tail string
	sizes      bool // to try the size bombs in, too
}

func ooxmlPlaces() []ooxmlPlace {
	docx := documenttest.DOCX("hello")
	pptx := documenttest.PPTX([]string{"hello"})
	xlsx := documenttest.XLSX(documenttest.Sheet{Name: "Sheet1", Rows: [][]string{{"hello"}}})
	return []ooxmlPlace{
		{"f.docx", docx, "word/document.xml", wordRoot, wordEnd, true},
		{"f.docx", docx, "_rels/.rels", `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">`, `</Relationships>`, false},
		{"f.pptx", pptx, "ppt/slides/slide1.xml", slideRoot, slideEnd, true},
		{"f.pptx", pptx, "ppt/presentation.xml", `<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main">`, `</p:presentation>`, false},
		{"f.xlsx", xlsx, "xl/worksheets/sheet1.xml", sheetRoot, sheetEnd, true},
		{"f.xlsx", xlsx, "xl/sharedStrings.xml", sstRoot, sstEnd, true},
		{"f.xlsx", xlsx, "xl/workbook.xml", bookRoot, bookEnd, false},
		{"f.xlsx", xlsx, "xl/styles.xml", `<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`, `</styleSheet>`, false},
		{"f.xlsx", xlsx, "xl/unreferenced.xml", `<x>`, `</x>`, false},
	}
}

// ooxmlBombs are hostile XML bodies, by name, with the error each is.
func ooxmlBombs() []struct {
	name string
	xml  string
	want error
	slow bool // seconds to build and to read: tried in one place
} {
	return []struct {
		name string
		xml  string
		want error
		slow bool
	}{
		{"nesting 3M deep", deepXML("<a>", "</a>", 3<<20), document.ErrCorrupt, false},
		{"nesting unclosed", strings.Repeat("<a>", 3<<20), document.ErrCorrupt, false},
		{"nesting with namespaces", deepXML(`<b:a xmlns:b="u">`, "</b:a>", 1<<18), document.ErrCorrupt, false},
		{"nesting self-closing inside", deepXML("<a><b/>", "</a>", 1<<20), document.ErrCorrupt, false},
		{"1M attributes", manyAttributes(1 << 20), document.ErrCorrupt, false},
		{"1M namespace declarations", strings.Replace(manyAttributes(1<<20), ` a=""`, ` xmlns:a="u"`, -1), document.ErrCorrupt, false},
		{"16 MiB attribute value", `<x a="` + strings.Repeat("v", 16<<20) + `"/>`, document.ErrTooLarge, false},
		{"16 MiB comment", "<!--" + strings.Repeat("<a x=1 ", 2<<20) + "-->", document.ErrTooLarge, false},
		{"16 MiB text", "<x>" + strings.Repeat("t", 16<<20) + "</x>", document.ErrTooLarge, false},
		{"17M empty elements", strings.Repeat("<a/>", 17<<20/2), document.ErrTooLarge, true},
	}
}

func TestOOXMLBombs(t *testing.T) {
	for _, place := range ooxmlPlaces() {
		for _, bomb := range ooxmlBombs() {
			if bomb.want == document.ErrTooLarge && !place.sizes || bomb.slow && place.part != "xl/worksheets/sheet1.xml" {
				continue // the size bounds are the same everywhere: a few places will do
			}
			t.Run(place.part+"/"+bomb.name, func(t *testing.T) {
				data := withPart(place.base, place.part, []byte(place.head+bomb.xml+place.tail))
				wantErr(t, place.name, data, bomb.want)
			})
		}
	}
}

// What is within the bounds still reads.
func TestOOXMLWithinBounds(t *testing.T) {
	nested := deepXML("<w:sdt><w:sdtContent>", "</w:sdtContent></w:sdt>", 200)
	wantText(t, "f.docx", withPart(documenttest.DOCX("x"), "word/document.xml",
		[]byte(wordRoot+strings.Replace(nested, "<w:sdtContent></w:sdtContent>", `<w:sdtContent><w:p><w:r><w:t>deep</w:t></w:r></w:p></w:sdtContent>`, 1)+wordEnd)), "deep")
	attrs := "<w:p" + strings.Repeat(` a=""`, 400) + "/>"
	wantText(t, "f.docx", withPart(documenttest.DOCX("x"), "word/document.xml",
		[]byte(wordRoot+strings.TrimSuffix(attrs, "/>")+`><w:r><w:t>many</w:t></w:r></w:p>`+wordEnd)), "many")
	long := strings.Repeat("长", 700_000) // 2 MiB of text in one token
	doc, err := document.Extract("f.docx", documenttest.DOCX(long))
	if err != nil || doc.Text != long {
		t.Fatalf("Extract = %d runes, %v", len([]rune(doc.Text)), err)
	}
	wantText(t, "f.xlsx", withPart(documenttest.XLSX(), "xl/worksheets/sheet1.xml",
		[]byte(sheetRoot+sheetEnd)), "## Sheet1\nx")
}

// The XML bombs are refused without the decoder holding them: the heap
// grows by a few megabytes at most, where it grew by hundreds.
func TestOOXMLBombsMemory(t *testing.T) {
	for _, bomb := range ooxmlBombs()[:6] {
		for _, place := range []ooxmlPlace{ooxmlPlaces()[0], ooxmlPlaces()[4]} {
			t.Run(place.part+"/"+bomb.name, func(t *testing.T) {
				data := withPart(place.base, place.part, []byte(place.head+bomb.xml+place.tail))
				if len(data) > 64<<10 {
					t.Fatalf("the bomb is %d bytes", len(data))
				}
				allocated := allocatedBy(func() { document.Extract(place.name, data) })
				if allocated > 32<<20 {
					t.Fatalf("%d MiB allocated", allocated>>20)
				}
			})
		}
	}
}

// allocatedBy returns the bytes that f allocates.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A custom number format longer than Excel allows is ErrCorrupt: excelize
// parses it anew for every cell it formats.
func TestXLSXLongNumberFormat(t *testing.T) {
	styles := func(code string) []byte {
		return []byte(`<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="1"><numFmt numFmtId="164" formatCode="` + code + `"/></numFmts></styleSheet>`)
	}
	xlsx := documenttest.XLSX(documenttest.Sheet{Name: "Sheet1", Rows: [][]string{{"hello"}}})
	wantErr(t, "f.xlsx", withPart(xlsx, "xl/styles.xml", styles(strings.Repeat("0", 100_000))), document.ErrCorrupt)
	spaced := func(code string) []byte {
		return []byte(`<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="1"><numFmt numFmtId="164" x:formatCode =  '` + code + `'/></numFmts></styleSheet>`)
	}
	wantErr(t, "f.xlsx", withPart(xlsx, "xl/styles.xml", spaced(strings.Repeat("0", 100_000))), document.ErrCorrupt)
	wantText(t, "f.xlsx", withPart(xlsx, "xl/styles.xml", styles("#,##0.00")), "## Sheet1\nhello")
}

// A part in an encoding other than UTF-8, which excelize converts, is
// checked as converted: in UTF-16, text can hold the bytes of "</" and
// ">" (U+2F3C, U+003E) that a reading of the raw bytes takes for end
// tags.
func TestXLSXOtherEncoding(t *testing.T) {
	utf16le := func(s string) []byte {
		var b []byte
		for _, r := range s {
			b = append(b, byte(r), byte(r>>8))
		}
		return b
	}
	sheet := func(body string) []byte {
		return append([]byte(`<?xml version="1.0" encoding="utf-16le"?>`), utf16le(strings.TrimPrefix(sheetRoot, `<?xml version="1.0" encoding="UTF-8"?>`)+body+sheetEnd)...)
	}
	xlsx := documenttest.XLSX(documenttest.Sheet{Name: "Sheet1", Rows: [][]string{{"hello"}}})
	wantErr(t, "f.xlsx", withPart(xlsx, "xl/worksheets/sheet1.xml", sheet(strings.Repeat("<a>\u2f3c>", 100_000))), document.ErrCorrupt)
	wantText(t, "f.xlsx", withPart(xlsx, "xl/worksheets/sheet1.xml", sheet("")), "## Sheet1\nx")
}
