package main

import (
	"fmt"
	"strings"
	"text/template"
	"time"
)

// reportData is what docs/performance.md is written from.
type reportData struct {
	Res   results
	Opt   options
	Table string
	// Fig holds the formatted figures the prose quotes.
	Fig map[string]string
	// Cost is each function's cost with one request per instance; Shared
	// the cost per arrival pattern with s.yaml's instanceConcurrency and
	// with one request per instance.
	Cost   costModel
	Shared []sharedCost
}

type sharedCost struct {
	Pattern                       arrivalPattern
	ReplyShared, ReplyAlone       float64 // instance seconds per message
	TotalShared, TotalAlone       float64 // CU per 1,000 messages
	ReplyPerInstanceAtConcurrency float64 // mean requests in flight
}

// renderReport is docs/performance.md.
func renderReport(res results, o options) (string, error) {
	d := reportData{Res: res, Opt: o, Table: renderTable(figures(res)), Fig: map[string]string{}, Cost: newCostModel(res)}
	conv, reply := d.Cost.Conversation.Spec, d.Cost.Reply.Spec
	for _, a := range arrivalPatterns() {
		shared := d.Cost.shared(a.Rate(), conv.InstanceConcurrency, reply.InstanceConcurrency)
		alone := d.Cost.shared(a.Rate(), 1, 1)
		d.Shared = append(d.Shared, sharedCost{
			Pattern:     a,
			ReplyShared: shared.Reply.InstanceSeconds, ReplyAlone: alone.Reply.InstanceSeconds,
			TotalShared: shared.Total(), TotalAlone: alone.Total(),
			ReplyPerInstanceAtConcurrency: a.Rate() * d.Cost.Reply.Duration.Seconds(),
		})
	}
	if w, err := findBenchmark(res.InProcess, "BenchmarkMessageWrites"); err == nil {
		for _, step := range []string{"claim", "turn", "answer", "sent", "delivered"} {
			d.Fig["write-"+step] = us(time.Duration(w.Metrics[step+"-ns"]))
		}
		before := time.Duration(w.Metrics["claim-ns"] + w.Metrics["turn-ns"] + w.Metrics["answer-ns"])
		d.Fig["writes-before-post"] = ms(before)
	}
	if in, err := findBenchmark(res.InProcess, "BenchmarkRead/reader=in-process"); err == nil {
		if child, err := findBenchmark(res.InProcess, "BenchmarkRead/reader=child"); err == nil {
			cpu := time.Duration(child.Metrics["child-cpu-ns/op"])
			d.Fig["child-extra"] = ms(time.Duration(child.Metrics["ns/op"] - in.Metrics["ns/op"]))
			d.Fig["child-cpu"] = ms(cpu)
			d.Fig["child-cpu-fc"] = ms(time.Duration(float64(cpu) / reply.CPU))
		}
	}
	if cpu := res.Load100.CPUPerCallback(); cpu > 0 {
		d.Fig["ack-instance-rate"] = fmt.Sprintf("%.0f", conv.CPU/cpu.Seconds())
	}
	if bare, err := findBenchmark(res.InProcess, "BenchmarkAcknowledge/fc=bare"); err == nil {
		d.Fig["ack-p99"] = us(time.Duration(bare.Metrics["p99-ns"]))
	}
	d.Fig["reply-load-time"] = res.ReplyLoad.Elapsed.Round(time.Second).String()
	d.Fig["tool-warmup"] = fmt.Sprint(toolWarmup)
	tmpl, err := template.New("performance").Funcs(reportFuncs()).Parse(reportText)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

func reportFuncs() template.FuncMap {
	return template.FuncMap{
		"ms": ms, "us": us, "mb": mb, "reqs": requestsText,
		"p":     func(q float64, d []time.Duration) time.Duration { return percentile(d, q) },
		"f1":    func(v float64) string { return fmt.Sprintf("%.1f", v) },
		"f2":    func(v float64) string { return fmt.Sprintf("%.2f", v) },
		"f3":    func(v float64) string { return fmt.Sprintf("%.3f", v) },
		"cny":   func(cu float64) string { return fmt.Sprintf("%.4f", cu*cnyPerCU) },
		"usd":   func(cu float64) string { return fmt.Sprintf("%.5f", cu*usdPerCU) },
		"secs":  func(d time.Duration) string { return fmt.Sprintf("%.4f", d.Seconds()) },
		"pct":   func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) },
		"date":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"ratio": func(a, b float64) string { return fmt.Sprintf("%.0f%%", 100*(1-a/b)) },
		// stretch is how long CPU time takes at a fraction of a core.
		"stretch": func(cpu time.Duration, vcpu float64) time.Duration { return time.Duration(float64(cpu) / vcpu) },
	}
}

