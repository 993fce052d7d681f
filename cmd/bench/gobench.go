package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// goBenchmark is one result line of `go test -bench`.
type goBenchmark struct {
	// Name is the benchmark's full name without the -GOMAXPROCS suffix,
	// e.g. "BenchmarkAcknowledge/fc=bare".
	Name       string
	Iterations int64
	// Metrics holds each value by its unit: "ns/op", "B/op", "allocs/op"
	// and the benchmark's own (ReportMetric) units.
	Metrics map[string]float64
}

// inProcessPattern selects the in-process figures of the table, run with
// Go's own harness in inProcessPackages.
const inProcessPattern = "^(BenchmarkAcknowledge|BenchmarkHistoryRead|BenchmarkMessageWrites|BenchmarkRead)$"

func inProcessPackages() []string {
	return []string{"./internal/conversation/", "./internal/bucket/", "./internal/document/forked/"}
}

// runGoBenchmarks runs `go test -bench` in the module at root and returns
// the results. Every line go test prints is copied to progress as it comes.
// replyProgram, the reply program as FC runs it, is the child that
// BenchmarkRead starts to read a file.
func runGoBenchmarks(ctx context.Context, goCmd, root, benchtime, replyProgram string, progress io.Writer) ([]goBenchmark, error) {
	args := append([]string{"test", "-run", "^$", "-bench", inProcessPattern, "-benchmem",
		"-benchtime", benchtime, "-count", "1"}, inProcessPackages()...)
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "FORKED_BENCH_CHILD="+replyProgram)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("go test -bench: %w", err)
	}
	results, parseErr := parseBenchOutput(out, progress)
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("go test -bench: %w\n%s", err, stderr.String())
	}
	if parseErr != nil {
		return nil, parseErr
	}
	return results, nil
}

// parseBenchOutput reads go test's benchmark output (the standard text
// format: name, iterations, then value-unit pairs) and copies every line to
// progress.
func parseBenchOutput(r io.Reader, progress io.Writer) ([]goBenchmark, error) {
	var results []goBenchmark
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(progress, "  "+line)
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		b, err := parseBenchLine(line)
		if err != nil {
			return nil, err
		}
		results = append(results, b)
	}
	return results, sc.Err()
}

func parseBenchLine(line string) (goBenchmark, error) {
	fields := strings.Fields(line)
	if len(fields) < 4 || len(fields)%2 != 0 {
		return goBenchmark{}, fmt.Errorf("benchmark line %q: want a name, a count and value-unit pairs", line)
	}
	b := goBenchmark{Name: fields[0], Metrics: map[string]float64{}}
	// The -N suffix is GOMAXPROCS, added when it is not 1.
	if i := strings.LastIndexByte(b.Name, '-'); i > 0 {
		if _, err := strconv.Atoi(b.Name[i+1:]); err == nil {
			b.Name = b.Name[:i]
		}
	}
	n, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		return goBenchmark{}, fmt.Errorf("benchmark line %q: iterations: %w", line, err)
	}
	b.Iterations = n
	for i := 2; i < len(fields); i += 2 {
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil {
			return goBenchmark{}, fmt.Errorf("benchmark line %q: %s: %w", line, fields[i+1], err)
		}
		b.Metrics[fields[i+1]] = v
	}
	return b, nil
}

// errNoBenchmark is returned by find for a result that is not there.
var errNoBenchmark = errors.New("benchmark result missing")

func findBenchmark(results []goBenchmark, name string) (goBenchmark, error) {
	for _, b := range results {
		if b.Name == name {
			return b, nil
		}
	}
	return goBenchmark{}, fmt.Errorf("%w: %s", errNoBenchmark, name)
}
