package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/mcp/mcptest"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
	"github.com/dingtalk-llm/fcrobot/internal/oss/osstest"
)

// A round of tools is recorded in the bucket before the model reads it, so
// that each call is made once per message across FC's retries: a round of
// read-only calls in one write, a round with a call that may change
// something in two (its calls before they are made, then the round). The
// figure is what that costs the answer, measured as the bucket round trips
// made one after another between the model asking for the tools and the
// model being asked again with their results.

// toolWarmup are the messages each reply instance answers before the
// timed ones: the first lists the MCP server's tools, which the instance
// then keeps, and opens its session.
const toolWarmup = 3

// mcpServerName is the MCP server's name in MCP_SERVERS, which prefixes
// the names of its tools as the model is offered them.
const mcpServerName = "docs"

// toolKind is a kind of round: the one call the model asks for, and
// whether the operator trusts the tool (a tool that is not read-only is
// offered only then).
type toolKind struct {
	Name      string
	Tool      string
	Arguments string
	Trust     bool
}

// toolKinds are the rounds measured: a read-only tool, then one that is
// not.
func toolKinds() []toolKind {
	return []toolKind{
		{Name: "read-only", Tool: mcptest.SearchDocs, Arguments: `{"query":"部署"}`},
		{Name: "other", Tool: mcptest.CreateTicket, Arguments: `{"title":"部署失败"}`, Trust: true},
	}
}

// offeredName is the tool's name as the model is offered it.
func (k toolKind) offeredName() string { return mcpServerName + "__" + k.Tool }

// toolRounds is what a round of tools costs, by kind.
type toolRounds struct {
	ReadOnly, Other toolRoundPath
	// Failure is why it could not be measured.
	Failure string
}

// toolRoundPath is one kind of round at each injected bucket round trip.
type toolRoundPath struct {
	Runs []toolRoundRun
}

// toolRoundRun is one kind of round at one injected bucket round trip.
type toolRoundRun struct {
	RoundTrip time.Duration
	Rounds    int
	// Requests is the bucket requests of all its rounds, by operation.
	Requests map[string]int
	// Times run from the model's answer with the tool calls to its next
	// request, which carries their results: the round's time, the tool's
	// own call included. Sorted.
	Times []time.Duration
}

// Serial is how many bucket round trips a round makes one after another:
// the slope of its time against the injected round trip. The tool's own
// time, a loopback call, is the same at every round trip.
func (p toolRoundPath) Serial() float64 {
	if len(p.Runs) < 2 {
		return 0
	}
	first, last := p.Runs[0], p.Runs[len(p.Runs)-1]
	return roundTripSlope(first.RoundTrip, last.RoundTrip, first.Times, last.Times)
}

// Requests is the bucket requests per round over the runs, by operation.
func (p toolRoundPath) Requests() map[string]float64 {
	total, rounds := map[string]int{}, 0
	for _, r := range p.Runs {
		for op, n := range r.Requests {
			total[op] += n
		}
		rounds += r.Rounds
	}
	out := map[string]float64{}
	for op, n := range total {
		out[op] = float64(n) / float64(max(rounds, 1))
	}
	return out
}

// perRound is the run's bucket requests per round, by operation.
func (r toolRoundRun) perRound() map[string]float64 {
	return toolRoundPath{Runs: []toolRoundRun{r}}.Requests()
}

// TotalRequests is the bucket requests per round over the runs.
func (p toolRoundPath) TotalRequests() float64 {
	var n float64
	for _, v := range p.Requests() {
		n += v
	}
	return n
}

// roundTripSlope is how many round trips a span makes one after another:
// the growth of its median from the round trip rt0 to rt1, per round trip.
func roundTripSlope(rt0, rt1 time.Duration, spans0, spans1 []time.Duration) float64 {
	d := percentile(spans1, 0.5) - percentile(spans0, 0.5)
	return float64(d) / float64(rt1-rt0)
}

// requestsText names the requests by operation: "1 PutObject", "2
// PutObject, 0.5 GetObject".
func requestsText(requests map[string]float64) string {
	if len(requests) == 0 {
		return "no request"
	}
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(requests)) {
		n := strconv.FormatFloat(float64(int64(requests[op]*10+0.5))/10, 'f', -1, 64)
		parts = append(parts, n+" "+op)
	}
	return strings.Join(parts, ", ")
}

// measureToolRounds times a round of each kind of tool, at each injected
// bucket round trip, on a new reply instance each time, through the local
// OSS API, with the tools of an MCP server served here on loopback.
func measureToolRounds(ctx context.Context, binDir, work string, messages int, p *progress) (toolRounds, error) {
	var res toolRounds
	docs := mcptest.NewServer()
	srv := httptest.NewServer(docs)
	defer srv.Close()
	for _, k := range toolKinds() {
		var path toolRoundPath
		for _, rt := range bucketRoundTrips() {
			p.step("reply: %d rounds of %s (%s tool), one message at a time, each bucket request delayed %s", messages, k.Tool, k.Name, rt)
			run, err := measureToolRoundRun(ctx, binDir, work, srv.URL, docs, k, rt, messages)
			if err != nil {
				return res, fmt.Errorf("%s tool at %s: %w", k.Name, rt, err)
			}
			p.step("reply: %s per round; round p50 %s", requestsText(run.perRound()), ms(percentile(run.Times, 0.5)))
			path.Runs = append(path.Runs, run)
		}
		switch k.Name {
		case "read-only":
			res.ReadOnly = path
		default:
			res.Other = path
		}
	}
	return res, nil
}

