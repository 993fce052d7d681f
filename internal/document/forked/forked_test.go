package forked_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/document"
	"github.com/dingtalk-llm/fcrobot/internal/document/documenttest"
	"github.com/dingtalk-llm/fcrobot/internal/document/forked"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// The test binary is its own child: started with forked.ChildArg, it reads
// the file as the reply program does, except for the files below, whose
// first word makes the "parser" misbehave as hostile files make real ones.
func TestMain(m *testing.M) {
	if forked.IsChild(os.Args) {
		if err := forked.Child(os.Args, os.Stdin, os.Stdout, os.Stderr, hostileParser); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var sink [][]byte

func hostileParser(name string, data []byte) (string, bool, error) {
	switch word, _, _ := strings.Cut(string(data), "\n"); word {
	case "overflow": // nesting without end, as a deep PDF or XML does
		return recurse(1), false, nil
	case "allocate": // a structure that expands without end
		for {
			sink = append(sink, bytes.Repeat([]byte{1}, 1<<20))
		}
	case "spin": // a loop that never ends
		for n := 0; ; n++ {
			if n < 0 {
				return "", false, nil
			}
		}
	case "started": // says it started through the FIFO the file names, then waits
		_, path, _ := strings.Cut(string(data), "\n")
		fifo, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return "", false, err
		}
		fifo.Write([]byte{1})
		r, w, _ := os.Pipe()
		defer w.Close()
		r.Read(make([]byte, 1))
		return "", false, nil
	case "hang": // waits on what never comes
		r, w, _ := os.Pipe()
		defer w.Close()
		r.Read(make([]byte, 1))
		return "", false, nil
	case "flood": // a library that writes to stdout without end
		line := bytes.Repeat([]byte("x"), 64<<10)
		for {
			os.Stdout.Write(line)
		}
	case "huge": // more text than any file has
		return strings.Repeat("字", 1<<20), false, nil
	case "debug": // a library's debug line on stdout, as ledongthuc/pdf prints
		fmt.Printf("DEBUG: %T(%v)\n. Skip dict", 1, 1)
		return "读到了", false, nil
	case "crash": // a panic no recover of the parser's sees
		done := make(chan struct{})
		go func() { panic("a parser's goroutine") }()
		<-done
	case "chatter": // a library that logs without end, then reads the file
		for range 1000 {
			os.Stderr.Write(bytes.Repeat([]byte("log "), 1<<10))
		}
		return "读到了", false, nil
	case "status": // the child's own memory, for a look by hand
		b, _ := os.ReadFile("/proc/self/status")
		m, _ := os.ReadFile("/proc/self/maps")
		return string(b) + string(m), false, nil
	case "env": // what the child was given of the parent's environment
		return strings.Join(os.Environ(), "\n"), false, nil
	case "fault": // writes into the file it was given, under a parser's recover
		return writeInto(data)
	}
	return document.Reader{}.Text(name, data)
}

// writeInto is a parser that writes into its input, with the recover
// document.Extract has: the fault is a panic it catches.
func writeInto(data []byte) (_ string, _ bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: the file could not be parsed: %v", chat.ErrFileCorrupt, r)
		}
	}()
	data[0] = 'F'
	return "", false, nil
}

//go:noinline
func recurse(n int) string {
	var frame [256]byte
	frame[n%256] = byte(n)
	return recurse(n+1) + string(frame[:1])
}

// tiny are limits that make each breach cheap.
var tiny = forked.Limits{Memory: 64 << 20, CPU: time.Second, Wall: time.Minute, Output: 1 << 20, Stack: 1 << 20}

func reader(t *testing.T, l forked.Limits) forked.Reader {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return forked.Reader{Program: exe, Limits: l, TempDir: t.TempDir()}
}

// file is data on disk, open, as the reply function hands it over.
func file(t *testing.T, data []byte) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "file"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestAFileIsReadInAChild(t *testing.T) {
	t.Parallel()
	r := reader(t, tiny)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"笔记.txt", []byte("周三下午三点开项目会。"), "周三下午三点开项目会。"},
		{"方案.docx", documenttest.DOCX("第一章 背景"), "第一章 背景"},
		{"年报.pdf", documenttest.PDF("收入增长百分之十二"), "收入增长百分之十二"},
	} {
		text, truncated, err := r.Read(t.Context(), tc.name, file(t, tc.data))
		if err != nil || truncated || !strings.Contains(text, tc.want) {
			t.Errorf("%s: %q, %v, %v; want its text", tc.name, text, truncated, err)
		}
	}
	if _, _, err := r.Read(t.Context(), "坏的.pdf", file(t, []byte("%PDF-1.7 这不是 PDF"))); !errors.Is(err, chat.ErrFileCorrupt) {
		t.Errorf("a damaged PDF: %v; want ErrFileCorrupt from the child", err)
	}
	if _, _, err := r.Read(t.Context(), "空的.txt", file(t, nil)); !errors.Is(err, chat.ErrFileNoText) {
		t.Errorf("an empty file: %v; want ErrFileNoText", err)
	}
}

