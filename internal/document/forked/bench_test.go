package forked_test

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/document"
	"github.com/dingtalk-llm/fcrobot/internal/document/documenttest"
	"github.com/dingtalk-llm/fcrobot/internal/document/forked"
)

// BenchmarkRead reads a one-page PDF of 40 lines, half CJK, in this
// process and in a child: the difference is what the child costs a file.
// The child is this test binary, or the program FORKED_BENCH_CHILD names
// (cmd/bench gives the reply program as FC runs it). child-cpu-ns is the
// CPU time the children used, per file.
func BenchmarkRead(b *testing.B) {
	lines := make([]string, 40)
	for i := range lines {
		if i%2 == 0 {
			lines[i] = fmt.Sprintf("第%d行：银行对账单的交易明细", i)
		} else {
			lines[i] = fmt.Sprintf("line %d: ASCII text of a statement", i)
		}
	}
	f, err := os.Create(b.TempDir() + "/statement.pdf")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(documenttest.PDF(lines...)); err != nil {
		b.Fatal(err)
	}
	program := os.Getenv("FORKED_BENCH_CHILD")
	if program == "" {
		if program, err = os.Executable(); err != nil {
			b.Fatal(err)
		}
	}
	for _, r := range []struct {
		name   string
		reader interface {
			Read(ctx context.Context, name string, f *os.File) (string, bool, error)
		}
	}{
		{"in-process", document.Reader{}},
		{"child", forked.Reader{Program: program, TempDir: b.TempDir()}},
	} {
		b.Run("reader="+r.name, func(b *testing.B) {
			before := childrenCPU()
			for b.Loop() {
				if _, _, err := r.reader.Read(b.Context(), "statement.pdf", f); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(childrenCPU()-before)/float64(b.N), "child-cpu-ns/op")
		})
	}
}

// childrenCPU is the CPU time of the children of this process that ended.
func childrenCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
