// Package forked reads the files users send in a child process, one per
// file, under limits the kernel enforces, so that no file can take the
// reply function down with it: a parser that overflows its stack (fatal
// in Go, whatever recovers), allocates without end, loops forever or
// writes without end does so in the child, which is stopped, and the
// parent tells the user the file is too complex. This is how Apache Tika's
// forked mode and Chromium's PDF utility process contain their parsers.
//
// The child is the reply program itself, started again with ChildArg
// (os.Executable): its run hands such a start to Child before it reads any
// configuration. It is given the file as its stdin, an open file on disk
// that the parent never holds in memory, and no environment; it sets its
// own limits (RLIMIT_DATA, RLIMIT_CPU, RLIMIT_FSIZE) before it reads a
// byte, writes a short header and the text on stdout, and exits. The
// parent bounds the wall-clock time, killing the child's process group,
// and what it reads of stdout and stderr.
//
// docs/files.md tells the design and what the user sees.
package forked

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/document"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// Limits bound one child.
type Limits struct {
	// Memory bounds what the child maps for writing, its heap and stacks
	// (RLIMIT_DATA); the file itself, mapped read-only, is not counted.
	Memory int64
	// CPU bounds the child's CPU time (RLIMIT_CPU, in whole seconds).
	CPU time.Duration
	// Wall bounds the child's life, whatever it waits on.
	Wall time.Duration
	// Output bounds the text read from the child.
	Output int64
	// TempFiles bounds each temporary file the child writes (RLIMIT_FSIZE).
	TempFiles int64
	// Stack bounds a goroutine's stack in the child.
	Stack int64
}

// DefaultLimits fit the reply function's 128 MB beside the parent's own
// memory (docs/files.md): the heap a large workbook or PDF takes to read,
// with room; CPU and wall time within the 45 s a read may take.
var DefaultLimits = Limits{
	Memory:    48 << 20,
	CPU:       40 * time.Second,
	Wall:      45 * time.Second,
	Output:    4*document.MaxRunes + 64<<10, // the longest text, in UTF-8
	TempFiles: document.MaxXMLBytes,
	Stack:     16 << 20,
}

// maxStderrBytes is how much of the start and of the end of the child's
// stderr is kept.
const maxStderrBytes = 2 << 10

// Reader reads files in a child process each (the reply function's
// reply.Reader). Its zero value is not usable: Program is required.
type Reader struct {
	// Program is the program to start as the child, with ChildArg: the
	// running program (os.Executable).
	Program string
	// Limits of each child; zero fields take DefaultLimits'.
	Limits Limits
	// TempDir is where each child gets a folder of its own for its
	// temporary files, removed once it ends; empty means os.TempDir().
	TempDir string
	// Logger gets a debug line per child: what it cost; nil discards.
	Logger *slog.Logger
}

// Readable reports whether a file of that name is of a kind the child
// reads.
func (r Reader) Readable(name string) bool {
	_, ok := document.KindOf(name)
	return ok
}

