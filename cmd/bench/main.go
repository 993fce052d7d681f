// Command bench measures the robot's speed, memory and cost on this machine
// and writes them to docs/performance.md: the in-process figures with Go's
// benchmark harness, the rest with the real programs, built as FC runs them,
// on loopback with the local FC endpoint, the fake DingTalk and a fake model
// that answers at once. `make bench` runs it. It judges no figure pass or
// fail: it prints them beside their targets.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	Out           string
	LoadDuration  time.Duration
	ColdRuns      int
	Benchtime     string
	ReplyMessages int
	// BucketMessages are timed at each injected bucket round trip.
	BucketMessages int
	// Only names the one measurement to run (parts), or is empty for all.
	Only  string
	GoCmd string
}

const usage = `bench: measure the robot's speed, memory and cost on this machine.

Builds both programs as ` + "`make build`" + ` does (static, stripped, linux/amd64), runs the
in-process benchmarks (go test -bench) and the real-process measurements on
loopback, prints the table and writes it, with the machine, the date, the
commit and the cost on FC, to the -out file. With -only it builds them, takes
that one measurement and prints its rows alone. Progress goes to stderr.

Environment:
  GO   the go command to run the benchmarks with (default go)

Flags:
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet(args[0], flag.ContinueOnError)
	flags.SetOutput(stderr)
	var o options
	flags.StringVar(&o.Out, "out", "docs/performance.md", "file to write the report to; empty: print the table only")
	flags.DurationVar(&o.LoadDuration, "load", 20*time.Second, "length of each load run of the conversation function")
	flags.IntVar(&o.ColdRuns, "runs", 20, "cold starts measured per function")
	flags.StringVar(&o.Benchtime, "benchtime", "1s", "go test -benchtime for the in-process benchmarks")
	flags.IntVar(&o.ReplyMessages, "reply-messages", 1000, "messages timed one at a time through the reply function")
	flags.IntVar(&o.BucketMessages, "bucket-messages", 20, "messages timed at each injected bucket round trip (answer path, rounds of tools)")
	flags.StringVar(&o.Only, "only", "", "measure only this (bucket, tools) and print its rows; writes no report")
	flags.Usage = func() {
		fmt.Fprint(stderr, usage)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	}
	if o.LoadDuration <= 0 || o.ColdRuns <= 0 || o.ReplyMessages < 4 || o.BucketMessages < 1 {
		return errors.New("-load, -runs and -bucket-messages must be positive and -reply-messages at least 4")
	}
	if _, ok := parts()[o.Only]; o.Only != "" && !ok {
		return fmt.Errorf("-only %q: not a measurement of its own; one of %q", o.Only, slices.Sorted(maps.Keys(parts())))
	}
	o.GoCmd = getenv("GO")
	if o.GoCmd == "" {
		o.GoCmd = "go"
	}
	// The programs are measured as FC runs them, and /proc is Linux's.
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return fmt.Errorf("measures FC's platform, linux/amd64; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}

	started := time.Now()
	res, err := measure(ctx, o, &progress{w: stderr, start: started})
	if err != nil {
		return err
	}
	if o.Only != "" {
		fmt.Fprint(stdout, renderTable(parts()[o.Only].rows(res)))
		return nil
	}
	fmt.Fprint(stdout, renderTable(figures(res)))
	if o.Out == "" {
		return nil
	}
	report, err := renderReport(res, o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(o.Out, []byte(report), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: wrote %s in %s\n", o.Out, time.Since(started).Round(time.Second))
	return nil
}

// progress prints what the benchmark is doing, with the time so far.
type progress struct {
	w     io.Writer
	start time.Time
}

func (p *progress) step(format string, args ...any) {
	fmt.Fprintf(p.w, "bench [%5.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

func (p *progress) Write(b []byte) (int, error) { return p.w.Write(b) }
