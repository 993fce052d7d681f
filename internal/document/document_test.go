package document_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/document"
	"github.com/dingtalk-llm/fcrobot/internal/document/documenttest"
)

func TestKindOf(t *testing.T) {
	for name, want := range map[string]document.Kind{
		"notes.txt": document.Text, "README.MD": document.Text, "data.csv": document.Text,
		"main.go": document.Text, ".env": document.Text, "dir/script.PY": document.Text,
		`C:\docs\config.yaml`: document.Text, "page.htm": document.HTML, "index.HTML": document.HTML,
		"报告.pdf": document.PDF, "合同.DOCX": document.DOCX, "slides.pptx": document.PPTX,
		"表格.xlsx": document.XLSX, " spaced.txt ": document.Text,
	} {
		if got, ok := document.KindOf(name); !ok || got != want {
			t.Errorf("KindOf(%q) = %q, %v; want %q, true", name, got, ok, want)
		}
	}
	for _, name := range []string{
		"old.doc", "old.XLS", "old.ppt", "photo.jpg", "archive.zip", "archive.tar.gz",
		"Makefile", "trailing.", "", "a.exe", "a.txt.exe", "movie.mp4", "wps.wps",
	} {
		if got, ok := document.KindOf(name); ok {
			t.Errorf("KindOf(%q) = %q, true; want false", name, got)
		}
	}
}