// Each hostile file stops its child with a kind the user is told clearly,
// and the next file is read as if nothing happened.
func TestAHostileFileStopsItsChildAlone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, word string
		limits     forked.Limits
		want       error
		detail     string
	}{
		{"stack overflow", "overflow", tiny, chat.ErrFileTooComplex, "stack"},
		{"unbounded allocation", "allocate", tiny, chat.ErrFileTooComplex, "out of its 64 MiB"},
		{"endless loop, stopped by its CPU time", "spin", tiny, chat.ErrFileTooComplex, "CPU time"},
		{"endless wait, stopped by the wall clock", "hang", withWall(tiny, 100*time.Millisecond), chat.ErrFileTooComplex, "longer than"},
		{"endless output on stdout", "flood", tiny, chat.ErrFileTooComplex, "CPU time"},
		{"more text than any file has", "huge", tiny, chat.ErrFileTooComplex, "more than"},
		{"a crash", "crash", tiny, chat.ErrFileCorrupt, "crashed"},
		{"a write into the file, recovered", "fault", tiny, chat.ErrFileCorrupt, "could not be parsed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if raceEnabled && tc.word == "allocate" {
				t.Skip("the race detector's shadow memory does not fit a memory limit")
			}
			r := reader(t, tc.limits)
			text, _, err := r.Read(t.Context(), "恶意.txt", file(t, []byte(tc.word+"\n")))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("read %q, %v; want %v saying %q", cut(text), err, tc.want, tc.detail)
			}
			if text, _, err := reader(t, tiny).Read(t.Context(), "笔记.txt", file(t, []byte("下一个文件"))); err != nil || text != "下一个文件" {
				t.Errorf("the next file: %q, %v", text, err)
			}
		})
	}
}

func withWall(l forked.Limits, d time.Duration) forked.Limits {
	l.Wall = d
	return l
}

func cut(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func TestAChildThatLogsIsReadAllTheSame(t *testing.T) {
	t.Parallel()
	for _, word := range []string{"chatter", "debug"} {
		text, _, err := reader(t, tiny).Read(t.Context(), "日志.txt", file(t, []byte(word+"\n")))
		if err != nil || text != "读到了" {
			t.Errorf("%s: %q, %v", word, text, err)
		}
	}
}

// The caller's context ending kills the child: the error is the
// context's, so that the caller can tell it from the file's fault, and the
// child is gone (its end of the FIFO closes).
func TestTheCallersEndKillsTheChild(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "started")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("no FIFO here:", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := reader(t, tiny)
	errc := make(chan error, 1)
	go func() {
		_, _, err := r.Read(ctx, "等待.txt", file(t, []byte("started\n"+path)))
		errc <- err
	}()
	fifo, err := os.Open(path) // blocks until the child opens it
	if err != nil {
		t.Fatal(err)
	}
	defer fifo.Close()
	if _, err := io.ReadFull(fifo, make([]byte, 1)); err != nil {
		t.Fatalf("the child did not start: %v", err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("%v; want context.Canceled", err)
	}
	if n, err := fifo.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("the child's end of the FIFO: %d bytes, %v; want EOF, the child gone", n, err)
	}
}

// The child gets none of the parent's environment: the function's keys
// stay in the function.
func TestTheChildGetsNoEnvironment(t *testing.T) {
	t.Setenv("CHATGPT_API_KEY", "sk-secret-of-the-parent")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := forked.Reader{Program: exe, Limits: tiny, TempDir: t.TempDir()}
	text, _, err := r.Read(t.Context(), "环境.txt", file(t, []byte("env\n")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text, "sk-secret") || !strings.Contains(text, "TMPDIR=") {
		t.Errorf("the child saw the parent's key: %q", text)
	}
}

// Where no child can be started, the fallback reads the file, or, without
// one, the error says so: it is no fault of the file's.
func TestWithoutAChildNoFileIsReadUnlimited(t *testing.T) {
	t.Parallel()
	r := forked.Reader{Program: filepath.Join(t.TempDir(), "missing"), Limits: tiny, TempDir: t.TempDir()}
	_, _, err := r.Read(t.Context(), "笔记.txt", file(t, []byte("在本进程里读")))
	if !errors.Is(err, chat.ErrFileReaderUnavailable) || retry.Retryable(err) {
		t.Errorf("a reader that cannot start: %v; want files said unreadable here, not retried nor read without limits", err)
	}
}
