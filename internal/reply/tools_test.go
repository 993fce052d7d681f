package reply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/bucket"
	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/fcruntime"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// toolModel is a model that asks for tools: turn decides its completion
// for each prompt it is asked.
type toolModel struct {
	mu    sync.Mutex
	asked []chat.Prompt
	turn  func(ctx context.Context, p chat.Prompt) (chat.Completion, error)
}

func (m *toolModel) Complete(ctx context.Context, p chat.Prompt) (chat.Completion, error) {
	m.mu.Lock()
	m.asked = append(m.asked, p)
	m.mu.Unlock()
	return m.turn(ctx, p)
}

func (m *toolModel) Stream(ctx context.Context, p chat.Prompt, onDelta func(string) error) (chat.Completion, error) {
	c, err := m.Complete(ctx, p)
	if err == nil && c.Text != "" && len(c.ToolCalls) == 0 {
		err = onDelta(c.Text)
	}
	return c, err
}

func (m *toolModel) prompts() []chat.Prompt {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]chat.Prompt(nil), m.asked...)
}

// searchThenAnswer calls web_search with the question until a result
// comes back, then answers from the last result.
func searchThenAnswer(_ context.Context, p chat.Prompt) (chat.Completion, error) {
	if n := len(p.Rounds); n > 0 {
		return chat.Completion{Text: "根据搜索：" + p.Rounds[n-1].Results[0].Content, Usage: chat.Usage{Prompt: 100, Completion: 10}}, nil
	}
	return chat.Completion{
		Reasoning: "要搜一下",
		ToolCalls: []chat.ToolCall{{ID: "call-1", Name: "web_search", Arguments: `{"query":"` + p.Question + `"}`}},
		Usage:     chat.Usage{Prompt: 50, Completion: 5},
	}, nil
}

// fakeTools are a web search (read only) and a ticket maker (not), which
// count their calls.
type fakeTools struct {
	mu    sync.Mutex
	calls map[string]int
	// block, when set, holds every call until it is closed or the call's
	// context ends.
	block       chan struct{}
	searchFirst bool
	missing     []string
	// result, when set, is every call's result.
	result string
}

func (f *fakeTools) Offer(context.Context) ([]chat.Tool, []string) {
	return []chat.Tool{{Name: "web_search", Description: "搜索网页"}, {Name: "create_ticket", Description: "建工单"}}, f.missing
}

func (f *fakeTools) Describe(call chat.ToolCall) chat.ToolUse {
	if call.Name == "create_ticket" {
		return chat.ToolUse{Status: "🔧 正在使用 create_ticket…", Label: "docs.create_ticket"}
	}
	return chat.ToolUse{Status: "🔍 正在搜索：" + call.Arguments, Label: "web_search", ReadOnly: true}
}

func (f *fakeTools) Call(ctx context.Context, call chat.ToolCall) string {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[call.Name]++
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return "cancelled"
		}
	}
	if f.result != "" {
		return f.result
	}
	return call.Name + " 的结果"
}

func (f *fakeTools) SearchFirst(question string) (chat.ToolCall, bool) {
	if !f.searchFirst || question == "" {
		return chat.ToolCall{}, false
	}
	return chat.ToolCall{ID: searchFirstID, Name: "web_search", Arguments: question}, true
}

func (f *fakeTools) List(context.Context) []string {
	return []string{"🔍 网页搜索", "🔧 create_ticket：建工单"}
}

func (f *fakeTools) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

func toolFixture(t *testing.T, model *toolModel, tools *fakeTools, edits ...func(*testConfig)) *fixture {
	t.Helper()
	return newFixture(t, nil, append([]func(*testConfig){func(c *testConfig) {
		c.Model, c.Tools = model, tools
		c.ToolLog = c.Receipts.(ToolLog)
	}}, edits...)...)
}