// Read returns the text of the file named name, whose content is f, read
// by a child process. Its errors match package chat's kinds; a child
// stopped by a limit (memory, CPU time, wall-clock time, stack, output) is
// chat.ErrFileTooComplex, a child that crashed otherwise
// chat.ErrFileCorrupt. When ctx ends first, the child is killed and the
// error matches ctx.Err(). A failure that is no fault of the file's (no
// folder, or no process for the child for now) is worth a retry; a child
// that cannot start or be limited at all is chat.ErrFileReaderUnavailable:
// no file is ever read without the limits
// (retry.Retryable).
func (r Reader) Read(ctx context.Context, name string, f *os.File) (string, bool, error) {
	kind, ok := document.KindOf(name)
	if !ok {
		return "", false, fmt.Errorf("%w: %s", chat.ErrFileUnsupported, name)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", false, retry.Mark(fmt.Errorf("forked: rewind the file: %w", err))
	}
	l := r.limits()
	tmp, err := os.MkdirTemp(r.TempDir, "read-")
	if err != nil {
		return "", false, retry.Mark(fmt.Errorf("forked: a folder for the reader: %w", err))
	}
	defer os.RemoveAll(tmp)

	wallCtx, cancel := context.WithTimeoutCause(ctx, l.Wall, errWall)
	defer cancel()
	cmd := exec.CommandContext(wallCtx, r.Program, ChildArg,
		"-memory", strconv.FormatInt(l.Memory, 10), "-cpu", l.CPU.String(),
		"-temp-files", strconv.FormatInt(l.TempFiles, 10), "-stack", strconv.FormatInt(l.Stack, 10),
		childName(kind))
	// Nothing of the function's environment, its keys least of all: a
	// folder for temporary files, one thread, and a fatal error's reason
	// without the stacks of every goroutine.
	cmd.Env = []string{"TMPDIR=" + tmp, "GOMAXPROCS=1", "GOTRACEBACK=none"}
	cmd.Dir = tmp
	cmd.Stdin = f
	stderr := &ends{max: maxStderrBytes}
	cmd.Stderr = stderr
	cmd.WaitDelay = time.Second
	isolate(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", false, retry.Mark(err)
	}
	if err := cmd.Start(); err != nil {
		if transient(err) {
			return "", false, retry.Mark(fmt.Errorf("forked: start the reader: %w", err))
		}
		// Files are never read without the child's limits: the sender is
		// told files cannot be read here, the operator why in the log.
		return "", false, fmt.Errorf("%w: start the reader: %w", chat.ErrFileReaderUnavailable, err)
	}
	started := time.Now()
	h, text, readErr := readOutput(stdout, l.Output)
	if readErr != nil {
		// Too much output, or none that parses: the child is stopped.
		cmd.Cancel()
	}
	waitErr := cmd.Wait()
	if r.Logger != nil {
		r.Logger.DebugContext(ctx, "a file read in a child process", "kind", kind, "took", time.Since(started),
			"childCPU", cpuTime(cmd.ProcessState), "childPeakRSSKB", peakRSSKB(cmd.ProcessState), "textBytes", len(text),
			"exit", cmd.ProcessState.String())
	}
	switch {
	case waitErr == nil && readErr == nil && h.Kind != "":
		return "", false, kindError(h)
	case waitErr == nil && readErr == nil:
		return text, h.Truncated, nil // even if ctx ended meanwhile
	case ctx.Err() != nil:
		return "", false, fmt.Errorf("forked: reading stopped: %w", context.Cause(ctx))
	case errors.Is(context.Cause(wallCtx), errWall):
		return "", false, fmt.Errorf("%w: reading took longer than %v", chat.ErrFileTooComplex, l.Wall)
	case errors.Is(readErr, errOutput):
		return "", false, fmt.Errorf("%w: the reader wrote more than %d bytes", chat.ErrFileTooComplex, l.Output)
	case readErr != nil && !errors.Is(readErr, io.EOF) && !errors.Is(readErr, io.ErrUnexpectedEOF):
		// An answer that does not parse (not one cut short by the
		// child's end): the parent stopped the child, whose end then
		// says nothing of the file.
		return "", false, fmt.Errorf("%w: the reader's answer: %w", chat.ErrFileCorrupt, readErr)
	case waitErr != nil && strings.Contains(stderr.String(), unlimitedMark):
		return "", false, fmt.Errorf("%w: %s", chat.ErrFileReaderUnavailable, reasonOf(stderr.String()))
	case waitErr != nil:
		return "", false, exitError(cmd.ProcessState, waitErr, stderr.String(), l)
	}
	return "", false, fmt.Errorf("%w: the reader's answer: %w", chat.ErrFileCorrupt, readErr)
}

// unlimitedMark starts what a child says when the system refused it its
// limits.
const unlimitedMark = "forked: the system refused the reader its limits"

// transient tells a failure to start a child that may pass (the system
// short of processes, memory or descriptors for a moment) from one that
// will not (no program, no permission).
func transient(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ENOMEM) ||
		errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

var (
	errWall   = errors.New("the reader ran out of time")
	errOutput = errors.New("the reader wrote too much")
)

// limits are r's, zero fields filled from DefaultLimits.
func (r Reader) limits() Limits {
	l, d := r.Limits, DefaultLimits
	or := func(v *int64, def int64) {
		if *v <= 0 {
			*v = def
		}
	}
	or(&l.Memory, d.Memory)
	or(&l.Output, d.Output)
	or(&l.TempFiles, d.TempFiles)
	or(&l.Stack, d.Stack)
	if l.CPU <= 0 {
		l.CPU = d.CPU
	}
	if l.Wall <= 0 {
		l.Wall = d.Wall
	}
	return l
}

