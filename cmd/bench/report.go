package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
)

// verdict is how a figure compares with its target.
type verdict int

const (
	notMeasured verdict = iota
	met
	missed
)

func (v verdict) String() string {
	switch v {
	case met:
		return "met"
	case missed:
		return "**missed**"
	}
	return "not measured"
}

func judge(ok bool) verdict {
	if ok {
		return met
	}
	return missed
}

// figure is one row of the table.
type figure struct {
	Name     string
	Measured string
	Target   string
	Verdict  verdict
}

// The targets the robot is held to (docs/performance.md, "Results").
const (
	targetAckP50        = 300 * time.Microsecond
	targetRate          = 5000.0
	targetAckP99        = 5 * time.Millisecond
	targetReplyP50      = 1500 * time.Microsecond
	targetReplyP99      = 5 * time.Millisecond
	targetColdStart     = 50 * time.Millisecond
	targetIdleMemory    = 20_000_000 // bytes
	targetLoadedMemory  = 40_000_000
	targetHistoryRatio  = 1.5
	targetPackageSize   = 15_000_000
	targetFirstTextSlip = 300 * time.Millisecond
	// What reading a file in a child process may add to it.
	targetChildOverhead  = 20 * time.Millisecond
	targetFunctionMemory = 128_000_000
	// The budget of bucket round trips on the answer path.
	targetBucketRequests      = 20.0
	targetSerialBeforeModel   = 3.0
	targetSerialAfterTheModel = 2.0
	// The bucket round trips of a round of tools, one after another, and
	// its requests: the record of the round, and for a tool that is not
	// read-only the record of its calls before they are made.
	targetReadOnlyRound = 1.0
	targetOtherRound    = 2.0
)

// historySizes are the sub-benchmarks of BenchmarkHistoryRead, smallest
// history first.
func historySizes() []int { return []int{10, 1000, 100000} }

// figures turns the results into the table's rows, in docs/performance.md's
// order.
func figures(res results) []figure {
	var rows []figure
	rows = append(rows, ackInProcess(res))

	l := res.Load100
	rows = append(rows, figure{
		Name: "acknowledge under load",
		Measured: fmt.Sprintf("%.0f callbacks/s, %d errors (%d at a time for %s; p50 %s, p99 %s; %s CPU per callback; %s)",
			l.Rate(), l.Failed, l.Concurrency, l.Elapsed.Round(time.Second), ms(percentile(l.Latencies, 0.5)),
			ms(percentile(l.Latencies, 0.99)), us(l.CPUPerCallback()), cores(l)) + firstError(l.FirstError),
		Target:  "at least 5000 callbacks/s, 0 errors",
		Verdict: judge(l.Rate() >= targetRate && l.Failed == 0),
	})
	l = res.Load10
	rows = append(rows, figure{
		Name: "acknowledge latency",
		Measured: fmt.Sprintf("p50 %s, p99 %s (%d at a time: %d callbacks, %.0f/s, %d errors; %s)",
			ms(percentile(l.Latencies, 0.5)), ms(percentile(l.Latencies, 0.99)), l.Concurrency, l.OK, l.Rate(), l.Failed, cores(l)) + firstError(l.FirstError),
		Target:  "p99 at most 5 ms",
		Verdict: judge(percentile(l.Latencies, 0.99) <= targetAckP99 && l.Failed == 0),
	})
	rows = append(rows, replyOverheadFigure("reply overhead, mount folder on disk", &res.Reply))
	rows = append(rows, replyOverheadFigure("reply overhead, mount folder in memory", res.ReplyInMemory))
	rows = append(rows, cardCallsFigure(res.CardCalls))
	rows = append(rows, bucketRows(res)...)
	rows = append(rows, toolRoundsFigure(res.ToolRounds))
	for _, f := range functions() {
		times := res.ColdStarts[f].Wall
		rows = append(rows, figure{
			Name: "cold start, " + f,
			Measured: fmt.Sprintf("median %s (%d runs, %s to %s; %s CPU time to the first answer)", ms(percentile(times, 0.5)), len(times),
				ms(percentile(times, 0)), ms(percentile(times, 1)), ms(percentile(res.ColdStarts[f].CPU, 0.5))),
			Target:  "median at most 50 ms",
			Verdict: judge(len(times) > 0 && percentile(times, 0.5) <= targetColdStart),
		})
	}
	for _, f := range functions() {
		m := res.Idle[f]
		rows = append(rows, figure{
			Name:     "memory idle, " + f,
			Measured: fmt.Sprintf("peak RSS %s", mb(m.PeakRSS)),
			Target:   "at most 20 MB",
			Verdict:  judge(m.PeakRSS > 0 && m.PeakRSS <= targetIdleMemory),
		})
	}
	for _, f := range functions() {
		m := res.Loaded[f]
		under := fmt.Sprintf("after the load runs, %d then 10 callbacks at a time", res.Load100.Concurrency)
		if f == devstack.ReplyFunction {
			under = fmt.Sprintf("after %d messages at a time for %s: %d answered, %d failed",
				res.ReplyLoad.Concurrency, res.ReplyLoad.Elapsed.Round(time.Second), res.ReplyLoad.OK, res.ReplyLoad.Failed)
		}
		rows = append(rows, figure{
			Name:     "memory under load, " + f,
			Measured: fmt.Sprintf("peak RSS %s (%s)", mb(m.PeakRSS), under),
			Target:   "at most 40 MB",
			Verdict:  judge(m.PeakRSS > 0 && m.PeakRSS <= targetLoadedMemory),
		})
	}
	rows = append(rows, attachmentFigure(res.Attachments))
	rows = append(rows, historyCost(res))
	rows = append(rows, childOverhead(res))
	for _, f := range functions() {
		rows = append(rows, figure{
			Name:     "package size, " + f,
			Measured: mb(res.Sizes[f]),
			Target:   "at most 15 MB",
			Verdict:  judge(res.Sizes[f] > 0 && res.Sizes[f] <= targetPackageSize),
		})
	}
	rows = append(rows, firstVisibleText(res.FirstText))
	return rows
}

