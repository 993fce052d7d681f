package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// results is everything one run measured.
type results struct {
	Machine machine
	// Go benchmark results (BenchmarkAcknowledge, BenchmarkHistoryRead).
	InProcess []goBenchmark
	// Load100 is the throughput run, Load10 the latency run.
	Load100, Load10 loadResult
	// Reply is the reply overhead with the mount's folder on this machine's
	// disk; ReplyInMemory with it on tmpfs, which leaves the code's own cost
	// (nil when there is no tmpfs).
	Reply         replyOverhead
	ReplyInMemory *replyOverhead
	ReplyLoad     replyLoad
	// Bucket is the answer path through the local OSS API at injected
	// bucket round trips.
	Bucket bucketPath
	// BucketMount is the same path through the FUSE mount alone (no runs
	// where the machine cannot mount).
	BucketMount bucketPath
	// ToolRounds is what a round of tools costs at injected bucket round
	// trips.
	ToolRounds toolRounds
	// Cold starts by function.
	ColdStarts map[string]coldStarts
	// Memory by function, before any traffic and after the load runs.
	Idle, Loaded map[string]devstack.Memory
	// Sizes of the stripped programs by function, in bytes.
	Sizes     map[string]int64
	FirstText firstText
	// CardCalls are the OpenAPI calls of card answers of three lengths.
	CardCalls []cardCalls
	// SYAML are the functions' sizes as s.yaml deploys them.
	SYAML map[string]functionSpec
	// Attachments is the reply process's memory with large pictures and
	// files.
	Attachments attachmentMemory
}

// functions are the robot's two programs, in the order the table lists them.
func functions() []string {
	return []string{devstack.ConversationFunction, devstack.ReplyFunction}
}

// measure runs every measurement, printing progress as it goes.
func measure(ctx context.Context, o options, p *progress) (results, error) {
	res := results{
		ColdStarts: map[string]coldStarts{},
		Idle:       map[string]devstack.Memory{},
		Loaded:     map[string]devstack.Memory{},
		Sizes:      map[string]int64{},
	}
	root, err := devstack.ModuleRoot(ctx)
	if err != nil {
		return res, err
	}
	if res.Machine, err = describeMachine(ctx, root); err != nil {
		return res, err
	}
	if res.SYAML, err = readSYAML(filepath.Join(root, "s.yaml")); err != nil {
		return res, err
	}
	p.step("%s", res.Machine)

	work, err := os.MkdirTemp("", "fcrobot-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(work)
	binDir := filepath.Join(work, "bin")
	p.step("building conversation and reply as `make build` does (static, stripped, linux/amd64)")
	if err := devstack.BuildRelease(ctx, binDir); err != nil {
		return res, err
	}
	for _, f := range functions() {
		info, err := os.Stat(filepath.Join(binDir, f))
		if err != nil {
			return res, err
		}
		res.Sizes[f] = info.Size()
	}

	if o.Only != "" {
		return res, parts()[o.Only].measure(ctx, o, binDir, work, &res, p)
	}

	p.step("in-process benchmarks: go test -bench '%s' -benchtime %s %v", inProcessPattern, o.Benchtime, inProcessPackages())
	if res.InProcess, err = runGoBenchmarks(ctx, o.GoCmd, root, o.Benchtime, filepath.Join(binDir, devstack.ReplyFunction), p); err != nil {
		return res, err
	}

	if err := measureConversation(ctx, o, binDir, filepath.Join(work, "oss-conversation"), &res, p); err != nil {
		return res, err
	}
	if err := measureReply(ctx, o, binDir, filepath.Join(work, "oss-reply"), &res, p); err != nil {
		return res, err
	}
	if mem, ok := memoryDir(); ok {
		dir, err := os.MkdirTemp(mem, "fcrobot-bench-oss-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		overhead, err := measureReplyInMemory(ctx, o, binDir, dir, p)
		if err != nil {
			return res, err
		}
		res.ReplyInMemory = &overhead
	}

	if err := measureBucket(ctx, o, binDir, work, &res, p); err != nil {
		return res, err
	}
	if err := measureTools(ctx, o, binDir, work, &res, p); err != nil {
		return res, err
	}

	p.step("reply: memory with %d MB pictures and a %d MB file", pictureMB, fileMB)
	if res.Attachments, err = measureAttachments(ctx, binDir, filepath.Join(work, "oss-attachments")); err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		first, _, _ := strings.Cut(err.Error(), "\n")
		res.Attachments = attachmentMemory{Failure: first}
		p.step("memory with attachments NOT measured: %s", first)
	}

	p.step("OpenAPI calls of a short, a typical and a long answer on AI cards")
	if res.CardCalls, err = measureCardCalls(ctx, binDir, filepath.Join(work, "oss-calls")); err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		first, _, _ := strings.Cut(err.Error(), "\n")
		p.step("card calls NOT measured: %s", first)
	}

	p.step("time to first visible text: %d answers streamed onto AI cards over %s at once", cardMessages, streamTime)
	// The card is the newest feature: should it fail here, the rest of the
	// run still stands, and the row says why it is missing.
	if res.FirstText, err = measureFirstVisibleText(ctx, binDir, filepath.Join(work, "oss-card")); err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		first, _, _ := strings.Cut(err.Error(), "\n") // the rest is the programs' output
		res.FirstText = firstText{Failure: first}
		p.step("first visible text NOT measured: %v", err)
	} else {
		p.step("first visible text: first token + %s (median)", percentile(res.FirstText.Slips, 0.5))
	}
	return res, nil
}