func TestExtract(t *testing.T) {
	longCell := strings.Repeat("长", 300)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		// plain text
		{"hello.txt", []byte("你好，世界\n第二段\n"), "你好，世界\n第二段"},
		{"crlf.txt", []byte("one\r\ntwo\rthree\n\r\nfour"), "one\ntwo\nthree\n\nfour"},
		{"bom8.txt", []byte("\xEF\xBB\xBF你好"), "你好"},
		{"bom16le.txt", append([]byte{0xFF, 0xFE}, utf16le("你好，世界\r\nhi")...), "你好，世界\nhi"},
		{"bom16be.txt", append([]byte{0xFE, 0xFF}, utf16be("你好，世界")...), "你好，世界"},
		{"nobom16.txt", utf16le("plain ASCII text saved as Unicode by Notepad\r\n"), "plain ASCII text saved as Unicode by Notepad"},
		{"gbk.csv", documenttest.GBK("姓名,城市\r\n张三,北京\r\n李四,上海\r\n"), "姓名,城市\n张三,北京\n李四,上海"},
		{"gbk.txt", documenttest.GBK("中文的记事本文件，保存为 ANSI。"), "中文的记事本文件，保存为 ANSI。"},
		{"code.py", []byte("\n\n    indented = True\n\tx = 1  \n\n"), "    indented = True\n\tx = 1"},
		{"controls.log", []byte(strings.Repeat("log line\n", 20) + "ok\x00 \x1b[32mgreen\x1b[0m\x07"), strings.Repeat("log line\n", 20) + "ok [32mgreen[0m"},
		{"cut.txt", []byte("utf-8 cut in the middle of 你"[:len("utf-8 cut in the middle of 你")-1]), "utf-8 cut in the middle of"},

		// HTML
		{"page.html", []byte(`<!DOCTYPE html><html><head><title>标题</title><style>p{color:red}</style>
			<script>var secret = "no";</script></head><body><h1>你好</h1>
			<p>第一段   <b>加粗</b>
			继续</p><noscript>no script</noscript><template><p>hidden</p></template>
			<table><tr><th>名</th><th>值</th></tr><tr><td>a<td>1</table>
			<ul><li>一<li>二</ul>a<br>b<pre>  x
  y</pre>&lt;tag&gt; &amp; &#20320;</body></html>`),
			"标题\n你好\n第一段 加粗 继续\n名\t值\na\t1\n一\n二\na\nb\nx\ny\n<tag> & 你"},
		{"gbk.htm", documenttest.GBK("<p>简体中文网页</p><p>第二段</p>"), "简体中文网页\n第二段"},

		// Word
		{"doc.docx", documenttest.DOCX("你好，世界", "第二段", "姓名\t张三", "line one\nline two"), "你好，世界\n第二段\n姓名\t张三\nline one\nline two"},
		{"blank.docx", documenttest.DOCX("one", "", "", "", "two"), "one\n\ntwo"},
		{"table.docx", documenttest.DOCXBody(`<w:p><w:r><w:t>before</w:t></w:r></w:p><w:tbl>` +
			`<w:tr><w:tc><w:p><w:r><w:t>姓名</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>张三</w:t></w:r></w:p><w:p><w:r><w:t>李四</w:t></w:r></w:p></w:tc></w:tr>` +
			`<w:tr><w:tc><w:p/></w:tc><w:tc><w:p><w:r><w:t>` + longCell + `</w:t></w:r></w:p></w:tc></w:tr>` +
			`<w:tr><w:tc><w:p/></w:tc><w:tc><w:p/></w:tc></w:tr>` +
			`</w:tbl><w:p><w:r><w:t>after</w:t></w:r></w:p>`),
			"before\n姓名\t张三 李四\n\t" + longCell + "\nafter"},
		{"runs.docx", documenttest.DOCXBody(`<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>` +
			`<w:r><w:t xml:space="preserve">Hel</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>lo</w:t></w:r>` +
			`<w:del><w:r><w:delText>deleted</w:delText></w:r></w:del>` +
			`<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> PAGE </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>1</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>` +
			`<w:r><w:t>-to</w:t><w:noBreakHyphen/><w:t>do</w:t></w:r></w:p>`), "Hello1-to-do"},
		{"textbox.docx", documenttest.DOCXBody(`<w:p><w:r><w:t>正文</w:t></w:r><w:r><mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">` +
			`<mc:Choice Requires="wps"><w:drawing><w:txbxContent><w:p><w:r><w:t>文本框</w:t></w:r></w:p></w:txbxContent></w:drawing></mc:Choice>` +
			`<mc:Fallback><w:pict><w:txbxContent><w:p><w:r><w:t>文本框</w:t></w:r></w:p></w:txbxContent></w:pict></mc:Fallback>` +
			`</mc:AlternateContent></w:r></w:p>`), "正文文本框"},

		// PowerPoint
		{"deck.pptx", documenttest.PPTX([]string{"标题页", "副标题"}, nil, []string{"第三页 & <更多>"}),
			"--- 第 1 页 ---\n标题页\n副标题\n\n--- 第 2 页 ---\n\n--- 第 3 页 ---\n第三页 & <更多>"},

		// Excel
		{"book.xlsx", documenttest.XLSX(
			documenttest.Sheet{Name: "销售", Rows: [][]string{{"产品", "数量", ""}, {"苹果", "3"}, {}, {"", ""}, {"", "缺名"}, {"多行\n单元格", "x\ty"}}},
			documenttest.Sheet{Name: "空表"},
			documenttest.Sheet{Name: "Summary", Rows: [][]string{{"total", "", "8"}}}),
			"## 销售\n产品\t数量\n苹果\t3\n\t缺名\n多行 单元格\tx y\n\n## Summary\ntotal\t\t8"},

		// PDF
		{"ascii.pdf", documenttest.PDF("Hello, world", "(parens) and \\backslash"), "Hello, world\n(parens) and \\backslash"},
		{"cjk.pdf", documenttest.PDF("你好，世界", "第二段", "mixed 中文 text"), "你好，世界\n第二段\nmixed 中文 text"},
		{"toUnicode.pdf", documenttest.PDFIdentityToUnicode("你好，世界", "abcdefg", "第二段"), "你好，世界\nabcdefg\n第二段"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := document.Extract(tt.name, tt.data)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if doc.Text != tt.want {
				t.Errorf("Text =\n%q\nwant\n%q", doc.Text, tt.want)
			}
			if kind, _ := document.KindOf(tt.name); doc.Kind != kind {
				t.Errorf("Kind = %q, want %q", doc.Kind, kind)
			}
			if doc.Truncated {
				t.Error("Truncated")
			}
		})
	}
}

