package openaitest_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

func conversation(turns int, question string) openaitest.Request {
	req := openaitest.Request{Model: "m", Messages: []openaitest.Message{{Role: "system", Content: "sys"}}}
	for range turns {
		req.Messages = append(req.Messages,
			openaitest.Message{Role: "user", Content: "earlier"},
			openaitest.Message{Role: "assistant", Content: "answer"})
	}
	req.Messages = append(req.Messages, openaitest.Message{Role: "user", Content: question})
	return req
}

func TestEcho(t *testing.T) {
	got := openaitest.Echo("答：")(context.Background(), conversation(2, "我叫什么？"))
	if got.Content != "答：我叫什么？" {
		t.Errorf("Echo answered %q", got.Content)
	}
}

func TestSequence(t *testing.T) {
	next := openaitest.Sequence(openaitest.Response{Status: 429}, openaitest.Response{Content: "a"}, openaitest.Response{Content: "b"})
	var got []string
	for range 5 {
		r := next(context.Background(), conversation(0, "q"))
		if r.Status != 0 {
			got = append(got, "429")
			continue
		}
		got = append(got, r.Content)
	}
	if strings.Join(got, ",") != "429,a,b,b,b" {
		t.Errorf("Sequence answered %v", got)
	}
	if r := openaitest.Sequence()(context.Background(), conversation(0, "q")); r.Content != "" || r.Status != 0 {
		t.Errorf("empty Sequence answered %+v", r)
	}
}

func TestOffline(t *testing.T) {
	tests := []struct {
		turns int
		want  []string
	}{
		{0, []string{"离线模型", "ENDPOINT", "「今天天气怎么样？」", "第一轮"}},
		{3, []string{"离线模型", "「今天天气怎么样？」", "之前的 3 轮对话", `\clear`}},
	}
	for _, tt := range tests {
		got := openaitest.Offline()(context.Background(), conversation(tt.turns, " 今天天气怎么样？ "))
		for _, w := range tt.want {
			if !strings.Contains(got.Content, w) {
				t.Errorf("with %d turns the answer %q lacks %q", tt.turns, got.Content, w)
			}
		}
	}
}

func TestOfflineCountsPictures(t *testing.T) {
	tests := []struct {
		name     string
		question string
		want     []string
		wantNot  []string
	}{
		{"with a question", "这是什么？", []string{"「这是什么？」", "2 张图片", "看不到"}, nil},
		{"pictures alone", "", []string{"2 张图片", "看不到"}, []string{"「」"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := conversation(0, tt.question)
			req.Images = []openaitest.Image{{MediaType: "image/png", Data: []byte("x")}, {URL: "https://example.com/a.png"}}
			got := openaitest.Offline()(context.Background(), req).Content
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("answer %q lacks %q", got, w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("answer %q has %q", got, w)
				}
			}
		})
	}
}

// toolTurn is a request that offers tools and carries rounds: each round
// one assistant message with calls and a result for each.
func toolTurn(question string, tools []openaitest.Tool, rounds ...[]openaitest.ToolCall) openaitest.Request {
	req := conversation(1, question)
	req.Tools = tools
	for _, calls := range rounds {
		req.Messages = append(req.Messages, openaitest.Message{Role: "assistant"})
		at := len(req.Messages) - 1
		for _, c := range calls {
			c.Message = at
			req.ToolCalls = append(req.ToolCalls, c)
		}
		for _, c := range calls {
			req.Messages = append(req.Messages, openaitest.Message{Role: "tool", ToolCallID: c.ID, Content: c.Name + " 的结果"})
		}
	}
	return req
}

var (
	webSearch = openaitest.Tool{Type: "function", Name: "web_search", Description: "搜索网页",
		Parameters: []byte(`{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}`)}
	clock = openaitest.Tool{Type: "function", Name: "clock"}
)

