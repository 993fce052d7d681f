// Package logtest helps tests that read what was logged.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer is a log destination for tests that capture log output written
// from several goroutines (a server's handlers, a retry loop) and read it
// while they run: a bytes.Buffer whose Write and String are safe to call
// concurrently. The zero value is an empty Buffer ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