// part is a measurement that -only runs alone: it measures into res, and
// rows are the table's rows of what it measured.
type part struct {
	measure func(ctx context.Context, o options, binDir, work string, res *results, p *progress) error
	rows    func(res results) []figure
}

// parts are the measurements -only can name.
func parts() map[string]part {
	return map[string]part{
		"bucket": {measure: measureBucket, rows: bucketRows},
		"tools":  {measure: measureTools, rows: func(res results) []figure { return []figure{toolRoundsFigure(res.ToolRounds)} }},
	}
}

// measureBucket measures the answer path's bucket round trips through the
// OSS API and, for comparison, through the FUSE mount alone.
func measureBucket(ctx context.Context, o options, binDir, work string, res *results, p *progress) error {
	var err error
	if res.Bucket, err = measureBucketPath(ctx, binDir, work, o.BucketMessages, false, p); err != nil {
		return err
	}
	// For comparison, the way it went before OSS_BUCKET: every file a
	// lookup and an upload through ossfs's kind of mount.
	res.BucketMount, err = measureBucketPath(ctx, binDir, work, max(o.BucketMessages/4, 1), true, p)
	return err
}

// measureTools measures what a round of tools costs. The tools are the
// newest feature: should this fail, the rest of the run still stands, and
// the row says why it is missing.
func measureTools(ctx context.Context, o options, binDir, work string, res *results, p *progress) error {
	var err error
	if res.ToolRounds, err = measureToolRounds(ctx, binDir, work, o.BucketMessages, p); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		first, _, _ := strings.Cut(err.Error(), "\n") // the rest is the programs' output
		res.ToolRounds = toolRounds{Failure: first}
		p.step("tool rounds NOT measured: %v", err)
	}
	return nil
}

// startStack starts the robot from the programs in binDir, at the default
// verbosity (the lines an operator gets in production are part of the
// cost), with a model that answers at once.
// startStack starts the robot with the mount's folder alone, as the
// figures before the OSS API were taken: the reply function reads and
// writes the folder as files.
func startStack(ctx context.Context, binDir, dataDir string, replySink bool) (*devstack.Stack, error) {
	return startStackWith(ctx, devstack.Config{
		BinDir:    binDir,
		DataDir:   dataDir,
		Model:     openaitest.Answer(modelAnswer()),
		ReplySink: replySink,
		MountOnly: true,
	})
}

func startStackWith(ctx context.Context, cfg devstack.Config) (*devstack.Stack, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, err
	}
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cfg.Logger = slog.New(slog.DiscardHandler)
	return devstack.Start(startCtx, cfg)
}