func TestAToolIsCalledAndTheModelAnswersWithItsResult(t *testing.T) {
	model := &toolModel{turn: searchThenAnswer}
	tools := &fakeTools{}
	f := toolFixture(t, model, tools, func(c *testConfig) { c.Questions = bucket.NewQuestions(mountAt(t, t.TempDir())) })
	f.out.drafts = true
	ev := event("m1", "今天的新闻", clock)
	if err := f.handle(t, "r1", ev); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); got != "根据搜索：web_search 的结果" {
		t.Errorf("the answer: %q", got)
	}
	if n := tools.count("web_search"); n != 1 {
		t.Errorf("the search was made %d times, want once", n)
	}
	asked := model.prompts()
	if len(asked) != 2 || len(asked[1].Rounds) != 1 || asked[1].Rounds[0].Reasoning != "要搜一下" ||
		asked[1].Rounds[0].Results[0].CallID != "call-1" {
		t.Fatalf("the model was asked %d times; the second time with rounds %+v", len(asked), asked[len(asked)-1].Rounds)
	}
	if len(asked[0].Tools) != 2 {
		t.Errorf("the tools offered: %+v", asked[0].Tools)
	}
	shown := f.out.opened[0].shown
	if !strings.Contains(strings.Join(shown, "|"), "🔍 正在搜索：") {
		t.Errorf("the card never showed the search while it ran: %q", shown)
	}
	turns, err := f.history.Load(t.Context(), ev.Message.HistoryOwner(), 5)
	if err != nil || len(turns) != 1 || turns[0].Question != "今天的新闻" || turns[0].Answer != "根据搜索：web_search 的结果" {
		t.Errorf("the history keeps %+v (%v); want the question and the final answer alone", turns, err)
	}
	day, err := f.cfg.Questions.Day(t.Context(), "sender\x00u1", "20261123")
	if err != nil || day.Prompt != 150 || day.Completion != 15 {
		t.Errorf("the day's usage %+v (%v); want both rounds counted, 150 and 15", day, err)
	}
}

// An instance dies after a search ran and was recorded, while the model
// writes: FC's retry answers from the recorded round, and the search is
// not made again.
func TestARetryReplaysTheRecordedRoundsWithoutCallingAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dying := true
		died := make(chan struct{})
		model := &toolModel{turn: func(ctx context.Context, p chat.Prompt) (chat.Completion, error) {
			if len(p.Rounds) > 0 && dying {
				close(died)
				<-ctx.Done()
				return chat.Completion{}, ctx.Err()
			}
			return searchThenAnswer(ctx, p)
		}}
		tools := &fakeTools{}
		f := toolFixture(t, model, tools)
		ev := event("m1", "今天的新闻", clock)
		ctx, kill := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- f.svc.Handle(fcruntime.NewContext(ctx, fcruntime.Invocation{RequestID: "r1"}), ev) }()
		<-died
		kill()
		if err := <-done; err == nil {
			t.Fatal("the attempt whose instance died succeeded")
		}
		dying = false
		if err := f.deliver(t, f.instance("instance-2"), fcruntime.Invocation{RequestID: "r1", RetryCount: 1}, ev); err != nil {
			t.Fatal(err)
		}
		if got := f.out.last(conversationID); got != "根据搜索：web_search 的结果" || f.out.count(conversationID) != 1 {
			t.Errorf("delivered %d answers, the last %q", f.out.count(conversationID), got)
		}
		if n := tools.count("web_search"); n != 1 {
			t.Errorf("the search was made %d times across the attempts, want once", n)
		}
		asked := model.prompts()
		if last := asked[len(asked)-1]; len(last.Rounds) != 1 || last.Rounds[0].Results[0].Content != "web_search 的结果" {
			t.Errorf("the retry asked the model with rounds %+v; want the recorded one", last.Rounds)
		}
	})
}