// TestPDFCMaps proves that text through each predefined CMap that the PDF
// library leaves undecoded comes out as it went in.
func TestPDFCMaps(t *testing.T) {
	zh := []string{"你好，世界", "第二段 with ASCII 123"}
	tests := map[string][]string{
		"UniGB-UCS2-H": zh, "UniGB-UTF16-H": zh, "UniGB-UCS2-V": zh[:1], "UniGB-UTF16-V": zh[:1],
		"GBK-EUC-H": zh, "GBK-EUC-V": zh[:1], "GB-EUC-H": zh, "GBpc-EUC-H": zh, "GBKp-EUC-H": zh, "GBK2K-H": {"𠀀 in GB18030", "你好"},
		"UniCNS-UCS2-H": {"繁體中文"}, "UniCNS-UTF16-H": {"繁體中文"}, "B5pc-H": {"繁體中文", "第二行"}, "ETen-B5-H": {"繁體中文"},
		"UniJIS-UCS2-H": {"こんにちは"}, "90ms-RKSJ-H": {"こんにちは世界"}, "EUC-H": {"日本語"},
		"UniKS-UCS2-H": {"안녕하세요"}, "KSCms-UHC-H": {"안녕하세요"}, "KSC-EUC-H": {"한국어"},
	}
	for cmap, lines := range tests {
		t.Run(cmap, func(t *testing.T) {
			doc, err := document.Extract("a.pdf", documenttest.PDFWithCMap(cmap, lines...))
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.Join(lines, "\n"); doc.Text != want {
				t.Errorf("Text = %q, want %q", doc.Text, want)
			}
		})
	}
}

func TestExtractErrors(t *testing.T) {
	random := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	pdf := documenttest.PDF("Hello, world")
	docx := documenttest.DOCX("你好")
	cfbLegacy := append(bytes.Clone(documenttest.EncryptedOOXML()[:8]), make([]byte, 1024)...)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty.txt", nil, document.ErrNoText},
		{"blank.md", []byte(" \r\n\t\n  "), document.ErrNoText},
		{"binary.txt", random, document.ErrCorrupt},
		{"png.txt", append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), random[:512]...), document.ErrCorrupt},
		{"empty.html", []byte("<html><head><script>x()</script></head><body> </body></html>"), document.ErrNoText},
		{"binary.html", random, document.ErrCorrupt},

		{"old.doc", docx, document.ErrUnsupported},
		{"old.xls", nil, document.ErrUnsupported},
		{"image.png", nil, document.ErrUnsupported},

		{"encrypted.docx", documenttest.EncryptedOOXML(), document.ErrEncrypted},
		{"encrypted.xlsx", documenttest.EncryptedOOXML(), document.ErrEncrypted},
		{"encrypted.pptx", documenttest.EncryptedOOXML(), document.ErrEncrypted},
		{"renamed.docx", cfbLegacy, document.ErrUnsupported},
		{"renamed.xlsx", cfbLegacy, document.ErrUnsupported},
		{"notzip.docx", []byte("PK but not really a zip"), document.ErrCorrupt},
		{"pdf.docx", pdf, document.ErrCorrupt},
		{"truncated.docx", docx[:len(docx)/2], document.ErrCorrupt},
		{"nodocument.docx", documenttest.Zip(documenttest.ZipEntry{Name: "[Content_Types].xml", Data: []byte("<Types/>")}), document.ErrCorrupt},
		{"badxml.docx", documenttest.DOCXBody(`<w:p><w:r><w:t>unclosed</w:r></w:p>`), document.ErrCorrupt},
		{"empty.docx", documenttest.DOCX(), document.ErrNoText},
		{"blank.docx", documenttest.DOCX("", " ", "\t"), document.ErrNoText},
		{"noslides.pptx", documenttest.PPTX(), document.ErrNoText},
		{"emptyslides.pptx", documenttest.PPTX(nil, []string{" "}), document.ErrNoText},
		{"notzip.pptx", random, document.ErrCorrupt},
		{"empty.xlsx", documenttest.XLSX(), document.ErrNoText},
		{"blank.xlsx", documenttest.XLSX(documenttest.Sheet{Name: "a", Rows: [][]string{{"", " "}}}), document.ErrNoText},
		{"notzip.xlsx", random, document.ErrCorrupt},
		{"docx.xlsx", docx, document.ErrCorrupt},

		{"garbage.pdf", random, document.ErrCorrupt},
		{"header.pdf", append([]byte("%PDF-1.7\n"), random...), document.ErrCorrupt},
		{"truncated.pdf", pdf[:len(pdf)*2/3], document.ErrCorrupt},
		{"docx.pdf", docx, document.ErrCorrupt},
		{"encrypted.pdf", documenttest.EncryptedPDF(), document.ErrEncrypted},
		{"scanned.pdf", documenttest.PDFContent([]byte("q 595 0 0 842 0 0 cm Q")), document.ErrNoText},
		{"identity.pdf", documenttest.PDFIdentityNoToUnicode("你好，世界", "没有 ToUnicode 的字体", "page 1"), document.ErrUnreadableFont},
		{"identity-mostly.pdf", documenttest.PDFContent([]byte("BT /F1 12 Tf 72 800 Td (Page 1) Tj 0 -20 Td /F4 12 Tf <0003000400050006000700080009> Tj ET")), document.ErrUnreadableFont},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := document.Extract(tt.name, tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Extract = %q, %v; want %v", doc.Text, err, tt.want)
			}
			if doc != (document.Document{}) {
				t.Errorf("Document = %+v with the error", doc)
			}
		})
	}
}

