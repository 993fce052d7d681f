package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

// callbackTemplate is a callback body cut where its msgId goes, so that the
// load generator can send a new message each time for the cost of a copy.
type callbackTemplate struct{ head, tail []byte }

// callbackTemplates builds n callbacks of the fake DingTalk, each from
// another user, in DingTalk's exact shape.
func callbackTemplates(st *devstack.Stack, n int) ([]callbackTemplate, error) {
	out := make([]callbackTemplate, n)
	for i := range out {
		user := fmt.Sprint("bench-user-", i)
		cb := st.DingTalk.TextCallback(dingtalktest.Conversation{ID: "cid-" + user},
			dingtalktest.Sender{ID: "sender-" + user, StaffID: "staff-" + user, Nick: user},
			"帮我总结一下今天的会议纪要，列出三个要点")
		head, tail, ok := bytes.Cut(cb.Body, []byte(cb.MsgID))
		if !ok {
			return nil, fmt.Errorf("the callback body does not hold its msgId %q", cb.MsgID)
		}
		out[i] = callbackTemplate{head: head, tail: tail}
	}
	return out, nil
}

// loadResult is what a load run saw, as DingTalk would.
type loadResult struct {
	Concurrency int
	OK, Failed  int
	// Elapsed is from the first callback sent to the last one answered.
	Elapsed time.Duration
	// Latencies of every answered callback, sorted.
	Latencies  []time.Duration
	FirstError string
	// CPU is the CPU time the conversation process used during the run.
	CPU time.Duration
	// Cores is who used the machine's cores during the run: the share
	// busy, and the cores of the load generator with the local FC.
	Cores cpuShare
}

// ConversationCores is the cores the conversation process used.
func (r loadResult) ConversationCores() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.CPU) / float64(r.Elapsed)
}

// Rate is the callbacks answered 200 per second.
func (r loadResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// CPUPerCallback is the conversation process's CPU time per callback.
func (r loadResult) CPUPerCallback() time.Duration {
	if r.OK+r.Failed == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.OK+r.Failed)
}

// runLoad keeps concurrency callbacks in flight against the conversation
// process for d, each a new message signed as DingTalk signs it, and
// reports progress every few seconds.
func runLoad(ctx context.Context, st *devstack.Stack, concurrency int, d time.Duration, runID string, progress io.Writer) (loadResult, error) {
	templates, err := callbackTemplates(st, concurrency)
	if err != nil {
		return loadResult{}, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// One kept-alive connection per worker, as DingTalk's senders reuse
	// theirs; the default of 2 idle connections per host would make most
	// callbacks dial anew.
	transport.MaxIdleConnsPerHost = concurrency
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	defer transport.CloseIdleConnections()

	cpuBefore, err := st.Conversation.CPUTime()
	if err != nil {
		return loadResult{}, err
	}
	machineBefore, err := sampleCPU()
	if err != nil {
		return loadResult{}, err
	}
	var (
		answered atomic.Int64
		mu       sync.Mutex
		res      = loadResult{Concurrency: concurrency}
		wg       sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lats, ok, failed, firstErr := loadWorker(ctx, client, st, templates[w], deadline, runID+"-"+strconv.Itoa(w), &answered)
			mu.Lock()
			defer mu.Unlock()
			res.Latencies = append(res.Latencies, lats...)
			res.OK += ok
			res.Failed += failed
			if res.FirstError == "" {
				res.FirstError = firstErr
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case t := <-tick.C:
			n := answered.Load()
			fmt.Fprintf(progress, "  %2.0fs: %d callbacks answered, %.0f/s\n", t.Sub(start).Seconds(), n, float64(n)/t.Sub(start).Seconds())
		}
	}
	res.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return loadResult{}, err
	}
	cpuAfter, err := st.Conversation.CPUTime()
	if err != nil {
		return loadResult{}, err
	}
	machineAfter, err := sampleCPU()
	if err != nil {
		return loadResult{}, err
	}
	res.CPU = cpuAfter - cpuBefore
	res.Cores = cpuBetween(machineBefore, machineAfter)
	slices.Sort(res.Latencies)
	return res, nil
}

// loadWorker sends one callback after another until the deadline.
func loadWorker(ctx context.Context, client *http.Client, st *devstack.Stack, t callbackTemplate, deadline time.Time, prefix string, answered *atomic.Int64) (lats []time.Duration, ok, failed int, firstErr string) {
	url := st.Conversation.URL + "/"
	body := make([]byte, 0, len(t.head)+len(prefix)+24+len(t.tail))
	var signedAt, sign string
	for i := 0; ctx.Err() == nil; i++ {
		now := time.Now()
		if !now.Before(deadline) {
			break
		}
		body = append(body[:0], t.head...)
		body = append(body, "msgbench-"+prefix+"-"...)
		body = strconv.AppendInt(body, int64(i), 10)
		body = append(body, t.tail...)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return lats, ok, failed + 1, err.Error()
		}
		if ts := strconv.FormatInt(now.UnixMilli(), 10); ts != signedAt {
			signedAt, sign = ts, dingtalk.Sign(st.AppSecret, ts)
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("timestamp", signedAt)
		req.Header.Set("sign", sign)
		resp, err := client.Do(req)
		if err != nil {
			failed++
			if firstErr == "" {
				firstErr = err.Error()
			}
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat := time.Since(now)
		if resp.StatusCode != http.StatusOK {
			failed++
			if firstErr == "" {
				firstErr = resp.Status
			}
			continue
		}
		ok++
		answered.Add(1)
		lats = append(lats, lat)
	}
	return lats, ok, failed, firstErr
}

// percentile returns the q-quantile (0 to 1) of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1))]
}
