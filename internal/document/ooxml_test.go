package document_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/document"
	"github.com/dingtalk-llm/fcrobot/internal/document/documenttest"
)

func TestPPTXSlideOrder(t *testing.T) {
	var slides [][]string
	var want []string
	for i := 1; i <= 12; i++ {
		slides = append(slides, []string{fmt.Sprintf("第%d张", i)})
		want = append(want, fmt.Sprintf("--- 第 %d 页 ---\n第%d张", i, i))
	}
	doc, err := document.Extract("deck.pptx", documenttest.PPTX(slides...))
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(want, "\n\n"); doc.Text != w {
		t.Errorf("Text =\n%s\nwant\n%s", doc.Text, w)
	}

	// Without a slide list, the numbers of the part names give the order.
	doc, err = document.Extract("bare.pptx", documenttest.Zip(
		documenttest.ZipEntry{Name: "ppt/slides/slide10.xml", Data: documenttest.PPTXSlide("ten")},
		documenttest.ZipEntry{Name: "ppt/slides/slide2.xml", Data: documenttest.PPTXSlide("two")},
		documenttest.ZipEntry{Name: "ppt/slides/slide1.xml", Data: documenttest.PPTXSlide("one")},
		documenttest.ZipEntry{Name: "ppt/slides/_rels/slide1.xml.rels", Data: []byte("<Relationships/>")},
	))
	if err != nil {
		t.Fatal(err)
	}
	if w := "--- 第 1 页 ---\none\n\n--- 第 2 页 ---\ntwo\n\n--- 第 3 页 ---\nten"; doc.Text != w {
		t.Errorf("Text = %q, want %q", doc.Text, w)
	}

	// A slide moved in the editor keeps its part name: the slide list wins.
	moved := documenttest.PPTX([]string{"A"}, []string{"B"})
	moved = rezip(t, moved, func(name string, data []byte) []byte {
		if name == "ppt/presentation.xml" {
			return bytes.Replace(data, []byte(`<p:sldId id="256" r:id="rId2"/><p:sldId id="257" r:id="rId3"/>`),
				[]byte(`<p:sldId id="257" r:id="rId3"/><p:sldId id="256" r:id="rId2"/>`), 1)
		}
		return data
	})
	doc, err = document.Extract("moved.pptx", moved)
	if err != nil {
		t.Fatal(err)
	}
	if w := "--- 第 1 页 ---\nB\n\n--- 第 2 页 ---\nA"; doc.Text != w {
		t.Errorf("Text = %q, want %q", doc.Text, w)
	}
}

func TestPPTXTable(t *testing.T) {
	slide := `<p:sld xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:cSld><p:spTree>` +
		`<p:graphicFrame><a:graphic><a:graphicData><a:tbl>` +
		`<a:tr><a:tc><a:txBody><a:p><a:r><a:t>季度</a:t></a:r></a:p></a:txBody></a:tc><a:tc><a:txBody><a:p><a:r><a:t>收入</a:t></a:r></a:p></a:txBody></a:tc></a:tr>` +
		`<a:tr><a:tc><a:txBody><a:p><a:r><a:t>Q1</a:t></a:r></a:p></a:txBody></a:tc><a:tc><a:txBody><a:p><a:r><a:t>100</a:t></a:r><a:br/><a:r><a:t>万</a:t></a:r></a:p></a:txBody></a:tc></a:tr>` +
		`</a:tbl></a:graphicData></a:graphic></p:graphicFrame>` +
		`<p:sp><p:txBody><a:p><a:pPr><a:tabLst><a:tab pos="0"/></a:tabLst></a:pPr><a:r><a:t>备注</a:t></a:r><a:fld type="slidenum"><a:t>1</a:t></a:fld></a:p></p:txBody></p:sp>` +
		`</p:spTree></p:cSld></p:sld>`
	doc, err := document.Extract("t.pptx", documenttest.Zip(documenttest.ZipEntry{Name: "ppt/slides/slide1.xml", Data: []byte(slide)}))
	if err != nil {
		t.Fatal(err)
	}
	if w := "--- 第 1 页 ---\n季度\t收入\nQ1\t100\n万\n备注1"; doc.Text != w {
		t.Errorf("Text = %q, want %q", doc.Text, w)
	}
}

func TestDOCXNotes(t *testing.T) {
	docx := rezip(t, documenttest.DOCX("正文"), nil, documenttest.ZipEntry{Name: "word/footnotes.xml", Data: []byte(
		`<w:footnotes xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">` +
			`<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>` +
			`<w:footnote w:id="1"><w:p><w:r><w:t>脚注</w:t></w:r></w:p></w:footnote></w:footnotes>`)})
	doc, err := document.Extract("notes.docx", docx)
	if err != nil {
		t.Fatal(err)
	}
	if w := "正文\n\n脚注"; doc.Text != w {
		t.Errorf("Text = %q, want %q", doc.Text, w)
	}
}