func replyOverheadFigure(name string, r *replyOverhead) figure {
	f := figure{Name: name, Target: "p50 at most 1.5 ms, p99 at most 5 ms"}
	if r == nil {
		f.Measured = "not measured: no tmpfs at /dev/shm"
		return f
	}
	f.Measured = fmt.Sprintf("p50 %s, p99 %s to the answer at DingTalk (%d messages one at a time; /invoke answered p50 %s, p99 %s; %s CPU per message)",
		ms(percentile(r.ToWebhook, 0.5)), ms(percentile(r.ToWebhook, 0.99)), r.Messages,
		ms(percentile(r.RoundTrip, 0.5)), ms(percentile(r.RoundTrip, 0.99)), us(r.CPU))
	f.Verdict = judge(len(r.ToWebhook) > 0 && percentile(r.ToWebhook, 0.5) <= targetReplyP50 && percentile(r.ToWebhook, 0.99) <= targetReplyP99)
	return f
}

// cores says who used the machine during a load run.
func cores(l loadResult) string {
	return fmt.Sprintf("cores used: conversation %.2f, load generator and local FC %.2f, machine %.0f%% busy",
		l.ConversationCores(), l.Cores.Self, 100*l.Cores.Machine)
}

func ackInProcess(res results) figure {
	f := figure{Name: "acknowledge path, in process", Target: "p50 at most 300 µs including the loopback call"}
	bare, err := findBenchmark(res.InProcess, "BenchmarkAcknowledge/fc=bare")
	if err != nil {
		f.Measured = err.Error()
		return f
	}
	p50 := time.Duration(bare.Metrics["p50-ns"])
	f.Measured = fmt.Sprintf("p50 %s, p99 %s, mean %s; %s, %.0f allocs per callback",
		us(p50), us(time.Duration(bare.Metrics["p99-ns"])), us(time.Duration(bare.Metrics["ns/op"])),
		kb(bare.Metrics["B/op"]), bare.Metrics["allocs/op"])
	if emu, err := findBenchmark(res.InProcess, "BenchmarkAcknowledge/fc=fclocal"); err == nil {
		f.Measured += fmt.Sprintf(" (through the local FC emulator: p50 %s, %s, %.0f allocs)",
			us(time.Duration(emu.Metrics["p50-ns"])), kb(emu.Metrics["B/op"]), emu.Metrics["allocs/op"])
	}
	f.Verdict = judge(p50 > 0 && p50 <= targetAckP50)
	return f
}