// childName is the name the child reads a file of kind as: its extension
// alone decides how it is read, and the user's name for the file stays out
// of the child's arguments.
func childName(kind document.Kind) string {
	if kind == document.Text {
		return "file.txt"
	}
	return "file." + string(kind)
}

// readOutput reads the child's header and text, at most max bytes of
// text; more is errOutput.
func readOutput(stdout io.Reader, max int64) (header, string, error) {
	br := bufio.NewReaderSize(stdout, maxHeaderBytes)
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return header{}, "", errOutput
		}
		return header{}, "", fmt.Errorf("no header: %w", err)
	}
	var h header
	if err := json.Unmarshal(line, &h); err != nil {
		return header{}, "", fmt.Errorf("header: %w", err)
	}
	var text strings.Builder
	n, err := io.Copy(&text, io.LimitReader(br, max+1))
	switch {
	case err != nil:
		return header{}, "", err
	case n > max:
		return header{}, "", errOutput
	case !utf8.ValidString(text.String()):
		return header{}, "", errors.New("the text is not UTF-8")
	}
	return h, text.String(), nil
}

// exitError says why a child ended without its answer.
func exitError(st *os.ProcessState, err error, stderr string, l Limits) error {
	reason := reasonOf(stderr)
	if sig, ok := killedBy(st); ok {
		switch sig {
		case syscall.SIGKILL, syscall.SIGXCPU:
			// Not the parent's kill (its cases come first): the
			// kernel's, for CPU time (or, the instance out of
			// memory, its OOM killer's).
			return fmt.Errorf("%w: the reader was killed (%v) after %v of CPU time, the limit is %v",
				chat.ErrFileTooComplex, sig, cpuTime(st).Round(time.Millisecond), l.CPU)
		}
		return fmt.Errorf("%w: the reader was killed (%v): %s", chat.ErrFileCorrupt, sig, reason)
	}
	switch {
	case strings.Contains(reason, "out of memory"), strings.Contains(reason, "cannot allocate memory"):
		return fmt.Errorf("%w: the reader ran out of its %d MiB: %s", chat.ErrFileTooComplex, l.Memory>>20, reason)
	case strings.Contains(reason, "stack overflow"):
		return fmt.Errorf("%w: the reader overflowed its %d MiB stack: %s", chat.ErrFileTooComplex, l.Stack>>20, reason)
	}
	return fmt.Errorf("%w: the reader crashed (%v): %s", chat.ErrFileCorrupt, err, reason)
}

// cpuTime is the CPU time a finished process used.
func cpuTime(st *os.ProcessState) time.Duration {
	return st.UserTime() + st.SystemTime()
}

// reasonOf is the line of a child's stderr that says why it ended: the
// runtime's "fatal error: ..." or "panic: ...", else the first.
func reasonOf(stderr string) string {
	first := ""
	for line := range strings.Lines(stderr) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "fatal error:") || strings.HasPrefix(line, "panic:") {
			return cut(line, 300)
		}
		if first == "" {
			first = line
		}
	}
	if first == "" {
		return "no message"
	}
	return cut(first, 300)
}

// ends keeps the first and the last max bytes written to it and drops
// the middle, never failing, so that the child never blocks on its stderr
// and the parent holds little of it: a library's chatter may come first,
// the runtime's reason for ending comes last.
type ends struct {
	max        int
	head, tail []byte
	dropped    bool
}

func (w *ends) Write(p []byte) (int, error) {
	n := len(p)
	if room := w.max - len(w.head); room > 0 {
		k := min(room, len(p))
		w.head, p = append(w.head, p[:k]...), p[k:]
	}
	if len(p) > 0 {
		w.tail = append(w.tail, p...)
		if over := len(w.tail) - w.max; over > 0 {
			w.tail, w.dropped = append(w.tail[:0], w.tail[over:]...), true
		}
	}
	return n, nil
}

func (w *ends) String() string {
	if w.dropped {
		return string(w.head) + "\n…\n" + string(w.tail)
	}
	return string(w.head) + string(w.tail)
}
