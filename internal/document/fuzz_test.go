package document_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/document"
	"github.com/dingtalk-llm/fcrobot/internal/document/documenttest"
)

var sentinels = []error{
	document.ErrUnsupported, document.ErrCorrupt, document.ErrNoText,
	document.ErrEncrypted, document.ErrUnreadableFont, document.ErrTooLarge,
}

// checkExtract extracts data as the file name and checks what any file
// must give: an error that matches a sentinel, or a text that is
// non-empty, valid UTF-8, free of control characters but tabs and line
// ends, and at most MaxRunes long.
func checkExtract(t *testing.T, name string, data []byte) {
	t.Helper()
	doc, err := document.Extract(name, data)
	if err != nil {
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("the error matches no sentinel: %v", err)
	}
	kind, _ := document.KindOf(name)
	switch {
	case doc.Kind != kind:
		t.Fatalf("Kind %q, want %q", doc.Kind, kind)
	case doc.Text == "":
		t.Fatal("empty text")
	case !utf8.ValidString(doc.Text):
		t.Fatalf("invalid UTF-8: %q", doc.Text)
	case utf8.RuneCountInString(doc.Text) > document.MaxRunes:
		t.Fatalf("%d runes", utf8.RuneCountInString(doc.Text))
	case strings.TrimSpace(doc.Text) != doc.Text && !(kind == document.Text && strings.TrimRight(doc.Text, " \t\n") == doc.Text):
		t.Fatalf("untrimmed: %q", doc.Text)
	}
	for _, r := range doc.Text {
		if unicode.IsControl(r) && r != '\t' && r != '\n' {
			t.Fatalf("control character %U in %q", r, doc.Text)
		}
	}
}

// failOnOwnPanic makes a panic recovered by Extract crash the fuzz target
// if it was raised by this package's own code, not by a library's: the
// libraries panic on malformed input by design, this package must not.
func failOnOwnPanic(f *testing.F) {
	restore := document.SetPanicHook(func(p any) {
		if culprit := panicCulprit(debug.Stack()); strings.HasPrefix(culprit, "github.com/dingtalk-llm/fcrobot/internal/document.") {
			panic(fmt.Sprintf("panic in %s: %v", culprit, p))
		}
	})
	f.Cleanup(restore)
}

// panicCulprit returns the function that raised the panic being recovered,
// from the stack of the recovering goroutine: the first frame under the
// panic that is not the runtime's.
func panicCulprit(stack []byte) string {
	s := bufio.NewScanner(bytes.NewReader(stack))
	s.Buffer(nil, 1<<20)
	panicking := false
	for s.Scan() {
		line := s.Text()
		switch {
		case strings.HasPrefix(line, "\t"):
		case strings.HasPrefix(line, "panic("):
			panicking = true
		case panicking && !strings.HasPrefix(line, "runtime."):
			return line
		}
	}
	return ""
}

func FuzzExtractText(f *testing.F) {
	failOnOwnPanic(f)
	for _, seed := range [][]byte{
		[]byte("你好，世界\r\n第二段"), documenttest.GBK("姓名,城市\n张三,北京"),
		append([]byte{0xFF, 0xFE}, utf16le("hi 你好")...), append([]byte{0xFE, 0xFF}, utf16be("hi")...),
		{0xEF, 0xBB, 0xBF, 'a'}, {0xFF, 0xFE, 0, 0, 'a', 0, 0, 0}, utf16le("no BOM at all"), {0, 1, 2, 3}, nil,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkExtract(t, "f.txt", data) })
}

func FuzzExtractHTML(f *testing.F) {
	failOnOwnPanic(f)
	f.Add([]byte(`<html><head><title>T</title><script>x</script></head><body><p>a<br>b</p><table><tr><td>1<td>2</table><pre> x
y</pre></body></html>`))
	f.Add(documenttest.GBK("<p>简体</p>"))
	f.Add([]byte("<template><p>x</template><textarea>a\nb</textarea>&amp;&#x4F60;"))
	f.Fuzz(func(t *testing.T, data []byte) { checkExtract(t, "f.html", data) })
}