// modelTurn is one request to the fake model, as it saw it.
type modelTurn struct {
	// At is when the request arrived (the question's answer) or when the
	// tool calls were handed back to be sent (a request that asks for
	// tools).
	At time.Time
	// ToolRounds are the rounds the request carries.
	ToolRounds int
	// Offered tells whether the request offered the tool.
	Offered bool
	// Bucket is the bucket's request count at At, by operation.
	Bucket map[string]int
}

func measureToolRoundRun(ctx context.Context, binDir, work, mcpURL string, docs *mcptest.Server, k toolKind, rt time.Duration, messages int) (_ toolRoundRun, err error) {
	dataDir, err := os.MkdirTemp(work, "oss-tools-")
	if err != nil {
		return toolRoundRun{}, err
	}
	server := map[string]any{"name": mcpServerName, "url": mcpURL}
	if k.Trust {
		server["trust"] = []string{k.Tool}
	}
	servers, err := json.Marshal([]any{server})
	if err != nil {
		return toolRoundRun{}, err
	}

	var mu sync.Mutex
	var bucket *osstest.Server // set once the stack is up
	var turns []modelTurn
	counts := func() map[string]int { // under mu
		if bucket == nil {
			return nil
		}
		return bucket.Requests()
	}
	model := func(_ context.Context, req openaitest.Request) openaitest.Response {
		t := modelTurn{ToolRounds: req.ToolRounds()}
		_, t.Offered = req.Tool(k.offeredName())
		mu.Lock()
		defer mu.Unlock()
		if t.ToolRounds == 0 {
			// The calls go back now: the round starts here.
			t.Bucket = counts()
			t.At = time.Now()
			turns = append(turns, t)
			return openaitest.Response{ToolCalls: []openaitest.ToolCall{{Name: k.offeredName(), Arguments: k.Arguments}}}
		}
		// The results have come: the round ended here.
		t.At = time.Now()
		t.Bucket = counts()
		turns = append(turns, t)
		var b strings.Builder
		for _, m := range req.ToolResults() {
			b.WriteString(m.Content + "\n")
		}
		return openaitest.Response{Content: "查到了：\n" + b.String()}
	}
	st, err := startStackWith(ctx, devstack.Config{
		BinDir: binDir, DataDir: dataDir, OSSDelay: rt, Model: model,
		ReplyEnv: map[string]string{"MCP_SERVERS": string(servers)},
	})
	if err != nil {
		return toolRoundRun{}, err
	}
	defer func() { err = errors.Join(err, closeStack(st)) }()
	mu.Lock()
	bucket = st.OSS
	mu.Unlock()
	clock, err := newWebhookClock(st.DingTalk.URL())
	if err != nil {
		return toolRoundRun{}, err
	}
	defer clock.Close()
	msgs := replyMessages{st: st, webhook: clock}
	client := &http.Client{Timeout: time.Minute}
	defer client.CloseIdleConnections()

	run := toolRoundRun{RoundTrip: rt, Rounds: messages, Requests: map[string]int{}}
	for i := range toolWarmup + messages {
		payload, taskID, err := msgs.event("tools-user", fmt.Sprint("第 ", i, " 个问题：帮我查一下部署文档"))
		if err != nil {
			return run, err
		}
		mu.Lock()
		before := len(turns)
		mu.Unlock()
		calls := docs.Calls(k.Tool)
		status, err := invokeReply(ctx, client, st.Reply.URL, payload, taskID)
		if err != nil {
			return run, err
		}
		if status != http.StatusOK {
			return run, fmt.Errorf("reply answered /invoke with %d", status)
		}
		if n := docs.Calls(k.Tool) - calls; n != 1 {
			return run, fmt.Errorf("message %d: the tool was called %d times", i, n)
		}
		mu.Lock()
		asked := slices.Clone(turns[before:])
		mu.Unlock()
		if len(asked) != 2 || asked[0].ToolRounds != 0 || asked[1].ToolRounds != 1 {
			return run, fmt.Errorf("message %d: the model was asked %d times; want once for the tool and once with its result", i, len(asked))
		}
		if !asked[0].Offered {
			return run, fmt.Errorf("message %d: the model was not offered %s", i, k.offeredName())
		}
		if i < toolWarmup {
			continue
		}
		run.Times = append(run.Times, asked[1].At.Sub(asked[0].At))
		for op, n := range asked[1].Bucket {
			if d := n - asked[0].Bucket[op]; d != 0 {
				run.Requests[op] += d
			}
		}
	}
	slices.Sort(run.Times)
	return run, nil
}