// measureConversation takes the conversation function's figures: memory
// idle, cold starts, the load runs and memory after them. The local FC
// hands the events to a sink, so that the runs measure this function only.
func measureConversation(ctx context.Context, o options, binDir, dataDir string, res *results, p *progress) (err error) {
	p.step("conversation: starting the robot (the local FC delivers to a sink)")
	st, err := startStack(ctx, binDir, dataDir, true)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeStack(st)) }()
	name := devstack.ConversationFunction
	if res.Idle[name], err = st.Conversation.Memory(); err != nil {
		return err
	}

	p.step("conversation: %d cold starts, exec to the first signed callback answered 200", o.ColdRuns)
	if res.ColdStarts[name], err = measureColdStarts(ctx, binDir, name, st.Env(name), o.ColdRuns, conversationAnswer(st)); err != nil {
		return err
	}

	p.step("conversation: load, 100 callbacks at a time for %s", o.LoadDuration)
	if res.Load100, err = runLoad(ctx, st, 100, o.LoadDuration, "c100", p); err != nil {
		return err
	}
	p.step("conversation: %.0f callbacks/s, %d errors", res.Load100.Rate(), res.Load100.Failed)
	p.step("conversation: latency, 10 callbacks at a time for %s", o.LoadDuration)
	if res.Load10, err = runLoad(ctx, st, 10, o.LoadDuration, "c10", p); err != nil {
		return err
	}
	p.step("conversation: p50 %s, p99 %s", percentile(res.Load10.Latencies, 0.5), percentile(res.Load10.Latencies, 0.99))
	res.Loaded[name], err = st.Conversation.Memory()
	return err
}

// measureReply takes the reply function's figures: memory idle, cold
// starts, its overhead one message at a time, a run at its
// instanceConcurrency, and memory after it.
func measureReply(ctx context.Context, o options, binDir, dataDir string, res *results, p *progress) (err error) {
	p.step("reply: starting the robot (the model answers at once)")
	st, err := startStack(ctx, binDir, dataDir, false)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeStack(st)) }()
	clock, err := newWebhookClock(st.DingTalk.URL())
	if err != nil {
		return err
	}
	defer clock.Close()
	name := devstack.ReplyFunction
	if res.Idle[name], err = st.Reply.Memory(); err != nil {
		return err
	}

	p.step("reply: %d cold starts, exec to the first /invoke answered 200 with the answer posted", o.ColdRuns)
	if res.ColdStarts[name], err = measureColdStarts(ctx, binDir, name, st.Env(name), o.ColdRuns, replyAnswer(replyMessages{st: st, webhook: clock})); err != nil {
		return err
	}

	p.step("reply: overhead, %d messages one at a time, /invoke sent to the answer at DingTalk", o.ReplyMessages)
	if res.Reply, err = measureReplyOverhead(ctx, st, clock, 50, o.ReplyMessages, p); err != nil {
		return err
	}
	p.step("reply: p50 %s, p99 %s", percentile(res.Reply.ToWebhook, 0.5), percentile(res.Reply.ToWebhook, 0.99))

	concurrency := res.SYAML[name].InstanceConcurrency
	loadFor := min(o.LoadDuration, 5*time.Second)
	p.step("reply: %d messages at a time (s.yaml's instanceConcurrency) for %s", concurrency, loadFor)
	if res.ReplyLoad, err = runReplyLoad(ctx, st, clock, concurrency, loadFor); err != nil {
		return err
	}
	p.step("reply: %d messages answered, %d failed", res.ReplyLoad.OK, res.ReplyLoad.Failed)
	res.Loaded[name], err = st.Reply.Memory()
	return err
}

// measureReplyInMemory measures the reply overhead again with the mount's
// folder in memory: what is left is the code's own cost, without the
// disk's file system.
func measureReplyInMemory(ctx context.Context, o options, binDir, dataDir string, p *progress) (_ replyOverhead, err error) {
	p.step("reply: overhead again with the mount's folder in memory (%s)", dataDir)
	st, err := startStack(ctx, binDir, dataDir, false)
	if err != nil {
		return replyOverhead{}, err
	}
	defer func() { err = errors.Join(err, closeStack(st)) }()
	clock, err := newWebhookClock(st.DingTalk.URL())
	if err != nil {
		return replyOverhead{}, err
	}
	defer clock.Close()
	res, err := measureReplyOverhead(ctx, st, clock, 50, o.ReplyMessages, p)
	if err != nil {
		return replyOverhead{}, err
	}
	p.step("reply: in memory, p50 %s, p99 %s", percentile(res.ToWebhook, 0.5), percentile(res.ToWebhook, 0.99))
	return res, nil
}

// memoryDir is a tmpfs folder (memory-backed) to hold a stand-in for the
// mount, if the machine has one.
func memoryDir() (string, bool) {
	const tmpfsMagic = 0x01021994
	var fs syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &fs); err != nil || fs.Type != tmpfsMagic {
		return "", false
	}
	return "/dev/shm", true
}

func closeStack(st *devstack.Stack) error {
	if err := st.Close(); err != nil {
		return fmt.Errorf("stopping the robot: %w", err)
	}
	return nil
}