// A call that may change something is recorded before it is made: an
// instance that dies during it leaves it recorded without an outcome, and
// the retry never makes it again; the model is told its outcome is
// unknown.
func TestACallThatMayChangeSomethingIsNeverMadeTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		model := &toolModel{turn: func(_ context.Context, p chat.Prompt) (chat.Completion, error) {
			if n := len(p.Rounds); n > 0 {
				return chat.Completion{Text: "工单：" + p.Rounds[n-1].Results[0].Content}, nil
			}
			return chat.Completion{ToolCalls: []chat.ToolCall{{ID: "t1", Name: "create_ticket", Arguments: `{}`}}}, nil
		}}
		tools := &fakeTools{block: make(chan struct{})}
		f := toolFixture(t, model, tools)
		ev := event("m1", "帮我建个工单", clock)
		ctx, kill := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- f.svc.Handle(fcruntime.NewContext(ctx, fcruntime.Invocation{RequestID: "r1"}), ev) }()
		synctest.Wait() // the ticket is being made
		if n := tools.count("create_ticket"); n != 1 {
			t.Fatalf("the ticket maker was called %d times", n)
		}
		kill()
		<-done
		close(tools.block)
		if err := f.deliver(t, f.instance("instance-2"), fcruntime.Invocation{RequestID: "r1", RetryCount: 1}, ev); err != nil {
			t.Fatal(err)
		}
		if n := tools.count("create_ticket"); n != 1 {
			t.Errorf("the ticket maker was called %d times across the attempts, want once", n)
		}
		if got := f.out.last(conversationID); got != "工单："+unknownOutcome {
			t.Errorf("the answer %q; want the model told the outcome is unknown", got)
		}
	})
}

func TestAModelThatCannotCallToolsIsAskedWithoutThem(t *testing.T) {
	model := &toolModel{turn: func(_ context.Context, p chat.Prompt) (chat.Completion, error) {
		if len(p.Tools) > 0 {
			return chat.Completion{}, fmt.Errorf("400 does not support tools: %w", errors.Join(chat.ErrModelRejected, chat.ErrToolsRefused))
		}
		return chat.Completion{Text: "不用工具的回答"}, nil
	}}
	f := toolFixture(t, model, &fakeTools{})
	if err := f.handle(t, "r1", event("m1", "你好", clock)); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); got != "不用工具的回答" {
		t.Errorf("the answer: %q", got)
	}
}

func TestTheModelMustAnswerAfterItsLastRound(t *testing.T) {
	model := &toolModel{turn: func(_ context.Context, p chat.Prompt) (chat.Completion, error) {
		if len(p.Tools) == 0 {
			return chat.Completion{Text: fmt.Sprintf("用了 %d 轮", len(p.Rounds))}, nil
		}
		return chat.Completion{ToolCalls: []chat.ToolCall{{ID: fmt.Sprint("c", len(p.Rounds)), Name: "web_search", Arguments: `{}`}}}, nil
	}}
	tools := &fakeTools{}
	f := toolFixture(t, model, tools, func(c *testConfig) { c.MaxToolRounds = 3 })
	if err := f.handle(t, "r1", event("m1", "查个不停", clock)); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); got != "用了 3 轮" {
		t.Errorf("the answer: %q", got)
	}
	if n := tools.count("web_search"); n != 3 {
		t.Errorf("%d searches made; want MAX_TOOL_ROUNDS, 3", n)
	}
	asked := model.prompts()
	if last := asked[len(asked)-1]; !strings.Contains(last.System, lastRoundNote) {
		t.Errorf("the last request's system prompt %q does not tell the model to answer", last.System)
	}
}

func TestSearchFirstPutsTheResultsBeforeTheQuestionOnce(t *testing.T) {
	model := &toolModel{turn: func(_ context.Context, p chat.Prompt) (chat.Completion, error) {
		return chat.Completion{Text: "答"}, nil
	}}
	tools := &fakeTools{searchFirst: true, missing: []string{"工具服务器 docs 暂不可用。"}}
	f := toolFixture(t, model, tools)
	if err := f.handle(t, "r1", event("m1", "今天的新闻", clock)); err != nil {
		t.Fatal(err)
	}
	asked := model.prompts()
	if len(asked) != 1 || !strings.HasPrefix(asked[0].Question, "<web_search>\nweb_search 的结果\n</web_search>") ||
		!strings.HasSuffix(asked[0].Question, "今天的新闻") || len(asked[0].Rounds) != 0 {
		t.Fatalf("the model was asked %+v", asked)
	}
	if !strings.Contains(asked[0].System, "docs 暂不可用") {
		t.Errorf("the model was not told a server is missing: system %q", asked[0].System)
	}
	if n := tools.count("web_search"); n != 1 {
		t.Errorf("%d searches; want one", n)
	}
}

func TestAStopDuringAToolCallEndsTheAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		model := &toolModel{turn: searchThenAnswer}
		tools := &fakeTools{block: make(chan struct{})}
		f := toolFixture(t, model, tools, func(c *testConfig) {
			c.Stops, c.StopPoll = bucket.NewStops(mountAt(t, t.TempDir())), 10*time.Millisecond
		})
		f.runClock()
		done := make(chan error, 1)
		go func() { done <- f.handle(t, "r1", event("m1", "今天的新闻", clock)) }()
		synctest.Wait()
		if err := f.handle(t, "r2", event("m2", `\stop`, clock.Add(time.Second))); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := f.out.last(conversationID); !strings.Contains(got, "已停止") {
			t.Errorf("the stopped answer: %q", got)
		}
	})
}

func TestToolsListsWhatTheModelMayUse(t *testing.T) {
	f := toolFixture(t, &toolModel{turn: searchThenAnswer}, &fakeTools{})
	if err := f.handle(t, "r1", event("m1", `\tools`, clock)); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); !strings.Contains(got, "🔍 网页搜索") || !strings.Contains(got, "create_ticket") {
		t.Errorf(`\tools answered %q`, got)
	}
	plain := newFixture(t, nil)
	if err := plain.handle(t, "r1", event("m1", `\tools`, clock)); err != nil {
		t.Fatal(err)
	}
	if got := plain.out.last(conversationID); !strings.Contains(got, "未知命令") {
		t.Errorf(`\tools without tools answered %q; want it an unknown command`, got)
	}
}

// The tools and what they gave take room in the context window too: the
// history gives way first, then the results are cut.
func TestToolRoundsStayWithinTheContextWindow(t *testing.T) {
	model := &toolModel{turn: func(_ context.Context, p chat.Prompt) (chat.Completion, error) {
		if len(p.Rounds) > 0 {
			return chat.Completion{Text: "答"}, nil
		}
		return chat.Completion{ToolCalls: []chat.ToolCall{{ID: "c1", Name: "long_result", Arguments: `{}`}}}, nil
	}}
	tools := &fakeTools{}
	f := toolFixture(t, model, tools, func(c *testConfig) { c.MaxContextTokens, c.HistoryLength = 1500, 5 })
	for i := range 3 {
		if err := f.handle(t, fmt.Sprint("r", i), event(fmt.Sprint("m", i), strings.Repeat("历史", 150), clock.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	tools.result = strings.Repeat("结果", 2000)
	if err := f.handle(t, "r9", event("m9", "用工具", clock.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	asked := model.prompts()
	last := asked[len(asked)-1]
	if len(last.Rounds) != 1 || last.Tokens() > 1500 {
		t.Errorf("the request after the round is %d tokens with %d history turns; want it within 1500", last.Tokens(), len(last.History))
	}
	if !strings.HasSuffix(last.Rounds[0].Results[0].Content, chat.CutResults) {
		t.Error("the long result was not cut, nor said to be")
	}
}

// failingLog fails its first RecordRound, as a bucket that answers 503
// once does.
type failingLog struct {
	ToolLog
	failed bool
}

func (l *failingLog) RecordRound(ctx context.Context, m chat.Message, n int, r chat.ToolRound) (chat.ToolRound, error) {
	if !l.failed {
		l.failed = true
		return r, retry.Mark(errors.New("503 Service Unavailable"))
	}
	return l.ToolLog.RecordRound(ctx, m, n, r)
}

// A bucket failure on the tools' way is FC's to retry, not a failure of
// the model told to the user.
func TestABucketFailureOnTheToolsWayIsRetried(t *testing.T) {
	model := &toolModel{turn: searchThenAnswer}
	f := toolFixture(t, model, &fakeTools{}, func(c *testConfig) { c.ToolLog = &failingLog{ToolLog: c.Receipts.(ToolLog)} })
	ev := event("m1", "今天的新闻", clock)
	if err := f.handle(t, "r1", ev); !retry.Retryable(err) {
		t.Fatalf("the attempt whose record failed: %v; want a retryable failure", err)
	}
	if n := f.out.count(conversationID); n != 0 {
		t.Fatalf("%d messages after the failure; want none, the retry answers", n)
	}
	if err := f.deliver(t, f.svc, fcruntime.Invocation{RequestID: "r1", RetryCount: 1}, ev); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); got != "根据搜索：web_search 的结果" {
		t.Errorf("FC's retry answered %q", got)
	}
}