func historyCost(res results) figure {
	f := figure{Name: "history cost", Target: "flat: the largest at most 1.5x the smallest"}
	var parts []string
	var smallest, largest float64
	for i, n := range historySizes() {
		b, err := findBenchmark(res.InProcess, fmt.Sprint("BenchmarkHistoryRead/stored=", n))
		if err != nil {
			f.Measured = err.Error()
			return f
		}
		ns := b.Metrics["ns/op"]
		parts = append(parts, fmt.Sprintf("%s turns: %s", thousands(n), us(time.Duration(ns))))
		if i == 0 {
			smallest = ns
		}
		largest = ns
	}
	ratio := largest / smallest
	f.Measured = fmt.Sprintf("%s: %.2fx (the last 5 turns read)", strings.Join(parts, ", "), ratio)
	f.Verdict = judge(ratio <= targetHistoryRatio)
	return f
}

// attachmentFigure is the reply process's memory with large pictures and
// a large file.
func attachmentFigure(a attachmentMemory) figure {
	f := figure{Name: "memory with pictures and files, reply", Target: "within the function's 128 MB, the child that reads a file included"}
	if a.Failure != "" || len(a.Pictures) == 0 {
		f.Measured = "not measured"
		if a.Failure != "" {
			f.Measured += ": " + a.Failure
		}
		return f
	}
	var parts []string
	most := a.File + a.FileChild
	for _, n := range pictureCounts() {
		what := fmt.Sprintf("one picture of %d MB", pictureMB)
		if n > 1 {
			what = fmt.Sprintf("%d at once", n)
		}
		parts = append(parts, fmt.Sprintf("%s: %s", what, mb(a.Pictures[n])))
		most = max(most, a.Pictures[n])
	}
	f.Measured = fmt.Sprintf("peak RSS with %s; with a %d MB text file: %s, and the child that read it %s",
		strings.Join(parts, ", "), fileMB, mb(a.File), mb(a.FileChild))
	f.Verdict = judge(a.File > 0 && a.FileChild > 0 && most <= targetFunctionMemory)
	return f
}

// childOverhead is what reading a file in a child process adds to it.
func childOverhead(res results) figure {
	f := figure{Name: "file read in a child process", Target: "at most 20 ms more per file than in process"}
	in, err := findBenchmark(res.InProcess, "BenchmarkRead/reader=in-process")
	if err != nil {
		f.Measured = err.Error()
		return f
	}
	child, err := findBenchmark(res.InProcess, "BenchmarkRead/reader=child")
	if err != nil {
		f.Measured = err.Error()
		return f
	}
	extra := time.Duration(child.Metrics["ns/op"] - in.Metrics["ns/op"])
	f.Measured = fmt.Sprintf("+%s per file (a one-page PDF: %s in process, %s in a child, which used %s of CPU)",
		ms(extra), ms(time.Duration(in.Metrics["ns/op"])), ms(time.Duration(child.Metrics["ns/op"])),
		ms(time.Duration(child.Metrics["child-cpu-ns/op"])))
	f.Verdict = judge(extra <= targetChildOverhead)
	return f
}

func firstVisibleText(ft firstText) figure {
	f := figure{Name: "time to first visible text", Target: "model's first token + at most 300 ms"}
	if !ft.Measured || len(ft.Slips) == 0 {
		f.Measured = "not measured"
		if ft.Failure != "" {
			f.Measured += ": " + ft.Failure
		}
		return f
	}
	f.Measured = fmt.Sprintf("first token + %s median, + %s at most (%d answers streamed onto AI cards at once, over %s each)",
		ms(percentile(ft.Slips, 0.5)), ms(percentile(ft.Slips, 1)), len(ft.Slips), streamTime)
	f.Verdict = judge(percentile(ft.Slips, 1) <= targetFirstTextSlip)
	return f
}

func firstError(e string) string {
	if e == "" {
		return ""
	}
	return "; first error: " + e
}

// renderTable renders the rows as a Markdown table.
func renderTable(rows []figure) string {
	var b strings.Builder
	b.WriteString("| figure | measured | target | |\n| --- | --- | --- | --- |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.Name, cell(r.Measured), r.Target, r.Verdict)
	}
	return b.String()
}

// cell keeps a value inside its Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

// mb is decimal megabytes, so that "at most 20 MB" is read strictly.
func mb(bytes int64) string { return fmt.Sprintf("%.1f MB", float64(bytes)/1e6) }