func FuzzExtractDOCX(f *testing.F) {
	failOnOwnPanic(f)
	f.Add(documenttest.DOCX("你好，世界", "a\tb", "x\ny"))
	f.Add(documenttest.DOCXBody(`<w:tbl><w:tr><w:tc><w:p><w:r><w:t>a</w:t></w:r></w:p></w:tc></w:tr></w:tbl>`))
	f.Add(documenttest.EncryptedOOXML())
	addOOXMLBombSeeds(f, "f.docx")
	f.Fuzz(func(t *testing.T, data []byte) { checkExtract(t, "f.docx", data) })
}

func FuzzExtractPPTX(f *testing.F) {
	failOnOwnPanic(f)
	f.Add(documenttest.PPTX([]string{"一", "二"}, []string{"三"}))
	f.Add(documenttest.Zip(documenttest.ZipEntry{Name: "ppt/slides/slide1.xml", Data: documenttest.PPTXSlide("x")}))
	addOOXMLBombSeeds(f, "f.pptx")
	f.Fuzz(func(t *testing.T, data []byte) { checkExtract(t, "f.pptx", data) })
}

func FuzzExtractXLSX(f *testing.F) {
	failOnOwnPanic(f)
	f.Add(documenttest.XLSX(documenttest.Sheet{Name: "销售", Rows: [][]string{{"产品", "数量"}, {"苹果", "3"}}}, documenttest.Sheet{Name: "S2", Rows: [][]string{{"", "x"}}}))
	f.Add(documenttest.XLSX())
	addOOXMLBombSeeds(f, "f.xlsx")
	f.Fuzz(func(t *testing.T, data []byte) { checkExtract(t, "f.xlsx", data) })
}

func FuzzExtractPDF(f *testing.F) {
	failOnOwnPanic(f)
	f.Add(documenttest.PDF("Hello, world", "你好，世界"))
	f.Add(documenttest.PDFWithCMap("GBK-EUC-H", "你好"))
	f.Add(documenttest.PDFIdentityToUnicode("你好", "abc"))
	f.Add(documenttest.PDFIdentityNoToUnicode("你好"))
	f.Add(documenttest.PDFContent([]byte("BT /F3 12 Tf 72 700 Td <000100020003> Tj ET /Fm1 Do")))
	f.Add(documenttest.EncryptedPDF())
	// hostile structures: deep nesting, loops, truncation, recursion
	f.Add(rawObjectPDF(deepArrays(300)))
	f.Add(rawObjectPDF(deepDicts(300)))
	f.Add(rawObjectPDF(strings.Repeat("[", 300)))
	f.Add(contentPDF([]byte(deepMixed(1 << 16))))
	f.Add(objStmPDF("", nil, 0, false))
	f.Add(objStmChain(1, true))
	f.Add(objStmChain(2, true))
	f.Add(objStmChain(3, false))
	f.Add(objStmChain(40, false))
	f.Add(objStmPDF("", []byte("6 0 <41 42"), 4, false))
	f.Add(objStmPDF("/Length 7", []byte("6 0 <41>"), 4, false))
	f.Add(objStmPDF("/Length 6 0 R", nil, 0, false))
	f.Add(objStmPDF(fmt.Sprintf("/N %d", 1<<30), nil, 0, false))
	f.Fuzz(func(t *testing.T, data []byte) { checkExtract(t, "f.pdf", data) })
}

// FuzzPDFContent fuzzes the content interpreter: mutations of a whole PDF
// mostly break its cross-reference offsets and stop at the library.
func FuzzPDFContent(f *testing.F) {
	failOnOwnPanic(f)
	for _, seed := range []string{
		`BT /F1 12 Tf 14 TL 72 700 Td [(Hello) -250 (World)] TJ T* (next) ' 1 2 (q) " ET`,
		`q 1 0 0 1 72 700 cm BT /F2 12 Tf 1 0 0 1 0 0 Tm <4F60597D> Tj ET Q /Fm1 Do`,
		`BT /F3 12 Tf 72 700 Td <00010002> Tj /F4 9 Tf <00050006> Tj 2 Tc 3 Tw 50 Tz 1 Ts ET`,
		"BI /W 1 /H 1 ID \x00\xff EI BT (x) Tj ET",
		`/Span << /MCID 0 /Nested << /A [1 2 [3]] >> >> BDC EMC`,
		// hostile structures: deep nesting, truncation, huge sizes
		deepArrays(300), deepDicts(300), deepMixed(300), strings.Repeat("[", 1000),
		"BT /F1 12 Tf [(a) " + deepArrays(40) + " (b)] TJ ET",
		"BT /F1 12 Tf <41", "BT /F1 12 Tf (a", "BT /F1 12 Tf [(a) <", "<< /A <<",
		"BT /F1 1e308 Tf 1e308 Tz (x) Tj 99999999999 TL T* ET",
		strings.Repeat("q ", 100) + "BT /F1 12 Tf (x) Tj ET" + strings.Repeat(" Q", 200),
		strings.Repeat("/Fm1 Do ", 50),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, content []byte) { checkExtract(t, "f.pdf", documenttest.PDFContent(content)) })
}

