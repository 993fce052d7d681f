package main

import (
	"bytes"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
)

func TestParseBenchOutput(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/dingtalk-llm/fcrobot/internal/conversation
BenchmarkAcknowledge/fc=bare-2         	    7195	    169620 ns/op	    128135 p50-ns	    779376 p99-ns	   44255 B/op	     530 allocs/op
BenchmarkHistoryRead/stored=100000-2     	    9932	    125232 ns/op	        50.00 files	   49032 B/op	     218 allocs/op
BenchmarkOne 	 100	 12.5 ns/op
PASS
ok  	github.com/dingtalk-llm/fcrobot/internal/conversation	2.435s
`
	var progress bytes.Buffer
	got, err := parseBenchOutput(strings.NewReader(out), &progress)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d results, want 3: %+v", len(got), got)
	}
	ack, err := findBenchmark(got, "BenchmarkAcknowledge/fc=bare")
	if err != nil {
		t.Fatal(err)
	}
	if ack.Iterations != 7195 || ack.Metrics["ns/op"] != 169620 || ack.Metrics["p50-ns"] != 128135 ||
		ack.Metrics["B/op"] != 44255 || ack.Metrics["allocs/op"] != 530 {
		t.Errorf("acknowledge: %+v", ack)
	}
	if h, _ := findBenchmark(got, "BenchmarkHistoryRead/stored=100000"); h.Metrics["files"] != 50 {
		t.Errorf("history: %+v", h)
	}
	if _, err := findBenchmark(got, "BenchmarkOne"); err != nil {
		t.Errorf("a name without the GOMAXPROCS suffix: %v", err)
	}
	if _, err := findBenchmark(got, "BenchmarkMissing"); err == nil {
		t.Error("a missing benchmark was found")
	}
	if !strings.Contains(progress.String(), "ok  \tgithub.com") {
		t.Error("go test's lines were not passed on as progress")
	}
}

func TestParseBenchLineRefusesWhatItCannotRead(t *testing.T) {
	for _, line := range []string{
		"BenchmarkX-2 100",
		"BenchmarkX-2 many 1 ns/op",
		"BenchmarkX-2 100 fast ns/op",
		"BenchmarkX-2 100 1 ns/op 2",
	} {
		if _, err := parseBenchLine(line); err == nil {
			t.Errorf("%q: no error", line)
		}
	}
}

func TestCostOfOneRequestPerInstance(t *testing.T) {
	c := functionCost{Spec: functionSpec{CPU: 0.05, MemorySize: 128, InstanceConcurrency: 20}, Duration: 5 * time.Second}
	c.InstanceSeconds = c.Duration.Seconds()
	// 1,000 × 5 s × 0.05 vCPU; 1,000 × 5 s × 0.125 GB; 1,000 invocations.
	if v := c.VCPUSeconds(); math.Abs(v-250) > 1e-9 {
		t.Errorf("vCPU-seconds %v, want 250", v)
	}
	if g := c.GBSeconds(); math.Abs(g-625) > 1e-9 {
		t.Errorf("GB-seconds %v, want 625", g)
	}
	if cu := c.CU(); math.Abs(cu-(250+625*0.15+7.5)) > 1e-9 {
		t.Errorf("CU %v, want 351.25", cu)
	}
}

func TestInstanceSecondsPerRequest(t *testing.T) {
	d := 5 * time.Second
	if got := instanceSecondsPerRequest(3, d, 1); got != 5 {
		t.Errorf("one request per instance: %v s, want the whole 5 s", got)
	}
	// Rare messages seldom overlap: nearly the whole wait each.
	if got := instanceSecondsPerRequest(1.0/86400, d, 20); got < 4.99 || got > 5 {
		t.Errorf("one message a day: %v s, want just under 5 s", got)
	}
	// 100 in flight on average need about 5 instances of 20, busy all the
	// time: about 5 instances ÷ 20 messages a second.
	if got := instanceSecondsPerRequest(20, d, 20); got < 5.0/20 || got > 6.0/20 {
		t.Errorf("100 in flight: %v s, want about 0.25 to 0.3 s", got)
	}
	// More sharing never costs more.
	prev := math.Inf(1)
	for _, rate := range []float64{0.001, 0.01, 0.1, 1, 10} {
		got := instanceSecondsPerRequest(rate, d, 20)
		if got > prev+1e-9 || got > d.Seconds() || got < d.Seconds()/20 {
			t.Errorf("rate %v: %v s, want between d/c and d and falling", rate, got)
		}
		prev = got
	}
}

func TestBilledDurationStretchesCPUToTheFunctionsShare(t *testing.T) {
	if got := billedDuration(time.Millisecond, 200*time.Microsecond, 0.05); got != 4*time.Millisecond {
		t.Errorf("got %v, want 200 µs at a twentieth of a core: 4ms", got)
	}
	if got := billedDuration(10*time.Millisecond, 200*time.Microsecond, 0.05); got != 10*time.Millisecond {
		t.Errorf("got %v, want the longer measured 10ms", got)
	}
}

func TestParseProcStatCPU(t *testing.T) {
	stat := "cpu  100 5 50 800 20 3 2 10 0 0\ncpu0 50 2 25 400 10 1 1 5 0 0\nintr 1\n"
	busy, total, err := parseProcStatCPU([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if busy != 100+5+50+3+2+10 || total != 990 {
		t.Errorf("busy %d, total %d; want 170 and 990", busy, total)
	}
	if _, _, err := parseProcStatCPU([]byte("intr 1\n")); err == nil {
		t.Error("no cpu line: no error")
	}
}

func TestReadSYAML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.yaml")
	yaml := `edition: 3.0.0
resources:
  reply:
    component: fc3
    props:
      functionName: ${vars.replyFunctionName}
      cpu: 0.05
      memorySize: 128
      instanceConcurrency: 20
  conversation:
    component: fc3
    props:
      cpu: 0.1
      memorySize: 256
      instanceConcurrency: 100
`
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	specs, err := readSYAML(path)
	if err != nil {
		t.Fatal(err)
	}
	if r := specs["reply"]; r.CPU != 0.05 || r.MemorySize != 128 || r.InstanceConcurrency != 20 || r.MemoryGB() != 0.125 {
		t.Errorf("reply: %+v", r)
	}
	if c := specs["conversation"]; c.CPU != 0.1 || c.MemorySize != 256 || c.InstanceConcurrency != 100 {
		t.Errorf("conversation: %+v", c)
	}
	if err := os.WriteFile(path, []byte("resources:\n  reply:\n    props:\n      cpu: 0.05\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readSYAML(path); err == nil {
		t.Error("an s.yaml without the sizes: no error")
	}
}

func TestTheRepositorysSYAMLHasTheSizes(t *testing.T) {
	if _, err := readSYAML("../../s.yaml"); err != nil {
		t.Fatal(err)
	}
}

// sampleResults are results as a run could give them, with every figure
// set.
func sampleResults() results {
	ms := func(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }
	lats := func(p50, p99 time.Duration) []time.Duration {
		out := make([]time.Duration, 100)
		for i := range out {
			out[i] = p50
		}
		out[98], out[99] = p99, p99
		return out
	}
	return results{
		Machine: machine{CPU: "Test CPU", Cores: 2, Go: "go1.26", OS: "Linux", Date: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), Commit: "abc1234"},
		InProcess: []goBenchmark{
			{Name: "BenchmarkAcknowledge/fc=bare", Metrics: map[string]float64{"ns/op": 150e3, "p50-ns": 120e3, "p99-ns": 700e3, "B/op": 44000, "allocs/op": 530}},
			{Name: "BenchmarkAcknowledge/fc=fclocal", Metrics: map[string]float64{"ns/op": 200e3, "p50-ns": 160e3, "p99-ns": 900e3, "B/op": 65000, "allocs/op": 775}},
			{Name: "BenchmarkHistoryRead/stored=10", Metrics: map[string]float64{"ns/op": 100e3}},
			{Name: "BenchmarkHistoryRead/stored=1000", Metrics: map[string]float64{"ns/op": 120e3}},
			{Name: "BenchmarkHistoryRead/stored=100000", Metrics: map[string]float64{"ns/op": 160e3}},
			{Name: "BenchmarkMessageWrites", Metrics: map[string]float64{"ns/op": 2e6, "claim-ns": 500e3, "turn-ns": 600e3, "answer-ns": 400e3, "sent-ns": 300e3, "delivered-ns": 300e3}},
			{Name: "BenchmarkRead/reader=in-process", Metrics: map[string]float64{"ns/op": 300e3}},
			{Name: "BenchmarkRead/reader=child", Metrics: map[string]float64{"ns/op": 4.3e6, "child-cpu-ns/op": 3e6}},
		},
		Load100:       loadResult{Concurrency: 100, OK: 120000, Elapsed: 20 * time.Second, Latencies: lats(ms(15), ms(40)), CPU: 120000 * 175 * time.Microsecond},
		Load10:        loadResult{Concurrency: 10, OK: 100000, Elapsed: 20 * time.Second, Latencies: lats(ms(1.5), ms(6))},
		Reply:         replyOverhead{Messages: 100, ToWebhook: lats(ms(3), ms(4)), RoundTrip: lats(ms(4.5), ms(5.5)), CPU: ms(3.5)},
		ReplyInMemory: &replyOverhead{Messages: 100, ToWebhook: lats(ms(0.8), ms(2)), RoundTrip: lats(ms(1.1), ms(2.5)), CPU: ms(0.9)},
		ReplyLoad:     replyLoad{Concurrency: 20, OK: 3000, Elapsed: 5 * time.Second},
		ColdStarts: map[string]coldStarts{
			devstack.ConversationFunction: {Wall: []time.Duration{ms(4)}, CPU: []time.Duration{ms(3.5)}},
			devstack.ReplyFunction:        {Wall: []time.Duration{ms(60)}, CPU: []time.Duration{ms(8)}},
		},
		Idle:   map[string]devstack.Memory{"conversation": {PeakRSS: 8e6}, "reply": {PeakRSS: 8e6}},
		Loaded: map[string]devstack.Memory{"conversation": {PeakRSS: 24e6}, "reply": {PeakRSS: 17e6}},
		Sizes:  map[string]int64{"conversation": 8.5e6, "reply": 16e6},
		SYAML: map[string]functionSpec{
			"conversation": {CPU: 0.05, MemorySize: 128, InstanceConcurrency: 100},
			"reply":        {CPU: 0.05, MemorySize: 128, InstanceConcurrency: 20},
		},
		Attachments: attachmentMemory{Pictures: map[int]int64{1: 26e6, 2: 37e6}, File: 28e6, FileChild: 80e6},
		ToolRounds: toolRounds{
			ReadOnly: toolRoundPathOf(1, 1, ms(2), ms(12), ms(32)),
			Other:    toolRoundPathOf(2, 2, ms(3), ms(23), ms(63)),
		},
	}
}

// toolRoundPathOf is a kind of round at 0, 10 and 30 ms injected, each
// round making puts PutObject requests and timed as times says.
func toolRoundPathOf(rounds, puts int, times ...time.Duration) toolRoundPath {
	var p toolRoundPath
	for i, rt := range bucketRoundTrips() {
		p.Runs = append(p.Runs, toolRoundRun{RoundTrip: rt, Rounds: rounds,
			Requests: map[string]int{"PutObject": rounds * puts}, Times: []time.Duration{times[i]}})
	}
	return p
}

func TestFiguresJudgeEachTarget(t *testing.T) {
	verdicts := map[string]verdict{}
	for _, f := range figures(sampleResults()) {
		verdicts[f.Name] = f.Verdict
	}
	want := map[string]verdict{
		"acknowledge path, in process":           met,    // p50 120 µs
		"acknowledge under load":                 met,    // 6000/s, no error
		"acknowledge latency":                    missed, // p99 6 ms
		"reply overhead, mount folder on disk":   missed, // p50 3 ms
		"reply overhead, mount folder in memory": met,
		"cold start, conversation":               met,
		"cold start, reply":                      missed, // 60 ms
		"memory idle, conversation":              met,
		"memory under load, reply":               met,
		"history cost":                           missed, // 1.6x
		"file read in a child process":           met,    // +4 ms
		"memory with pictures and files, reply":  met,    // 28 + 80 MB
		"package size, conversation":             met,
		"package size, reply":                    missed, // 16 MB
		"time to first visible text":             notMeasured,
		"bucket round trips per round of tools":  met,
	}
	for name, v := range want {
		got, ok := verdicts[name]
		if !ok {
			t.Errorf("no row %q", name)
			continue
		}
		if got != v {
			t.Errorf("%s: %v, want %v", name, got, v)
		}
	}
}

func TestFirstVisibleTextIsJudgedByTheSlowestCard(t *testing.T) {
	ms := func(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }
	for _, tt := range []struct {
		slips []time.Duration
		want  verdict
	}{
		{[]time.Duration{ms(2), ms(3), ms(250)}, met},
		{[]time.Duration{ms(2), ms(3), ms(301)}, missed},
		{nil, notMeasured},
	} {
		f := firstVisibleText(firstText{Measured: tt.slips != nil, Slips: tt.slips})
		if f.Verdict != tt.want {
			t.Errorf("slips %v: %v, want %v", tt.slips, f.Verdict, tt.want)
		}
	}
}

func TestAFailedCallbackMissesTheThroughputTarget(t *testing.T) {
	res := sampleResults()
	res.Load100.Failed = 1
	for _, f := range figures(res) {
		if f.Name == "acknowledge under load" && f.Verdict != missed {
			t.Errorf("one error in the load run: %v, want missed", f.Verdict)
		}
	}
}

func TestTheReportHasEverySection(t *testing.T) {
	report, err := renderReport(sampleResults(), options{Benchtime: "1s", LoadDuration: 20 * time.Second, ColdRuns: 20, ReplyMessages: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"commit abc1234", "Test CPU, 2 cores, go1.26", "2026-11-23 12:00 UTC",
		"| acknowledge path, in process | p50 120 µs",
		"## How each figure is measured", "## What bounds each figure", "## Cost on FC 3.0",
		"### What instanceConcurrency changes", "| time to first visible text | not measured |",
		"0.00011 CNY per CU", "*Assumption",
		"| bucket round trips per round of tools | read-only: 1.0 one after another (1 PutObject); other: 2.0 (2 PutObject)",
		"**A round of tools.**", "(1 PutObject for a read-only round, 2 PutObject for any other, measured above)",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if strings.Contains(report, "<no value>") || strings.Contains(report, "%!") {
		t.Errorf("the report holds a value it could not print:\n%s", report)
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	getenv := func(string) string { return "" }
	for _, args := range [][]string{
		{"bench", "-runs", "0"},
		{"bench", "-load", "-1s"},
		{"bench", "extra"},
		{"bench", "-no-such-flag"},
		{"bench", "-only", "cards"},
	} {
		if err := run(t.Context(), args, getenv, io.Discard, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	var help bytes.Buffer
	if err := run(t.Context(), []string{"bench", "-h"}, getenv, io.Discard, &help); err != nil || !strings.Contains(help.String(), "-benchtime") {
		t.Errorf("-h: %v\n%s", err, help.String())
	}
}

func TestBucketRoundTripsAreTheSlopeOfTheTimes(t *testing.T) {
	ms := func(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }
	run := func(rt time.Duration, toModel, toWebhook time.Duration, requests float64) bucketRun {
		return bucketRun{RoundTrip: rt, Messages: 1, Requests: map[string]float64{"GetObject": requests},
			ToModel: []time.Duration{toModel}, ToWebhook: []time.Duration{toWebhook}}
	}
	b := bucketPath{HistoryTurns: 5, Runs: []bucketRun{
		run(0, ms(4), ms(8), 14),
		run(10*time.Millisecond, ms(24), ms(48), 14),
		run(30*time.Millisecond, ms(64), ms(128), 14),
	}}
	if got := b.SerialBeforeModel(); got < 1.99 || got > 2.01 {
		t.Errorf("before the model: %.2f round trips, want 2", got)
	}
	if got := b.SerialToAnswer(); got < 3.99 || got > 4.01 {
		t.Errorf("to the answer: %.2f round trips, want 4", got)
	}
	if f := bucketFigure(b); f.Verdict != met || !strings.Contains(f.Measured, "14.0 requests per message") {
		t.Errorf("figure %+v", f)
	}
	b.Runs[2].ToModel = []time.Duration{ms(4 + 30*4)} // 4 round trips before the model
	if f := bucketFigure(b); f.Verdict != missed {
		t.Errorf("4 round trips before the model met the budget: %+v", f)
	}
	if f := bucketFigure(bucketPath{}); f.Verdict != notMeasured {
		t.Errorf("no runs: %+v", f)
	}
}

func TestToolRoundsAreTheSlopeOfTheRoundsTimes(t *testing.T) {
	ms := func(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }
	rounds := toolRounds{
		ReadOnly: toolRoundPathOf(20, 1, ms(2), ms(12), ms(32)),
		Other:    toolRoundPathOf(20, 2, ms(3), ms(23), ms(63)),
	}
	if got := rounds.ReadOnly.Serial(); got < 0.99 || got > 1.01 {
		t.Errorf("read-only: %.2f round trips, want 1", got)
	}
	if got := rounds.Other.Serial(); got < 1.99 || got > 2.01 {
		t.Errorf("other: %.2f round trips, want 2", got)
	}
	f := toolRoundsFigure(rounds)
	if f.Verdict != met || !strings.Contains(f.Measured, "read-only: 1.0 one after another (1 PutObject); other: 2.0 (2 PutObject)") {
		t.Errorf("figure %+v", f)
	}

	twice := rounds
	twice.ReadOnly = toolRoundPathOf(20, 2, ms(2), ms(22), ms(62)) // its two writes one after the other
	if f := toolRoundsFigure(twice); f.Verdict != missed {
		t.Errorf("two round trips for a read-only round met the budget: %+v", f)
	}
	atOnce := rounds
	atOnce.ReadOnly = toolRoundPathOf(20, 2, ms(2), ms(12), ms(32)) // two writes at once: one round trip, two requests
	if f := toolRoundsFigure(atOnce); f.Verdict != missed || !strings.Contains(f.Measured, "(2 PutObject)") {
		t.Errorf("two writes for a read-only round met the budget: %+v", f)
	}
	three := rounds
	three.Other = toolRoundPathOf(20, 2, ms(3), ms(33), ms(93))
	if f := toolRoundsFigure(three); f.Verdict != missed {
		t.Errorf("three round trips for another tool's round met the budget: %+v", f)
	}

	if f := toolRoundsFigure(toolRounds{}); f.Verdict != notMeasured {
		t.Errorf("no runs: %+v", f)
	}
	if f := toolRoundsFigure(toolRounds{Failure: "the model was not offered docs__create_ticket"}); f.Verdict != notMeasured ||
		!strings.Contains(f.Measured, "not offered") {
		t.Errorf("a failure: %+v", f)
	}
}

func TestToolRoundRequestsAreCountedOverEveryRound(t *testing.T) {
	p := toolRoundPath{Runs: []toolRoundRun{
		{Rounds: 20, Requests: map[string]int{"PutObject": 20}},
		{Rounds: 20, Requests: map[string]int{"PutObject": 20, "GetObject": 20}},
	}}
	if got := requestsText(p.Requests()); got != "0.5 GetObject, 1 PutObject" {
		t.Errorf("requests %q", got)
	}
	if got := p.TotalRequests(); got != 1.5 {
		t.Errorf("%v requests per round, want 1.5", got)
	}
	if got := requestsText(nil); got != "no request" {
		t.Errorf("no requests: %q", got)
	}
}

func TestOnlyPrintsRowsOfTheFullTable(t *testing.T) {
	res := sampleResults()
	full := figures(res)
	for name, p := range parts() {
		rows := p.rows(res)
		if len(rows) == 0 {
			t.Errorf("-only %s prints no row", name)
		}
		for _, r := range rows {
			if !slices.Contains(full, r) {
				t.Errorf("-only %s prints %q, which the full table does not hold as it is", name, r.Name)
			}
		}
	}
}