func TestUseTools(t *testing.T) {
	model := openaitest.UseTools(
		func(req openaitest.Request, results []openaitest.Message) string {
			var parts []string
			for _, r := range results {
				parts = append(parts, r.Content)
			}
			return "答：" + strings.Join(parts, "，")
		},
		[]openaitest.ToolCall{{ID: "a", Name: "web_search", Arguments: "{}"}, {ID: "b", Name: "clock", Arguments: "{}"}},
		[]openaitest.ToolCall{{ID: "c", Name: "clock", Arguments: "{}"}},
	)
	ctx := context.Background()
	tools := []openaitest.Tool{webSearch, clock}

	first := model(ctx, toolTurn("q", tools))
	if len(first.ToolCalls) != 2 || first.Content != "" {
		t.Errorf("first request: %+v, want both calls", first)
	}
	second := model(ctx, toolTurn("q", tools, first.ToolCalls))
	if len(second.ToolCalls) != 1 || second.ToolCalls[0].ID != "c" {
		t.Errorf("second request: %+v, want the second round", second)
	}
	last := model(ctx, toolTurn("q", tools, first.ToolCalls, second.ToolCalls))
	if last.Content != "答：web_search 的结果，clock 的结果，clock 的结果" || last.ToolCalls != nil {
		t.Errorf("last request: %+v, want an answer from the results", last)
	}
	if got := model(ctx, toolTurn("q", []openaitest.Tool{clock})); len(got.ToolCalls) != 1 || got.ToolCalls[0].Name != "clock" {
		t.Errorf("with clock alone: %+v, want the clock called and not the search", got)
	}
	if got := model(ctx, toolTurn("q", nil)); got.Content != "答：" || got.ToolCalls != nil {
		t.Errorf("without tools: %+v, want a plain answer", got)
	}
}

func TestThinking(t *testing.T) {
	ctx := context.Background()
	model := openaitest.Thinking(openaitest.Answer("好"))
	call := openaitest.ToolCall{ID: "a", Name: "clock", Arguments: "{}"}

	if got := model(ctx, toolTurn("q", []openaitest.Tool{clock})); got.Content != "好" || len(got.Reasoning) == 0 {
		t.Errorf("a first request: %+v, want reasoning then the answer", got)
	}
	without := toolTurn("q", []openaitest.Tool{clock}, []openaitest.ToolCall{call})
	got := model(ctx, without)
	if got.Status != 400 || !strings.Contains(got.ErrorMessage, "Missing `reasoning_content` field in the assistant message at message index 4") {
		t.Errorf("calls without their reasoning: %+v, want DeepSeek's 400", got)
	}
	with := toolTurn("q", []openaitest.Tool{clock}, []openaitest.ToolCall{call})
	with.Messages[4].Reasoning = "想过了"
	if got := model(ctx, with); got.Status != 0 || got.Content != "好" {
		t.Errorf("calls with their reasoning: %+v", got)
	}
	own := openaitest.Thinking(openaitest.Fixed(openaitest.Response{Reasoning: []string{"自己的"}, Content: "x"}))
	if got := own(ctx, conversation(0, "q")); !reflect.DeepEqual(got.Reasoning, []string{"自己的"}) {
		t.Errorf("reasoning %q, want next's own", got.Reasoning)
	}
}

func TestNoTools(t *testing.T) {
	ctx := context.Background()
	model := openaitest.NoTools(openaitest.Answer("好"))
	if got := model(ctx, toolTurn("q", []openaitest.Tool{clock})); got.Status != 400 || got.ErrorMessage != "m does not support tools" {
		t.Errorf("with tools: %+v, want Ollama's 400", got)
	}
	if got := model(ctx, toolTurn("q", nil)); got.Content != "好" {
		t.Errorf("without tools: %+v", got)
	}
}