func kb(bytes float64) string { return fmt.Sprintf("%.1f KB", bytes/1e3) }

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// bucketRows are the answer path's bucket round trips through the OSS API
// and, where the machine could mount the bucket, through the mount alone.
func bucketRows(res results) []figure {
	rows := []figure{bucketFigure(res.Bucket)}
	if len(res.BucketMount.Runs) > 0 {
		rows = append(rows, bucketFigure(res.BucketMount))
	}
	return rows
}

// toolRoundsFigure is the bucket round trips a round of tools costs: made
// one after another, and requests.
func toolRoundsFigure(t toolRounds) figure {
	f := figure{Name: "bucket round trips per round of tools",
		Target: "at most 1 for read-only tools, 2 for others, one request each"}
	if t.Failure != "" || len(t.ReadOnly.Runs) < 2 || len(t.Other.Runs) < 2 {
		f.Measured = "not measured"
		if t.Failure != "" {
			f.Measured += ": " + t.Failure
		}
		return f
	}
	times := func(p toolRoundPath) string {
		var parts []string
		for _, r := range p.Runs {
			parts = append(parts, fmt.Sprintf("%s: %s", r.RoundTrip, ms(percentile(r.Times, 0.5))))
		}
		return strings.Join(parts, ", ")
	}
	ro, other := t.ReadOnly.Serial(), t.Other.Serial()
	f.Measured = fmt.Sprintf("read-only: %.1f one after another (%s); other: %.1f (%s) (slopes over injected round trips, %d rounds at each; a round's p50, its loopback MCP call included: read-only %s; other %s)",
		ro, requestsText(t.ReadOnly.Requests()), other, requestsText(t.Other.Requests()), t.ReadOnly.Runs[0].Rounds,
		times(t.ReadOnly), times(t.Other))
	// A slope is a count measured in time: half a round trip is noise. The
	// requests are counted, exactly.
	f.Verdict = judge(ro <= targetReadOnlyRound+0.5 && other <= targetOtherRound+0.5 &&
		t.ReadOnly.TotalRequests() <= targetReadOnlyRound && t.Other.TotalRequests() <= targetOtherRound)
	return f
}

// bucketFigure is the answer path's bucket round trips through the OSS API.
func bucketFigure(b bucketPath) figure {
	f := figure{Name: "bucket round trips on the answer path", Target: "at most 20 requests per message, 3 one after another before the model, 2 between its answer and the post"}
	switch {
	case b.ThroughMount:
		f.Name += ", through the s3fs-fuse mount alone (no OSS_BUCKET)"
	case b.FUSE:
		f.Name += ", through the OSS API beside an s3fs-fuse mount"
	default:
		f.Name += ", through the OSS API (no FUSE here)"
	}
	if len(b.Runs) < 2 {
		f.Measured = "(not measured)"
		return f
	}
	before, all := b.SerialBeforeModel(), b.SerialToAnswer()
	var times []string
	for _, r := range b.Runs {
		times = append(times, fmt.Sprintf("%s: %s", r.RoundTrip, ms(percentile(r.ToWebhook, 0.5))))
	}
	f.Measured = fmt.Sprintf("%.1f requests per message; %.1f one after another before the model, %.1f after it (slopes over injected round trips; answer at DingTalk p50 %s; %d turns of history)",
		b.MeanRequests(), before, all-before, strings.Join(times, ", "), b.HistoryTurns)
	// A slope is a count measured in time: half a round trip is noise.
	f.Verdict = judge(b.MeanRequests() <= targetBucketRequests && before <= targetSerialBeforeModel+0.5 && all-before <= targetSerialAfterTheModel+0.5)
	return f
}

// cardCallsFigure is the OpenAPI calls of card answers of three lengths.
func cardCallsFigure(calls []cardCalls) figure {
	f := figure{Name: "OpenAPI calls per card answer", Target: fmt.Sprintf("at most 2 + CARD_MAX_UPDATES (%d)", 2+20)}
	if len(calls) == 0 {
		f.Measured = "(not measured)"
		return f
	}
	ok := true
	var parts []string
	for _, c := range calls {
		parts = append(parts, fmt.Sprintf("%s (%d characters over %s): %d", c.Name, c.Chars, c.Duration, c.Calls))
		ok = ok && c.Calls <= 2+20
	}
	f.Measured = strings.Join(parts, "; ") + " (the card's creation and updates; the access token, shared, aside)"
	f.Verdict = judge(ok)
	return f
}
