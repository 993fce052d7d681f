package document_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/document"
	"github.com/dingtalk-llm/fcrobot/internal/document/documenttest"
)

func benchmarkExtract(b *testing.B, name string, data []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := document.Extract(name, data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtractDOCX reads a document of 2,000 paragraphs (about 60,000
// characters).
func BenchmarkExtractDOCX(b *testing.B) {
	paragraphs := make([]string, 2000)
	for i := range paragraphs {
		paragraphs[i] = fmt.Sprintf("第%d段：这是一段用于基准测试的中文文本，with some ASCII\tand a tab.", i)
	}
	benchmarkExtract(b, "bench.docx", documenttest.DOCX(paragraphs...))
}

// BenchmarkExtractPDF reads a page of 40 lines, half CJK through a ToUnicode
// CMap, half ASCII.
func BenchmarkExtractPDF(b *testing.B) {
	lines := make([]string, 40)
	for i := range lines {
		if i%2 == 0 {
			lines[i] = fmt.Sprintf("第%d行：银行对账单的交易明细", i)
		} else {
			lines[i] = fmt.Sprintf("line %d: ASCII text of a statement", i)
		}
	}
	b.Run("ToUnicode", func(b *testing.B) { benchmarkExtract(b, "bench.pdf", documenttest.PDFIdentityToUnicode(lines...)) })
	b.Run("UniGB-UCS2-H", func(b *testing.B) { benchmarkExtract(b, "bench.pdf", documenttest.PDF(lines...)) })
}

// BenchmarkExtractText reads 1 MB of GBK text.
func BenchmarkExtractText(b *testing.B) {
	benchmarkExtract(b, "bench.csv", documenttest.GBK(strings.Repeat("姓名,城市,金额\n张三,北京,100\n", 1<<20/30)))
}

// benchmarkBomb extracts the hostile file data, which must fail with want,
// reporting what each refusal allocates (B/op), and — its point — that
// it is refused in milliseconds, not seconds or never.
func benchmarkBomb(b *testing.B, name string, data []byte, want error) {
	b.ReportAllocs()
	b.ReportMetric(float64(len(data)), "file-bytes")
	for b.Loop() {
		if _, err := document.Extract(name, data); !errors.Is(err, want) {
			b.Fatalf("Extract: %v, want %v", err, want)
		}
	}
}

// BenchmarkBombPDF extracts PDFs of a few kilobytes built to overflow the
// stack, or to loop forever, in the library or in this package.
func BenchmarkBombPDF(b *testing.B) {
	data, first := objectStreamData([]int{6}, []string{"<< /Deep " + deepArrays(5000) + " >>"})
	for _, c := range []struct {
		name string
		data []byte
		want error
	}{
		{"raw arrays 100k deep", rawObjectPDF(deepArrays(100_000)), document.ErrCorrupt},
		{"raw dictionaries 100k deep", rawObjectPDF(deepDicts(100_000)), document.ErrCorrupt},
		{"object stream arrays 5k deep", objStmPDF("", data, first, true), document.ErrCorrupt},
		{"object stream extends itself", objStmChain(1, true), document.ErrCorrupt},
		{"object streams extend each other", objStmChain(2, true), document.ErrCorrupt},
		{"object stream chain of 1000", objStmChain(1000, false), document.ErrCorrupt},
		{"object stream open hex string", objStmPDF("", []byte("6 0 <41 42"), 4, true), document.ErrCorrupt},
		{"object stream length inside itself", objStmPDF("/Length 6 0 R", nil, 0, true), document.ErrCorrupt},
	} {
		b.Run(c.name, func(b *testing.B) { benchmarkBomb(b, "f.pdf", c.data, c.want) })
	}
	// Not refused but read: content arrays nested ten million deep, which
	// are dropped without recursing (ten megabytes of content to lex).
	b.Run("content arrays 10M deep", func(b *testing.B) {
		data := contentPDF([]byte("BT /F1 12 Tf 72 700 Td (Hello) Tj ET " + deepArrays(10<<20)))
		b.ReportAllocs()
		b.ReportMetric(float64(len(data)), "file-bytes")
		for b.Loop() {
			if _, err := document.Extract("f.pdf", data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBombOOXML extracts Office files of about ten kilobytes whose
// XML nests millions deep or has a million attributes on one element:
// refused in milliseconds, allocating a few megabytes (B/op), where the
// decoder alone used to take hundreds.
func BenchmarkBombOOXML(b *testing.B) {
	places := ooxmlPlaces()
	for _, place := range []ooxmlPlace{places[0], places[2], places[4], places[5], places[6]} {
		for _, bomb := range ooxmlBombs()[:6] {
			data := withPart(place.base, place.part, []byte(place.head+bomb.xml+place.tail))
			b.Run(place.part+"/"+bomb.name, func(b *testing.B) { benchmarkBomb(b, place.name, data, bomb.want) })
		}
	}
}

// BenchmarkExtractXLSX reads a sheet of 2,000 rows of five cells: its
// parts are checked within the XML bounds (a pass over their bytes, a
// tenth of the reading), then read by excelize.
func BenchmarkExtractXLSX(b *testing.B) {
	rows := make([][]string, 2000)
	for i := range rows {
		rows[i] = []string{fmt.Sprint(i), "苹果", "北京", fmt.Sprint(i * 3), "x"}
	}
	benchmarkExtract(b, "bench.xlsx", documenttest.XLSX(documenttest.Sheet{Name: "S", Rows: rows}))
}