// TestZipBombs checks that an archive expanding past the bounds is refused
// without allocating what it expands to.
func TestZipBombs(t *testing.T) {
	const size = 200 << 20
	start := time.Now()
	docxBomb := documenttest.ZipBomb("word/document.xml", size)
	xlsxBomb := documenttest.ZipBomb("xl/worksheets/sheet1.xml", size)
	pptxBomb := documenttest.ZipBomb("ppt/slides/slide1.xml", size)
	t.Logf("bombs of %d MiB: %d bytes, built in %v", size>>20, len(docxBomb), time.Since(start))
	if len(docxBomb) > 1<<20 {
		t.Errorf("the bomb is %d bytes", len(docxBomb))
	}
	if r, err := zip.NewReader(bytes.NewReader(docxBomb), int64(len(docxBomb))); err != nil {
		t.Fatal(err)
	} else if got := r.File[len(r.File)-1].UncompressedSize64; got != size {
		t.Errorf("the bomb declares %d bytes, want %d", got, size)
	}

	for name, data := range map[string][]byte{"bomb.docx": docxBomb, "bomb.xlsx": xlsxBomb, "bomb.pptx": pptxBomb} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err := document.Extract(name, data)
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, document.ErrTooLarge) {
			t.Errorf("%s: %v, want ErrTooLarge", name, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
			t.Errorf("%s: allocated %d MiB", name, alloc>>20)
		}
		// How fast is a benchmark's to say (BenchmarkBombOOXML): on a
		// shared machine a time is no verdict. What was allocated is.
		t.Logf("%s: refused in %v", name, elapsed)
	}

	// An archive that declares less than it holds passes the check of the
	// declared sizes, but not archive/zip's, at the declared size.
	liar := lyingZip(t, docxBomb, 1<<20)
	if _, err := document.Extract("liar.docx", liar); !errors.Is(err, document.ErrCorrupt) {
		t.Errorf("liar.docx: %v, want ErrCorrupt", err)
	}

	// Within the declared bound, a bomb of text stops at MaxRunes.
	small := documenttest.ZipBomb("word/document.xml", 60<<20)
	doc, err := document.Extract("small.docx", small)
	if err != nil || !doc.Truncated {
		t.Errorf("small.docx: Truncated %v, %v", doc.Truncated, err)
	}
}

func TestZipEntries(t *testing.T) {
	entries := []documenttest.ZipEntry{{Name: "word/document.xml", Data: []byte(`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>x</w:t></w:r></w:p></w:body></w:document>`)}}
	for i := len(entries); i <= document.MaxZipEntries; i++ {
		entries = append(entries, documenttest.ZipEntry{Name: fmt.Sprintf("customXml/item%d.xml", i)})
	}
	for _, name := range []string{"many.docx", "many.xlsx", "many.pptx"} {
		if _, err := document.Extract(name, documenttest.Zip(entries...)); !errors.Is(err, document.ErrTooLarge) {
			t.Errorf("%s: %d entries: %v, want ErrTooLarge", name, len(entries), err)
		}
	}
	if _, err := document.Extract("enough.docx", documenttest.Zip(entries[:document.MaxZipEntries]...)); err != nil {
		t.Errorf("%d entries: %v", document.MaxZipEntries, err)
	}
}

// rezip returns the archive data with each entry passed through edit
// (when not nil), and the entries extra added.
func rezip(t *testing.T, data []byte, edit func(name string, data []byte) []byte, extra ...documenttest.ZipEntry) []byte {
	t.Helper()
	r, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var entries []documenttest.ZipEntry
	for _, f := range r.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if _, err := b.ReadFrom(rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		body := b.Bytes()
		if edit != nil {
			body = edit(f.Name, body)
		}
		entries = append(entries, documenttest.ZipEntry{Name: f.Name, Data: body})
	}
	return documenttest.Zip(append(entries, extra...)...)
}

// lyingZip returns the archive data with the last entry declaring that it
// expands to declared bytes, whatever it holds.
func lyingZip(t *testing.T, data []byte, declared uint64) []byte {
	t.Helper()
	r, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for i, f := range r.File {
		h := f.FileHeader
		if i == len(r.File)-1 {
			h.UncompressedSize64 = declared
		}
		w, err := zw.CreateRaw(&h)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := f.OpenRaw()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, raw); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestXLSXStoredOLEObject checks a workbook whose zip stores an embedded
// OLE object uncompressed, compound-file signature and all, which excelize
// alone takes for an encrypted workbook.
func TestXLSXStoredOLEObject(t *testing.T) {
	book := documenttest.XLSX(documenttest.Sheet{Name: "S", Rows: [][]string{{"有嵌入对象"}}})
	r, err := zip.NewReader(bytes.NewReader(book), int64(len(book)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range r.File {
		w, err := zw.CreateRaw(&f.FileHeader)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := f.OpenRaw()
		io.Copy(w, raw)
	}
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "xl/embeddings/oleObject1.bin", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(documenttest.EncryptedOOXML()[:512])
	zw.Close()

	doc, err := document.Extract("ole.xlsx", out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if want := "## S\n有嵌入对象"; doc.Text != want {
		t.Errorf("Text = %q, want %q", doc.Text, want)
	}
}