func TestErrorsDoNotQuoteContent(t *testing.T) {
	for name, data := range map[string][]byte{
		"a.docx": documenttest.DOCXBody(`<w:p><w:r><w:t>SECRET &bogusSECRET; text</w:t></w:r></w:p>`),
		"b.docx": documenttest.DOCXBody(`<w:p><w:r><w:SECRET>x</w:t></w:r></w:p>`),
		"c.pdf":  []byte("%PDF-1.4\n1 0 obj SECRET endobj\nxref\nSECRET\ntrailer\n<< /SECRET 1 >>\nstartxref\n9\n%%EOF\n"),
		"d.xlsx": documenttest.Zip(documenttest.ZipEntry{Name: "xl/workbook.xml", Data: []byte("<SECRET")}),
		"e.txt":  append([]byte("SECRET"), make([]byte, 100)...),
	} {
		_, err := document.Extract(name, data)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: the error quotes the file: %v", name, err)
		}
	}
}

func TestTruncated(t *testing.T) {
	line := strings.Repeat("中文", 50) + "\n" // 101 runes
	lines := document.MaxRunes/101 + 100
	big := strings.Repeat(line, lines)
	paragraphs := make([]string, lines)
	for i := range paragraphs {
		paragraphs[i] = line[:len(line)-1]
	}
	for name, data := range map[string][]byte{
		"big.txt":  []byte(big),
		"big.html": []byte("<p>" + strings.ReplaceAll(big, "\n", "</p><p>") + "</p>"),
		"big.docx": documenttest.DOCX(paragraphs...),
		"big.xlsx": documenttest.XLSX(documenttest.Sheet{Name: "big", Rows: [][]string{paragraphs[:lines/2], paragraphs[lines/2:]}}),
		"big.pptx": documenttest.PPTX(paragraphs),
	} {
		t.Run(name, func(t *testing.T) {
			doc, err := document.Extract(name, data)
			if err != nil {
				t.Fatal(err)
			}
			if !doc.Truncated {
				t.Error("not Truncated")
			}
			if n := utf8.RuneCountInString(doc.Text); n > document.MaxRunes || n < document.MaxRunes-200 {
				t.Errorf("%d runes, want about %d", n, document.MaxRunes)
			}
		})
	}

	// Exactly at the bound, or past it with white space only, is not truncated.
	exact := strings.Repeat("a", document.MaxRunes) + " \n\n"
	doc, err := document.Extract("exact.txt", []byte(exact))
	if err != nil || doc.Truncated || len(doc.Text) != document.MaxRunes {
		t.Errorf("exact: %d bytes, Truncated %v, %v", len(doc.Text), doc.Truncated, err)
	}
}

func utf16le(s string) []byte {
	var b []byte
	for _, r := range s { // BMP only, enough here
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

func utf16be(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r>>8), byte(r))
	}
	return b
}
