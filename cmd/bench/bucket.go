package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// bucketRoundTrips are the injected bucket round trips the answer path is
// timed at: the slope of its time against them is how many round trips it
// makes one after another.
func bucketRoundTrips() []time.Duration {
	return []time.Duration{0, 10 * time.Millisecond, 30 * time.Millisecond}
}

// bucketRun is the answer path at one injected bucket round trip.
type bucketRun struct {
	RoundTrip time.Duration
	Messages  int
	// Requests is the bucket requests per message, by operation.
	Requests map[string]float64
	// ToModel is from /invoke sent to the model's request; ToWebhook to
	// the answer at DingTalk. Sorted.
	ToModel, ToWebhook []time.Duration
}

// TotalRequests is the bucket requests per message.
func (r bucketRun) TotalRequests() float64 {
	var n float64
	for _, v := range r.Requests {
		n += v
	}
	return n
}

// bucketPath is the answer path measured over the local OSS-compatible
// server.
type bucketPath struct {
	Runs []bucketRun
	// HistoryTurns is the history each message is asked with.
	HistoryTurns int
	// FUSE tells whether each reply instance had its s3fs-fuse mount of
	// the bucket; ThroughMount whether it read and wrote through it (no
	// OSS_BUCKET) rather than through the API.
	FUSE, ThroughMount bool
}

// slope is how many round trips a span makes one after another: the
// growth of its median per injected round trip, between the smallest and
// the largest.
func (b bucketPath) slope(span func(bucketRun) []time.Duration) float64 {
	if len(b.Runs) < 2 {
		return 0
	}
	first, last := b.Runs[0], b.Runs[len(b.Runs)-1]
	return roundTripSlope(first.RoundTrip, last.RoundTrip, span(first), span(last))
}

// SerialBeforeModel and SerialToAnswer are the slopes of the time to the
// model's request and to the answer at DingTalk.
func (b bucketPath) SerialBeforeModel() float64 {
	return b.slope(func(r bucketRun) []time.Duration { return r.ToModel })
}

func (b bucketPath) SerialToAnswer() float64 {
	return b.slope(func(r bucketRun) []time.Duration { return r.ToWebhook })
}

// MeanRequests is the bucket requests per message over the runs.
func (b bucketPath) MeanRequests() float64 {
	var n float64
	for _, r := range b.Runs {
		n += r.TotalRequests()
	}
	return n / float64(max(len(b.Runs), 1))
}

// measureBucketPath times the answer path with the reply function reading
// and writing the bucket through the local OSS API (throughMount false) or
// through its FUSE mount alone, at each injected round trip, one message at
// a time, each asked with a full history. The reply instance has its
// s3fs-fuse mount when the machine can mount one.
func measureBucketPath(ctx context.Context, binDir, work string, messages int, throughMount bool, p *progress) (bucketPath, error) {
	const historyTurns = 5 // HISTORY_LENGTH's default
	res := bucketPath{HistoryTurns: historyTurns, FUSE: devstack.FUSEAvailable() == nil, ThroughMount: throughMount}
	if throughMount && !res.FUSE {
		return res, nil
	}
	way := "the OSS API"
	if throughMount {
		way = "its s3fs-fuse mount alone"
	}
	for _, rt := range bucketRoundTrips() {
		p.step("reply: %d messages through %s, each bucket request delayed %s", messages, way, rt)
		run, err := measureBucketRun(ctx, binDir, work, res, rt, messages)
		if err != nil {
			return res, err
		}
		p.step("reply: %.1f bucket requests per message; model asked after %s, answer at DingTalk after %s (p50)",
			run.TotalRequests(), ms(percentile(run.ToModel, 0.5)), ms(percentile(run.ToWebhook, 0.5)))
		res.Runs = append(res.Runs, run)
	}
	return res, nil
}

func measureBucketRun(ctx context.Context, binDir, work string, path bucketPath, rt time.Duration, messages int) (_ bucketRun, err error) {
	historyTurns := path.HistoryTurns
	dataDir, err := os.MkdirTemp(work, "oss-bucket-")
	if err != nil {
		return bucketRun{}, err
	}
	var mu sync.Mutex
	var asked []time.Time
	var replyEnv map[string]string
	if path.ThroughMount {
		replyEnv = map[string]string{"OSS_BUCKET": ""} // the mount alone, as without OSS_BUCKET
	}
	st, err := startStackWith(ctx, devstack.Config{
		BinDir: binDir, DataDir: dataDir, OSSDelay: rt, FUSE: path.FUSE, ReplyEnv: replyEnv,
		Model: func(_ context.Context, _ openaitest.Request) openaitest.Response {
			mu.Lock()
			asked = append(asked, time.Now())
			mu.Unlock()
			return openaitest.Response{Content: modelAnswer()}
		},
	})
	if err != nil {
		return bucketRun{}, err
	}
	defer func() { err = errors.Join(err, closeStack(st)) }()
	clock, err := newWebhookClock(st.DingTalk.URL())
	if err != nil {
		return bucketRun{}, err
	}
	defer clock.Close()
	msgs := replyMessages{st: st, webhook: clock}
	client := &http.Client{Timeout: time.Minute}
	defer client.CloseIdleConnections()

	run := bucketRun{RoundTrip: rt, Messages: messages, Requests: map[string]float64{}}
	for i := range historyTurns + messages {
		payload, taskID, err := msgs.event("bucket-user", fmt.Sprint("第 ", i, " 个问题"))
		if err != nil {
			return run, err
		}
		measured := i >= historyTurns
		if measured {
			st.OSS.ResetRequests()
			clock.armed.Store(true)
		}
		mu.Lock()
		before := len(asked)
		mu.Unlock()
		start := time.Now()
		status, err := invokeReply(ctx, client, st.Reply.URL, payload, taskID)
		if err != nil {
			return run, err
		}
		if status != http.StatusOK {
			return run, fmt.Errorf("reply answered /invoke with %d", status)
		}
		if !measured {
			continue
		}
		clock.armed.Store(false)
		select {
		case at := <-clock.arrivals:
			run.ToWebhook = append(run.ToWebhook, at.Sub(start))
		case <-time.After(5 * time.Second):
			return run, fmt.Errorf("message %d: no answer reached DingTalk", i)
		}
		mu.Lock()
		if len(asked) != before+1 {
			mu.Unlock()
			return run, fmt.Errorf("message %d: the model was asked %d times", i, len(asked)-before)
		}
		run.ToModel = append(run.ToModel, asked[before].Sub(start))
		mu.Unlock()
		for op, n := range st.OSS.Requests() {
			run.Requests[op] += float64(n) / float64(messages)
		}
	}
	slices.Sort(run.ToModel)
	slices.Sort(run.ToWebhook)
	return run, nil
}
