package forked

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// ChildArg, as a program's first argument, makes it the child that reads
// one file: the program's run checks for it before anything else and
// hands the rest to Child. It is not in any usage text: only Reader starts
// a program that way.
const ChildArg = "-read-one-document"

// IsChild reports whether args (a program's os.Args) start the child.
func IsChild(args []string) bool {
	return len(args) > 1 && args[1] == ChildArg
}

// Extract reads the text of a file named name whose content is data, and
// whether it is only its start; its errors match package chat's kinds
// (document.Reader.Text).
type Extract func(name string, data []byte) (text string, truncated bool, err error)

// Child is the child's whole life: it takes the limits the parent gives in
// args (ChildArg, its flags, then the name to read the file as), sets them
// on itself before it reads a byte of the file, reads the file from stdin,
// and writes a header and the text to stdout. Whatever the file does, the
// kernel's limits stop it; the parent tells the user.
//
// It needs nothing of the function's environment: the parent starts it
// with none.
func Child(args []string, stdin io.Reader, stdout, stderr io.Writer, extract Extract) error {
	if !IsChild(args) {
		return errors.New("forked: not started as the child")
	}
	flags := flag.NewFlagSet(ChildArg, flag.ContinueOnError)
	flags.SetOutput(stderr)
	var l Limits
	flags.Int64Var(&l.Memory, "memory", 0, "bytes of memory the child may map")
	flags.DurationVar(&l.CPU, "cpu", 0, "CPU time the child may use")
	flags.Int64Var(&l.TempFiles, "temp-files", 0, "largest file the child may write")
	flags.Int64Var(&l.Stack, "stack", 0, "largest goroutine stack")
	if err := flags.Parse(args[2:]); err != nil {
		return err
	}
	if flags.NArg() != 1 {
		return fmt.Errorf("forked: want the name to read the file as, got %q", flags.Args())
	}
	name := flags.Arg(0)
	// First the kernel's bounds, which nothing in the process can lift,
	// then the runtime's: a soft memory limit, so that the collector
	// works harder before the hard one is hit, a stack far below Go's
	// 1 GB, and faults that are panics a parser's recover catches.
	if err := setLimits(l); err != nil {
		// Never read without the limits: say so to the parent, which
		// tells the platform's refusal from the file's fault.
		return fmt.Errorf("%s: %w", unlimitedMark, err)
	}
	if l.Memory > 0 {
		debug.SetMemoryLimit(l.Memory / 4 * 3)
	}
	if l.Stack > 0 {
		debug.SetMaxStack(int(l.Stack))
	}
	debug.SetPanicOnFault(true)

	// The answer goes out on what was stdout; what a library prints
	// there (ledongthuc/pdf prints debug lines) goes to stderr, which the
	// parent reads only for the reason the child died.
	stdout = answerChannel(stdout, stderr)
	data, err := input(stdin)
	if err != nil {
		return fmt.Errorf("forked: read the file: %w", err)
	}
	text, truncated, err := extract(name, data)
	h := header{Truncated: truncated}
	if err != nil {
		h = header{Kind: kindName(err), Detail: cut(err.Error(), maxDetailBytes)}
		text = ""
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	line, err := json.Marshal(h)
	if err != nil {
		return err
	}
	w.Write(append(line, '\n'))
	io.WriteString(w, text)
	return w.Flush()
}

// input is the whole file on stdin: mapped from the file the parent
// passed, so that its bytes are the page cache's, not the child's heap
// (and count against no limit of the child's memory), else read.
func input(stdin io.Reader) ([]byte, error) {
	if f, ok := stdin.(*os.File); ok {
		if data, ok := mapFile(f); ok {
			return data, nil
		}
	}
	return io.ReadAll(stdin)
}
