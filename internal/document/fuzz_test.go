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
	f.Fuzz(func(t *testing.T, data []byte) { checkExtract(t, "f.docx", data) })
}

func FuzzExtractPPTX(f *testing.F) {
	failOnOwnPanic(f)
	f.Add(documenttest.PPTX([]string{"一", "二"}, []string{"三"}))
	f.Add(documenttest.Zip(documenttest.ZipEntry{Name: "ppt/slides/slide1.xml", Data: documenttest.PPTXSlide("x")}))
	f.Fuzz(func(t *testing.T, data []byte) { checkExtract(t, "f.pptx", data) })
}

func FuzzExtractXLSX(f *testing.F) {
	failOnOwnPanic(f)
	f.Add(documenttest.XLSX(documenttest.Sheet{Name: "销售", Rows: [][]string{{"产品", "数量"}, {"苹果", "3"}}}, documenttest.Sheet{Name: "S2", Rows: [][]string{{"", "x"}}}))
	f.Add(documenttest.XLSX())
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
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, content []byte) { checkExtract(t, "f.pdf", documenttest.PDFContent(content)) })
}

// FuzzDOCXBody fuzzes the WordprocessingML walker with well-zipped parts.
func FuzzDOCXBody(f *testing.F) {
	failOnOwnPanic(f)
	f.Add(`<w:p><w:r><w:t>a</w:t><w:tab/><w:br/></w:r></w:p>`)
	f.Add(`<w:tbl><w:tr><w:tc><w:p><w:r><w:t>a</w:t></w:r></w:p></w:tc><w:tc><w:p/></w:tc></w:tr></w:tbl>`)
	f.Add(`<w:p><w:r><mc:AlternateContent xmlns:mc="m"><mc:Choice><w:t>x</w:t></mc:Choice><mc:Fallback><w:t>y</w:t></mc:Fallback></mc:AlternateContent></w:r></w:p>`)
	f.Fuzz(func(t *testing.T, body string) { checkExtract(t, "f.docx", documenttest.DOCXBody(body)) })
}
