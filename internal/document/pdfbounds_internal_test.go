package document

import (
	"errors"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/document/documenttest"
	"github.com/ledongthuc/pdf"
)

// The file as the library reads it fails a read made under too deep a
// stack, whatever the recursion, and every read once its budget is spent.
func TestStackBoundedFile(t *testing.T) {
	data := documenttest.PDF("Hello")
	f := newStackBoundedFile(data)
	var recurse func(n int) error
	recurse = func(n int) error {
		if n == 0 {
			_, err := f.ReadAt(make([]byte, 4), 0)
			return err
		}
		return recurse(n - 1)
	}
	if err := recurse(10); err != nil {
		t.Fatalf("a read 10 frames deep: %v", err)
	}
	if err := recurse(maxPDFStackFrames); !errors.Is(err, errPDFRecursion) {
		t.Fatalf("a read %d frames deep: %v", maxPDFStackFrames, err)
	}

	f = newStackBoundedFile(data)
	f.budget = 100
	if _, err := pdf.NewReader(f, int64(len(data))); err == nil || !f.spent() {
		t.Fatalf("a file of 100 bytes of reads: %v, spent %v", err, f.spent())
	}
	if _, err := f.ReadAt(make([]byte, 1), 0); !errors.Is(err, errPDFWork) || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a read once spent: %v", err)
	}
}