func TestOfflineUsesTools(t *testing.T) {
	builtin := openaitest.Tool{Type: "builtin_function", Name: "$web_search"}
	lookup := openaitest.Tool{Type: "function", Name: "docs_lookup", Description: "查内部文档",
		Parameters: []byte(`{"type":"object","properties":{"limit":{"type":"integer"},"text":{"type":"string"},"area":{"type":"string"}},"required":["limit","text"]}`)}
	tests := []struct {
		name     string
		question string
		tools    []openaitest.Tool
		wantCall *openaitest.ToolCall
	}{
		{"asked to search", "帮我搜索一下今天的新闻", []openaitest.Tool{clock, webSearch}, &openaitest.ToolCall{Name: "web_search", Arguments: `{"query":"帮我搜索一下今天的新闻"}`}},
		{"asked in English", "Search the web for Go 1.25", []openaitest.Tool{webSearch}, &openaitest.ToolCall{Name: "web_search", Arguments: `{"query":"Search the web for Go 1.25"}`}},
		{"a tool named", "用 docs_lookup 查 FC 的超时", []openaitest.Tool{webSearch, lookup}, &openaitest.ToolCall{Name: "docs_lookup", Arguments: `{"text":"用 docs_lookup 查 FC 的超时"}`}},
		{"Moonshot's builtin", "查一下杭州天气", []openaitest.Tool{builtin}, &openaitest.ToolCall{Type: "builtin_function", Name: "$web_search"}},
		{"not asked", "你好", []openaitest.Tool{webSearch}, nil},
		{"asked, but no search tool", "搜索一下", []openaitest.Tool{clock}, nil},
		{"asked, but no tools", "搜索一下", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := openaitest.Offline()(context.Background(), toolTurn(tt.question, tt.tools))
			if tt.wantCall == nil {
				if got.ToolCalls != nil || !strings.Contains(got.Content, "离线模型") {
					t.Errorf("answer %+v, want a plain one", got)
				}
				return
			}
			if len(got.ToolCalls) != 1 || got.Content != "" {
				t.Fatalf("answer %+v, want one call", got)
			}
			c := got.ToolCalls[0]
			if c.Name != tt.wantCall.Name || c.Type != tt.wantCall.Type {
				t.Errorf("call %+v, want %+v", c, tt.wantCall)
			}
			if tt.wantCall.Arguments != "" && c.Arguments != tt.wantCall.Arguments {
				t.Errorf("arguments %s, want %s", c.Arguments, tt.wantCall.Arguments)
			}
			if !json.Valid([]byte(c.Arguments)) {
				t.Errorf("arguments %q are not JSON", c.Arguments)
			}
		})
	}
}

func TestOfflineQuotesTheResults(t *testing.T) {
	call := openaitest.ToolCall{ID: "c1", Name: "web_search", Arguments: `{"query":"q"}`}
	req := toolTurn("帮我搜索一下杭州天气", []openaitest.Tool{webSearch}, []openaitest.ToolCall{call})
	req.Messages[len(req.Messages)-1].Content = "1. [杭州天气](https://example.com/hz)\n晴，25°C"
	got := openaitest.Offline()(context.Background(), req)
	for _, want := range []string{"离线模型", "web_search", "> 1. [杭州天气](https://example.com/hz)\n> 晴，25°C"} {
		if !strings.Contains(got.Content, want) {
			t.Errorf("answer %q lacks %q", got.Content, want)
		}
	}
	if got.ToolCalls != nil {
		t.Error("called a tool again once the results came back")
	}

	builtin := openaitest.ToolCall{ID: "$1", Type: "builtin_function", Name: "$web_search", Arguments: `{"search_result":{"search_id":"s"}}`}
	got = openaitest.Offline()(context.Background(), toolTurn("查一下", []openaitest.Tool{{Type: "builtin_function", Name: "$web_search"}}, []openaitest.ToolCall{builtin}))
	if !strings.Contains(got.Content, "$web_search") || !strings.Contains(got.Content, "无法联网") || strings.Contains(got.Content, "search_id") {
		t.Errorf("answer %q, want it to say the builtin's results are not its to read", got.Content)
	}
}

func TestOfflineSaysItCannotSearchForTheProvider(t *testing.T) {
	req := conversation(0, "今天的新闻")
	req.Extra = map[string]json.RawMessage{"enable_search": json.RawMessage("true")}
	if got := openaitest.Offline()(context.Background(), req).Content; !strings.Contains(got, "enable_search") {
		t.Errorf("answer %q does not say the search was asked for", got)
	}
	if got := openaitest.Offline()(context.Background(), conversation(0, "今天的新闻")).Content; strings.Contains(got, "enable_search") {
		t.Errorf("answer %q speaks of a search nobody asked for", got)
	}
}