// FuzzPDFObjectStream fuzzes the data of an object stream that holds the
// page's resources (object 6), raw and compressed: what the library reads
// of it, after this package's checks, must not loop or recurse.
func FuzzPDFObjectStream(f *testing.F) {
	failOnOwnPanic(f)
	data, first := objectStreamData([]int{6}, []string{resources})
	f.Add(data, first, true)
	f.Add(data, first, false)
	for _, seed := range []string{"6 0 <41 42", "6 0 <", "6 0 [<41", "6 0 (a", "6 0 " + deepArrays(300), "6 0 " + deepDicts(300), "6 0 7 0 R", "6 9999999999 <<>>"} {
		f.Add([]byte(seed), 4, true)
		f.Add([]byte(seed), 4, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, first int, compress bool) {
		checkExtract(t, "f.pdf", objStmPDF("", data, first, compress))
	})
}

// addOOXMLBombSeeds adds, as seeds, the Office files of kind name's
// extension with XML bombs (made small: a fuzz corpus of megabytes would
// slow every run) in each part read.
func addOOXMLBombSeeds(f *testing.F, name string) {
	bombs := []string{
		deepXML("<a>", "</a>", 600), strings.Repeat("<a>", 600), "<x" + strings.Repeat(` a=""`, 600) + "/>",
		deepXML(`<b:a xmlns:b="u">`, "</b:a>", 600), `<x a="` + strings.Repeat("v", 4096),
	}
	for _, place := range ooxmlPlaces() {
		if place.name != name {
			continue
		}
		for _, bomb := range bombs {
			f.Add(withPart(place.base, place.part, []byte(place.head+bomb+place.tail)))
		}
	}
}

// FuzzDOCXBody fuzzes the WordprocessingML walker with well-zipped parts.
func FuzzDOCXBody(f *testing.F) {
	failOnOwnPanic(f)
	f.Add(`<w:p><w:r><w:t>a</w:t><w:tab/><w:br/></w:r></w:p>`)
	f.Add(`<w:tbl><w:tr><w:tc><w:p><w:r><w:t>a</w:t></w:r></w:p></w:tc><w:tc><w:p/></w:tc></w:tr></w:tbl>`)
	f.Add(`<w:p><w:r><mc:AlternateContent xmlns:mc="m"><mc:Choice><w:t>x</w:t></mc:Choice><mc:Fallback><w:t>y</w:t></mc:Fallback></mc:AlternateContent></w:r></w:p>`)
	// hostile structures: deep nesting, many attributes, truncation
	f.Add(deepXML("<w:p>", "</w:p>", 600))
	f.Add(strings.Repeat("<w:p>", 600))
	f.Add(`<mc:Fallback xmlns:mc="m">` + deepXML("<a>", "</a>", 600) + `</mc:Fallback>`)
	f.Add("<w:p" + strings.Repeat(` a=""`, 600) + "/>")
	f.Add("<w:p" + strings.Repeat(` xmlns:a="u"`, 600) + "/>")
	f.Add(`<!-- <w:p a="` + strings.Repeat("=", 600) + ` --><w:p><w:r><w:t>x</w:t></w:r></w:p>`)
	f.Add(`<w:p><w:r><w:t><![CDATA[<a b="]]></w:t></w:r></w:p>`)
	f.Add(`<w:p a=">" b='>'><w:r><w:t>x`)
	f.Fuzz(func(t *testing.T, body string) { checkExtract(t, "f.docx", documenttest.DOCXBody(body)) })
}