// reportText is the template of docs/performance.md. The prices it quotes
// are the constants of cost.go.
const reportText = `# Performance

Written by ` + "`make bench`" + ` (` + "`cmd/bench`" + `) on {{date .Res.Machine.Date}}, commit {{.Res.Machine.Commit}}.

Machine: {{.Res.Machine.CPU}}, {{.Res.Machine.Cores}} cores, {{.Res.Machine.Go}}, {{.Res.Machine.OS}}.
It is a virtual machine whose 2 cores are shared with other work, so every figure here is one
run's and moves by a fifth or more from run to run. The load generator, the local FC endpoint
and the fakes run on the same 2 cores as the function they measure. No test fails on a time:
this file reports, it does not judge a build.

## Results

{{.Table}}
## How each figure is measured

Everything runs on loopback. The programs are built as ` + "`make build`" + ` builds them for FC (static,
stripped, linux/amd64) and started through ` + "`internal/devstack`" + ` with the environment FC would give
them, at the default verbosity (25: the NOTICE line per message and FC's ` + "`FC Invoke Start/End`" + `
markers are written, as in production). The fake model answers at once with a typical answer
(about 300 characters).

- **acknowledge path, in process**: ` + "`BenchmarkAcknowledge`" + ` in ` + "`internal/conversation`" + ` (Go's harness,
  ` + "`-benchmem`" + `, ` + "`-benchtime {{.Opt.Benchtime}}`" + `). One signed group callback in DingTalk's shape goes
  through the custom-runtime wrapper, the signature check, the parse, the event and the signed
  InvokeFunction call, through the real FC client (the official OpenAPI core), over loopback to
  an endpoint that answers 202 (` + "`fc=bare`" + `), or to the local FC emulator, which also checks the
  ACS3 signature and delivers the event to a sink (` + "`fc=fclocal`" + `). p50 and p99 are of single callbacks;
  B/op and allocs/op count the whole process, the endpoint's side included.
- **acknowledge under load** and **acknowledge latency**: the real ` + "`conversation`" + ` process, with
  the local FC endpoint in front of a sink that accepts every event at once (FC's deliveries run on
  other machines in production). {{.Res.Load100.Concurrency}}, then {{.Res.Load10.Concurrency}}, workers each send
  one new signed callback after another for {{.Opt.LoadDuration}} over kept-alive connections; every callback is a
  new message. An error is anything but a 200. CPU per callback is the process's CPU time (all
  threads, from ` + "`/proc/<pid>/task/*/schedstat`" + `) over the callbacks sent.
- **reply overhead**: the real ` + "`reply`" + ` process. {{.Opt.ReplyMessages}} events (after 50 to warm up) are
  delivered one at a time as FC delivers them (` + "`POST /invoke`" + ` with FC's headers), from 10 users so that
  each history grows past HISTORY_LENGTH. The time runs from sending ` + "`/invoke`" + ` to the answer's arrival
  at the fake DingTalk, noted by a pass-through proxy in front of it. Measured twice: with the
  folder that stands for the OSS mount on this machine's disk (ext4), and on tmpfs (memory). Both
  read and write the folder as files alone (as without ` + "`OSS_BUCKET`" + `), the figures the robot had before it
  used OSS's API.
- **bucket round trips on the answer path**: the real ` + "`reply`" + ` process with ` + "`OSS_BUCKET`" + ` set, reading and
  writing the bucket through the local OSS-compatible server (` + "`internal/oss/osstest`" + `, its objects the files
  of a folder), which delays every request by an injected round trip of 0, 10 and 30 ms. One user
  asks {{.Opt.BucketMessages}} questions one at a time, each with 5 turns of history; the server counts the bucket
  requests of each, and the time runs from sending ` + "`/invoke`" + ` to the model's request and to the answer at
  the fake DingTalk. How many round trips are made one after another is the slope of those times
  against the injected round trip (from 0 to 30 ms). The reply instance has its own s3fs-fuse mount of
  the bucket where the machine can mount one (` + "`devstack.Config.FUSE`" + `), as FC gives it ossfs, but with
  ` + "`OSS_BUCKET`" + ` set the answer path does not touch the mount. For comparison the same is measured with the
  reply function reading and writing through that mount alone ({{.Opt.BucketMessages}}/4 questions), as it did before
  it used OSS's API: every new file there is a lookup (HEAD of the name, of the name with a slash, a
  listing) and an upload. On FC the API calls go to the region's internal OSS endpoint.
- **bucket round trips per round of tools**: the real ` + "`reply`" + ` process with ` + "`OSS_BUCKET`" + ` set, over the local
  OSS-compatible server at the same injected round trips (0, 10 and 30 ms), with ` + "`MCP_SERVERS`" + ` naming one MCP
  server that the bench serves on loopback (` + "`internal/mcp/mcptest`" + `, built with the official SDK: a read-only
  ` + "`search_docs`" + `, and a ` + "`create_ticket`" + ` that is not read-only, listed in ` + "`trust`" + ` for the second case). The fake
  model asks for one call on the first request of each message (` + "`docs__search_docs`" + `, then, on new reply
  instances, ` + "`docs__create_ticket`" + `) and answers on the next. After {{index .Fig "tool-warmup"}} messages to warm up (the first
  lists the server's tools, which the instance keeps), one user asks {{.Opt.BucketMessages}} questions one at a time. A
  round's time runs from the moment the model's answer with the call is handed back to be sent to the
  arrival of its next request, which carries the call's result; the bucket requests made in between are
  counted. The tool's own time, a loopback MCP call, is the same at every injected round trip, so the
  slope of the round's median time against it is the bucket round trips the round makes one after another.
- **cold start**: a new process of each function is executed {{.Opt.ColdRuns}} times; the time runs from the exec
  to its first successful answer, asked for as soon as it logs that it listens and again every 0.5 ms
  until one comes: for conversation a signed callback answered 200 (the local FC accepted the
  invocation), for reply an ` + "`/invoke`" + ` answered 200 (the answer was posted to DingTalk). The
  process's CPU time at that moment is shown too.
- **memory**: peak resident set (VmHWM in ` + "`/proc/<pid>/status`" + `): idle is right after start, before any
  request; under load is conversation after both load runs, and reply after
  {{.Res.ReplyLoad.Concurrency}} messages at a time (s.yaml's instanceConcurrency) for {{index .Fig "reply-load-time"}}.
  MB are 10^6 bytes.
- **history cost**: ` + "`BenchmarkHistoryRead`" + ` in ` + "`internal/bucket`" + `: the last 5 turns (HISTORY_LENGTH's
  default) of one owner, with the default Keep, after 10, 1,000 and 100,000 turns were stored.
- **memory with pictures and files**: the reply process's peak RSS, each time on a new process, after one
  picture of 10 MB (random bytes, as a photo is) and after two sent at once by two users, with ` + "`VISION_MODEL`" + `
  set; and after a 50 MB text file (` + "`MAX_FILE_MB`" + `'s largest), with the peak RSS of the child process that
  read it (its ` + "`getrusage`" + `, from the reply function's debug line), of which 50 MB are the file's pages,
  mapped from the page cache.
- **file read in a child process**: ` + "`BenchmarkRead`" + ` in ` + "`internal/document/forked`" + `: a one-page PDF of 40
  lines, half CJK, read in process (` + "`document.Reader`" + `) and by the reply program, built as above, started as
  the child that reads one file (` + "`forked.Reader`" + ` with its default limits), one file after another. The
  child's CPU time is that of the children that ended (` + "`getrusage(RUSAGE_CHILDREN)`" + `).
- **package size**: the stripped linux/amd64 program, as ` + "`dist/<function>/bootstrap`" + ` ships.
- **time to first visible text**: the robot with an AI card template (` + "`CARD_TEMPLATE_ID`" + `, the app's key
  and secret, the default ` + "`CARD_UPDATE_INTERVAL`" + ` of 300 ms) and a model that streams each answer over
  5 s, starting the moment it is asked (the worst case: its first token races the card's creation).
  Five messages from five users are sent at once; for each, the time runs from the model's first
  token to the arrival at the fake DingTalk of the card's first update that shows text of the
  answer rather than the placeholder the card was created with.

## What bounds each figure

**The acknowledge path.** Profiled with ` + "`perf`" + ` on the real process under load and with
` + "`go test -cpuprofile/-memprofile`" + ` on ` + "`BenchmarkAcknowledge`" + `. About a third of the function's CPU and
70% of its allocations are inside the official OpenAPI core's ` + "`CallApiWithCtx`" + `, beyond the HTTP call itself:
it reads the body into memory, builds and sorts header maps to sign, writes a debug log record it
then discards, and makes each request's nonce from the goroutine's id, which it parses out of a
formatted stack trace (` + "`runtime.Stack`" + `, about 9% of the CPU alone). Allocating and collecting
garbage, mostly for those allocations, takes about a fifth. The work the path needs is small beside it: the HMAC
check is under 1%, parsing the callback about 5%, the event's JSON about 4%, the log line about 3%.
The SDK is the project's chosen way to sign FC calls (docs/protocols.md §10), so it stays; a hand-written
ACS3 signer is the lever left, worth up to the SDK's share above.

Found and fixed by profiling: the FC client's transport kept at most 2 idle connections (Go's
default per host), so under concurrency every call but two dialed a new connection to the FC
endpoint (on FC, a TLS handshake too); dialing was 13% of the function's CPU under load. It now
keeps up to 200, FC's largest instanceConcurrency (` + "`internal/fc`" + `, with a test that a second burst
of calls opens no connection). Measured here when it was fixed (2026-11-23, one run each), that
took the CPU per callback from about 240 µs to about 175 µs and the load run from about 4,300 to
about 6,000 callbacks/s; handing the local FC's deliveries to a sink without a network hop then
freed the harness's share of the cores for another 10%.

**Acknowledge under load and latency.** Each callback costs the function
{{us .Res.Load100.CPUPerCallback}} of CPU here; at FC's 0.05 vCPU one instance can then
acknowledge about {{index .Fig "ack-instance-rate"}} callbacks/s before FC has to add instances. The load
generator and the local FC emulator (which checks every signature with the same SDK) take most of
the other core. With {{.Res.Load10.Concurrency}} callbacks in flight the two cores run about
{{pct .Res.Load10.Cores.Machine}} busy, so a callback's time is mostly its wait behind the others and behind
the collector: the p99 is a queue's tail on two shared cores, not work done for that callback
(in process, one callback at a time, the p99 is {{index .Fig "ack-p99"}}). Less CPU per callback (see
above) is what would shorten it. A larger GOGC (an environment variable of the function) trades
memory for collector time: tried here once, GOGC=400 took the CPU per callback from about 175 to
140 µs and the peak RSS under load from about 24 to 44 MB, over this table's 40 MB, while the p99
stayed near 6 ms; so the default stays.

**Reply overhead.** With the mount's folder in memory the reply path costs
{{if .Res.ReplyInMemory}}p50 {{ms (p 0.5 .Res.ReplyInMemory.ToWebhook)}}{{else}}(not measured){{end}}: the history read, the call to the model, the post, the
JSON and the log lines. On disk it costs p50 {{ms (p 0.5 .Res.Reply.ToWebhook)}}, because before the answer is
posted the reply function writes three new files, each created, written and closed, with no
fsync (on the OSS mount the close is what uploads; ` + "`BenchmarkMessageWrites`" + `, on this disk): the claim
on the message ({{index .Fig "write-claim"}}, in a new folder) before the model is asked, then, at once, the
turn ({{index .Fig "write-turn"}}, which also prunes the oldest) and the kept answer ({{index .Fig "write-answer"}});
{{index .Fig "writes-before-post"}} for the three one after another; after the post come the
receipt of the part sent ({{index .Fig "write-sent"}}) and of delivery ({{index .Fig "write-delivered"}}).
The CPU per message tells the same: {{us .Res.Reply.CPU}} on disk{{if .Res.ReplyInMemory}} against {{us .Res.ReplyInMemory.CPU}} in memory{{end}},
the difference being the file system's work to create, list and delete files.
These write-once files are what answers each message once across FC's retries and instances
(docs/protocols.md §11 and §12), so their number, not the code, sets the overhead. On FC's OSS
mount each is a request to OSS rather than a local write, so there the overhead is that of
OSS writes before the post (two of them at once), which this machine cannot measure. Posting
before saving the turn would take another write off the user's wait, but a user quick to ask
again could then find the answer missing from the history, so the turn is saved first.

**Cold start.** A static Go program starts and answers in a few milliseconds of CPU
(conversation {{ms (p 0.5 (index .Res.ColdStarts "conversation").CPU)}}, reply {{ms (p 0.5 (index .Res.ColdStarts "reply").CPU)}}, medians; reply's includes its first
files on the mount). If FC ran the start at the function's 0.05 vCPU, that CPU alone would take
{{ms (stretch (p 0.5 (index .Res.ColdStarts "conversation").CPU) .Cost.Conversation.Spec.CPU)}} and {{ms (stretch (p 0.5 (index .Res.ColdStarts "reply").CPU) .Cost.Reply.Spec.CPU)}}; FC's own part (placing the instance, fetching the
code package) is not measurable here and usually larger.

**Memory and size.** Idle, each program is the Go runtime, the standard library's HTTP stack and
the SDK. Under load the conversation function's heap follows the callbacks in flight, up to 100;
the reply function with {{.Res.ReplyLoad.Concurrency}} messages in flight stays far below its 128 MB. The
programs are about 8 MB stripped; the OpenAPI core and its dependencies (credentials, a SM crypto
library, an XML converter) are a good part of that.

**Time to first visible text.** The card is created (with a placeholder) while the model is
asked, and its first update goes out as soon as both the card exists and a token has come; only
later updates wait out CARD_UPDATE_INTERVAL. So the figure is one streaming update's round trip
here, plus, with a model faster than the card's creation, what is left of that creation. Against
DingTalk it is those two OpenAPI calls over the network, which this machine cannot measure.

**File read in a child process.** Each file a user sends is read by a process of its own
(docs/files.md): the reply program started again, its runtime's start, its limits set, the file
mapped, the text written back through a pipe. That adds {{index .Fig "child-extra"}} to a file here, of which the
child's CPU is {{index .Fig "child-cpu"}}; at FC's {{.Cost.Reply.Spec.CPU}} vCPU that CPU alone takes about {{index .Fig "child-cpu-fc"}}, beside a
download from DingTalk's storage and a model's answer that take seconds. It buys a reader that no file
can crash, fill the function's memory with, or keep busy past its limits.

**Memory with pictures and files.** A picture is held once, as its bytes, from its download until the
model answered: the request's body is its JSON with each picture's base64 encoded into it as it is sent
(docs/files.md). Before, its base64, the data URL and the request's JSON each held it again, and one
10 MB picture took the process to 111 MB, two to 150 MB. An instance holds at most 20 MB of pictures at
once. A file is not held at all: it streams to disk, and the child that reads it maps it.

**A round of tools.** Before the model reads a round's results, the round (what the model wrote
with its calls, the calls and their results) is written to the bucket once, write-once under the
message (` + "`tools-<n>.json`" + `, ` + "`internal/bucket/toolrounds.go`" + `), so that a retry, a twin or a takeover replays it
rather than calling a tool again. A round with a call that may change something is also written
before its calls are made (` + "`intent-<n>.json`" + `): an attempt that died during the call leaves it recorded
without an outcome, and the call is not made again. These writes are the bucket's whole share of a
round{{if .Res.ToolRounds.ReadOnly.Runs}} ({{reqs .Res.ToolRounds.ReadOnly.Requests}} for a read-only round, {{reqs .Res.ToolRounds.Other.Requests}} for any other, measured above){{end}}, and the
calls of one round share them; each of them is one round trip the user waits for, beside the tool's
own call and the model's next turn. On FC they go to the region's internal OSS endpoint.

**History cost.** Flat by design: every save prunes the owner's turns to Keep (50), so a read lists
at most 50 names and opens the last 5, however many turns were ever stored.

## Cost on FC 3.0

FC 3.0 bills compute units (CU) with these weights (docs/protocols.md §15): 1 CU per active vCPU-second,
0.15 CU per GB-second of memory, 75 CU per 10,000 invocations. *Reading used here:* an instance is
active, and billed at its configured size, while it has at least one request in flight, whether
it computes or waits (Alibaba Cloud's pay-as-you-go page defines an active instance as one that is
executing requests); idle vCPU, free, is that of an instance kept with no request in flight.
s.yaml's comment that the reply function's wait on the model "costs no active vCPU" reads
"active" as "computing"; by the reading above the wait is billed, and it is most of the bill. s.yaml deploys both functions at {{.Cost.Conversation.Spec.CPU}} vCPU and
{{.Cost.Conversation.Spec.MemorySize}} MB ({{f3 .Cost.Conversation.Spec.MemoryGB}} GB), conversation with instanceConcurrency
{{.Cost.Conversation.Spec.InstanceConcurrency}} and reply with {{.Cost.Reply.Spec.InstanceConcurrency}}.

A message is two invocations: conversation acknowledges it, reply answers it. How long each holds
its instance, from the figures above, with a model that takes 5 s:

- conversation: d_c = max(acknowledge p50 at {{.Res.Load10.Concurrency}} in flight, CPU per callback ÷ vCPU)
  = max({{ms (p 0.5 .Res.Load10.Latencies)}}, {{us .Res.Load100.CPUPerCallback}} ÷ {{.Cost.Conversation.Spec.CPU}}) = **{{ms .Cost.Conversation.Duration}}**.
  The CPU term is the callback's CPU time stretched to a twentieth of a core. The call to FC's API
  over the region's network is not in it: it cannot be measured here.
- reply: d_r = 5 s + max(reply's /invoke p50 on disk, CPU per message ÷ vCPU)
  = 5 s + max({{ms (p 0.5 .Res.Reply.RoundTrip)}}, {{us .Res.Reply.CPU}} ÷ {{.Cost.Reply.Spec.CPU}}) = **{{secs .Cost.Reply.Duration}} s**, with the
  CPU measured on disk, the larger of the two.

Per message, when no two requests share an instance (the most a message can cost):

    CU = Σ over the two functions of ( vCPU × d × 1  +  GB × d × 0.15  +  1 × 75/10,000 )

| per 1,000 messages | d | vCPU-seconds | GB-seconds | invocations | CU |
| --- | --- | --- | --- | --- | --- |
| conversation | {{secs .Cost.Conversation.Duration}} s | {{f3 .Cost.Conversation.VCPUSeconds}} | {{f3 .Cost.Conversation.GBSeconds}} | 1,000 | {{f1 .Cost.Conversation.CU}} |
| reply | {{secs .Cost.Reply.Duration}} s | {{f1 .Cost.Reply.VCPUSeconds}} | {{f1 .Cost.Reply.GBSeconds}} | 1,000 | {{f1 .Cost.Reply.CU}} |
| **total** | | | | 2,000 | **{{f1 .Cost.Total}}** |

So 1,000 messages cost at most **{{f1 .Cost.Total}} CU**. Nearly all of it is the reply function waiting 5 s
for the model at 0.05 vCPU and 128 MB; conversation's share is almost only its invocation charge,
so its speed hardly shows in the bill. docs/protocols.md §15 gives no price for a CU. *Assumption, from
Alibaba Cloud's published pay-as-you-go list prices of the first monthly tier since 2024-08-27:*
0.00011 CNY per CU on the China site, 0.000020 USD per CU on the international one, which makes
this about {{cny .Cost.Total}} CNY or {{usd .Cost.Total}} USD per 1,000 messages. The model's own bill, OSS requests and
storage are not included.

### What instanceConcurrency changes

FC bills an instance while it has at least one request in flight, not per request. With
instanceConcurrency c, one reply instance waits on up to c model calls at once, and the time they
overlap is billed once. If messages arrive at random at λ per second and each holds an instance for
d, the requests in flight number N ~ Poisson(λd); packed into as few instances as FC can, ⌈N/c⌉
instances are active, and the billed instance time per message is E[⌈N/c⌉] / λ. With c = 1 that is
d: every message pays its whole wait. The same 1,000 messages, reply at d_r = {{secs .Cost.Reply.Duration}} s:

| 1,000 messages arriving | messages in flight (λd) | reply instance-seconds per message, c = {{.Cost.Reply.Spec.InstanceConcurrency}} | c = 1 | CU per 1,000, s.yaml's c | c = 1 | saved |
| --- | --- | --- | --- | --- | --- | --- |
{{range .Shared}}| {{.Pattern.Name}} | {{f2 .ReplyPerInstanceAtConcurrency}} | {{f2 .ReplyShared}} s | {{f2 .ReplyAlone}} s | {{f1 .TotalShared}} | {{f1 .TotalAlone}} | {{ratio .TotalShared .TotalAlone}} |
{{end}}
When messages are rare, they seldom overlap and concurrency saves nothing: each waits alone. When
they come in bursts, one instance waiting on many model calls at once costs a fraction of one
instance per call: the bill is per instance, and one instance's wait covers every call waiting
in it.
What bounds c is the memory of the requests in flight: with {{.Res.ReplyLoad.Concurrency}} at once the reply
process peaked at {{mb (index .Res.Loaded "reply").PeakRSS}} of its 128 MB. Conversation's requests last
milliseconds, so its instanceConcurrency of {{.Cost.Conversation.Spec.InstanceConcurrency}} matters for absorbing a burst on few instances, not
for the bill.

*Not modelled (assumptions, from Alibaba Cloud's notice on billing changes from 2025-12-09):*
an instance started for a request is kept about a minute after its last request and billed by
its state in that time, and a function with any use in an hour is billed at least 0.01 CNY for
that hour. For a quiet robot that minimum, not the CU above, is most of the bill: 1,000 messages
spread over a day that touch both functions every hour cost 2 × 24 × 0.01 = 0.48 CNY.

## Reproduce

    make bench                      # builds, measures (about two minutes), writes this file
    go run ./cmd/bench -h           # the flags: shorter runs, another output file
    go run ./cmd/bench -only tools  # one measurement alone (bucket, tools): prints its rows, writes no file

The in-process benchmarks also run in ` + "`make test`" + ` with ` + "`-benchtime 100x`" + `, so that they keep compiling
and running; their times are not checked there.
`
