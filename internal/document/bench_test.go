package document_test

import (
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
