package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// bodyRecorder is an HTTP transport that keeps each request body as it
// goes out, and checks it against the request's Content-Length.
type bodyRecorder struct {
	next   http.RoundTripper
	mu     sync.Mutex
	bodies [][]byte
	bad    []string
}

func (b *bodyRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.bodies = append(b.bodies, body)
	if req.ContentLength != int64(len(body)) {
		b.bad = append(b.bad, fmt.Sprintf("Content-Length %d for a body of %d bytes", req.ContentLength, len(body)))
	}
	b.mu.Unlock()
	req.Body = io.NopCloser(bytes.NewReader(body))
	return b.next.RoundTrip(req)
}

// keys returns the top-level keys of each body sent.
func (b *bodyRecorder) keys(t *testing.T) []map[string]json.RawMessage {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, bad := range b.bad {
		t.Error(bad)
	}
	var out []map[string]json.RawMessage
	for _, body := range b.bodies {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
		out = append(out, m)
	}
	return out
}

// newRecordedClient is newTestClient with its bodies recorded.
func newRecordedClient(t *testing.T, srv *openaitest.Server, edit func(*Config)) (*Client, *bodyRecorder) {
	t.Helper()
	rec := &bodyRecorder{next: http.DefaultTransport}
	c := newTestClient(t, srv.URL(), func(cfg *Config) {
		cfg.HTTPClient = &http.Client{Transport: rec}
		if edit != nil {
			edit(cfg)
		}
	})
	return c, rec
}

// ask runs Complete or Stream, as named.
func ask(ctx context.Context, c *Client, how string, p chat.Prompt) (chat.Completion, error) {
	if how == "complete" {
		return c.Complete(ctx, p)
	}
	return c.Stream(ctx, p, func(string) error { return nil })
}

var ways = []string{"complete", "stream"}

var searchTool = chat.Tool{
	Name:        "web_search",
	Description: "搜索网页",
	Parameters:  json.RawMessage(`{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}`),
}

func TestToolsAreOfferedAsTheProvidersTakeThem(t *testing.T) {
	for _, how := range ways {
		t.Run(how, func(t *testing.T) {
			srv := newFake(t, openaitest.Answer("ok"))
			c, rec := newRecordedClient(t, srv, nil)
			tools := []chat.Tool{
				searchTool,
				{Name: "clock-now"},
				{Name: "$web_search", Builtin: true, Description: "not sent", Parameters: json.RawMessage(`{"type":"object"}`)},
			}
			if _, err := ask(safeCtx(t), c, how, chat.Prompt{Question: "今天有什么新闻？", Tools: tools}); err != nil {
				t.Fatal(err)
			}
			got := srv.Requests()[0].Tools
			want := []string{
				`{"type":"function","function":{"name":"web_search","description":"搜索网页","parameters":{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}}}`,
				`{"type":"function","function":{"name":"clock-now","parameters":{"type":"object","properties":{}}}}`,
				`{"type":"builtin_function","function":{"name":"$web_search"}}`,
			}
			if len(got) != len(want) {
				t.Fatalf("%d tools offered, want %d", len(got), len(want))
			}
			for i := range want {
				if string(got[i].JSON) != want[i] {
					t.Errorf("tool %d sent as %s\nwant %s", i, got[i].JSON, want[i])
				}
			}
			if _, ok := rec.keys(t)[0]["tool_choice"]; ok {
				t.Error("tool_choice sent; the provider's default (auto) is meant")
			}
		})
	}
}

func TestNoToolsKeyWithoutTools(t *testing.T) {
	for _, how := range ways {
		t.Run(how, func(t *testing.T) {
			srv := newFake(t, openaitest.Answer("ok"))
			c, rec := newRecordedClient(t, srv, nil)
			if _, err := ask(safeCtx(t), c, how, chat.Prompt{Question: "hi", Tools: []chat.Tool{}}); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"tools", "tool_choice"} {
				if v, ok := rec.keys(t)[0][k]; ok {
					t.Errorf("%q: %s sent without tools; some providers refuse it", k, v)
				}
			}
		})
	}
}

func TestToolsNoProviderTakesAreRefusedBeforeSending(t *testing.T) {
	tests := []struct {
		name  string
		tools []chat.Tool
		want  string
	}{
		{"a name with a dot", []chat.Tool{{Name: "docs.search"}}, `"docs.search"`},
		{"an empty name", []chat.Tool{{Name: ""}}, `""`},
		{"a name too long", []chat.Tool{{Name: strings.Repeat("a", 65)}}, "64"},
		{"a Chinese name", []chat.Tool{{Name: "搜索"}}, "搜索"},
		{"parameters that are not an object", []chat.Tool{{Name: "x", Parameters: json.RawMessage(`["query"]`)}}, "parameters"},
		{"parameters that are null", []chat.Tool{{Name: "x", Parameters: json.RawMessage(`null`)}}, "parameters"},
		{"parameters that are not JSON", []chat.Tool{{Name: "x", Parameters: json.RawMessage(`{"type":`)}}, "parameters"},
		{"a name twice", []chat.Tool{searchTool, searchTool}, "twice"},
		{"a builtin without a name", []chat.Tool{{Builtin: true}}, "builtin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, openaitest.Answer("unused"))
			c := newTestClient(t, srv.URL(), nil)
			_, err := c.Stream(safeCtx(t), chat.Prompt{Question: "hi", Tools: tt.tools}, func(string) error { return nil })
			if !errors.Is(err, chat.ErrToolsRefused) || !errors.Is(err, chat.ErrModelRejected) {
				t.Fatalf("error = %v, want chat.ErrToolsRefused with chat.ErrModelRejected", err)
			}
			if e := asError(t, err); e.StatusCode != 0 || !strings.Contains(e.Message, tt.want) {
				t.Errorf("status %d, message %q; want 0 and a message that names %q", e.StatusCode, e.Message, tt.want)
			}
			if n := len(srv.Requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

// twoRounds is a question's tool rounds as the loop hands them back: a
// thinking model's first round with two calls, one of which gave nothing,
// then a round of Moonshot's builtin.
var twoRounds = []chat.ToolRound{
	{
		Text:      "我先查一下。",
		Reasoning: "用户问天气，需要搜索。",
		Calls: []chat.ToolCall{
			{ID: "call_a", Name: "web_search", Arguments: `{"query":"杭州天气"}`},
			{ID: "call_b", Name: "clock", Arguments: ""},
		},
		// In another order than the calls: they go back in the calls'.
		Results: []chat.ToolResult{
			{CallID: "call_b", Name: "clock", Content: ""},
			{CallID: "call_a", Name: "web_search", Content: "[杭州天气](https://example.com/hz)：晴，25°C"},
		},
	},
	{
		Calls:   []chat.ToolCall{{ID: "$web_search-1", Name: "$web_search", Arguments: `{"search_result":{"search_id":"s1"}}`}},
		Results: []chat.ToolResult{{CallID: "$web_search-1", Name: "$web_search", Content: `{"search_result":{"search_id":"s1"}}`}},
	},
}

func TestRoundsAreSentAsTheProvidersTakeThem(t *testing.T) {
	for _, how := range ways {
		t.Run(how, func(t *testing.T) {
			srv := newFake(t, openaitest.Answer("杭州今天晴。"))
			c, rec := newRecordedClient(t, srv, nil)
			p := chat.Prompt{
				System: "sys", History: []chat.Turn{{Question: "q1", Answer: "a1"}}, Question: "杭州天气怎么样？",
				Tools:  []chat.Tool{searchTool, {Name: "clock"}, {Name: "$web_search", Builtin: true}},
				Rounds: twoRounds,
			}
			got, err := ask(safeCtx(t), c, how, p)
			if err != nil {
				t.Fatal(err)
			}
			if got.Text != "杭州今天晴。" || got.ToolCalls != nil {
				t.Errorf("answer %+v", got)
			}
			req := srv.Requests()[0]
			wantMsgs := []openaitest.Message{
				{Role: "system", Content: "sys"},
				{Role: "user", Content: "q1"},
				{Role: "assistant", Content: "a1"},
				{Role: "user", Content: "杭州天气怎么样？"},
				{Role: "assistant", Content: "我先查一下。", Reasoning: "用户问天气，需要搜索。"},
				{Role: "tool", ToolCallID: "call_a", Content: "[杭州天气](https://example.com/hz)：晴，25°C"},
				{Role: "tool", ToolCallID: "call_b", Content: "(no output)"},
				{Role: "assistant"},
				{Role: "tool", ToolCallID: "$web_search-1", Content: `{"search_result":{"search_id":"s1"}}`},
			}
			if !reflect.DeepEqual(req.Messages, wantMsgs) {
				t.Errorf("messages = %+v\nwant %+v", req.Messages, wantMsgs)
			}
			wantCalls := []openaitest.ToolCall{
				{Message: 4, ID: "call_a", Type: "function", Name: "web_search", Arguments: `{"query":"杭州天气"}`},
				{Message: 4, ID: "call_b", Type: "function", Name: "clock", Arguments: "{}"},
				{Message: 7, ID: "$web_search-1", Type: "builtin_function", Name: "$web_search", Arguments: `{"search_result":{"search_id":"s1"}}`},
			}
			if !reflect.DeepEqual(req.ToolCalls, wantCalls) {
				t.Errorf("tool calls = %+v\nwant %+v", req.ToolCalls, wantCalls)
			}
			if req.ToolRounds() != 2 || req.EarlierTurns() != 1 {
				t.Errorf("%d rounds, %d earlier turns; want 2 and 1", req.ToolRounds(), req.EarlierTurns())
			}
			// The exact messages: a round without text or reasoning has
			// neither key (nor a null), the builtin's call goes back as one.
			var body struct {
				Messages []json.RawMessage `json:"messages"`
			}
			raw, _ := json.Marshal(rec.keys(t)[0])
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatal(err)
			}
			if want := `{"role":"assistant","tool_calls":[{"id":"$web_search-1","type":"builtin_function","function":{"name":"$web_search","arguments":"{\"search_result\":{\"search_id\":\"s1\"}}"}}]}`; string(body.Messages[7]) != want {
				t.Errorf("second round sent as %s\nwant %s", body.Messages[7], want)
			}
		})
	}
}

func TestRoundsTheProviderWouldRefuseAreNotSent(t *testing.T) {
	call := chat.ToolCall{ID: "c1", Name: "web_search", Arguments: "{}"}
	tests := []struct {
		name  string
		round chat.ToolRound
	}{
		{"a call without a result", chat.ToolRound{Calls: []chat.ToolCall{call}}},
		{"a result of another call", chat.ToolRound{Calls: []chat.ToolCall{call}, Results: []chat.ToolResult{{CallID: "c2", Content: "x"}}}},
		{"a call without an id", chat.ToolRound{Calls: []chat.ToolCall{{Name: "web_search"}}, Results: []chat.ToolResult{{Content: "x"}}}},
		{"a call without a name", chat.ToolRound{Calls: []chat.ToolCall{{ID: "c1"}}, Results: []chat.ToolResult{{CallID: "c1", Content: "x"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, openaitest.Answer("unused"))
			c := newTestClient(t, srv.URL(), nil)
			_, err := c.Complete(safeCtx(t), chat.Prompt{Question: "q", Tools: []chat.Tool{searchTool}, Rounds: []chat.ToolRound{tt.round}})
			if !errors.Is(err, chat.ErrModelRejected) {
				t.Fatalf("error = %v, want chat.ErrModelRejected", err)
			}
			if n := len(srv.Requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
	// A round without calls asks nothing: it is left out.
	srv := newFake(t, openaitest.Answer("ok"))
	c := newTestClient(t, srv.URL(), nil)
	if _, err := c.Complete(safeCtx(t), chat.Prompt{Question: "q", Rounds: []chat.ToolRound{{Text: "嗯"}}}); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests()[0].Messages; len(got) != 1 {
		t.Errorf("messages %+v, want the question alone", got)
	}
}

func TestToolCallsAreAssembledByIndex(t *testing.T) {
	search := openaitest.ToolCall{ID: "call_s", Name: "web_search", Arguments: `{"query":"杭州 天气 今天","count":5}`}
	clock := openaitest.ToolCall{ID: "call_c", Name: "clock", Arguments: `{"timezone":"Asia/Shanghai"}`}
	tests := []struct {
		name          string
		resp          openaitest.Response
		wantCalls     []chat.ToolCall
		wantText      string
		wantReasoning string
	}{
		{"one call", openaitest.Response{ToolCalls: []openaitest.ToolCall{search}},
			[]chat.ToolCall{{ID: "call_s", Name: "web_search", Arguments: search.Arguments}}, "", ""},
		{"two calls", openaitest.Response{ToolCalls: []openaitest.ToolCall{search, clock}},
			[]chat.ToolCall{{ID: "call_s", Name: "web_search", Arguments: search.Arguments}, {ID: "call_c", Name: "clock", Arguments: clock.Arguments}}, "", ""},
		{"two calls interleaved", openaitest.Response{ToolCalls: []openaitest.ToolCall{search, clock}, InterleaveToolCalls: true},
			[]chat.ToolCall{{ID: "call_s", Name: "web_search", Arguments: search.Arguments}, {ID: "call_c", Name: "clock", Arguments: clock.Arguments}}, "", ""},
		{"calls without ids", openaitest.Response{ToolCalls: []openaitest.ToolCall{search, clock}, OmitToolCallIDs: true, InterleaveToolCalls: true},
			[]chat.ToolCall{{ID: "call_1_0", Name: "web_search", Arguments: search.Arguments}, {ID: "call_1_1", Name: "clock", Arguments: clock.Arguments}}, "", ""},
		{"reasoning and text first", openaitest.Response{Reasoning: []string{"需要", "搜索。"}, Content: "我查一下。", ToolCalls: []openaitest.ToolCall{search}},
			[]chat.ToolCall{{ID: "call_s", Name: "web_search", Arguments: search.Arguments}}, "我查一下。", "需要搜索。"},
		{"no arguments", openaitest.Response{ToolCalls: []openaitest.ToolCall{{ID: "call_n", Name: "clock"}}},
			[]chat.ToolCall{{ID: "call_n", Name: "clock", Arguments: "{}"}}, "", ""},
		{"a call without a name is dropped", openaitest.Response{ToolCalls: []openaitest.ToolCall{{ID: "call_x", Arguments: "{}"}, clock}},
			[]chat.ToolCall{{ID: "call_c", Name: "clock", Arguments: clock.Arguments}}, "", ""},
	}
	for _, tt := range tests {
		for _, how := range ways {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				srv := newFake(t, openaitest.Fixed(tt.resp))
				c := newTestClient(t, srv.URL(), nil)
				var heard int
				p := chat.Prompt{Question: "杭州天气", Tools: []chat.Tool{searchTool, {Name: "clock"}}}
				var got chat.Completion
				var err error
				if how == "complete" {
					got, err = c.Complete(safeCtx(t), p)
				} else {
					got, err = c.Stream(safeCtx(t), p, func(soFar string) error {
						heard++
						if !strings.HasPrefix(tt.wantText, soFar) {
							t.Errorf("onDelta saw %q, not the text", soFar)
						}
						return nil
					})
				}
				if err != nil {
					t.Fatalf("a turn of tool calls is an answer: %v", err)
				}
				if !reflect.DeepEqual(got.ToolCalls, tt.wantCalls) {
					t.Errorf("calls = %+v\nwant %+v", got.ToolCalls, tt.wantCalls)
				}
				if got.Text != tt.wantText || got.Reasoning != tt.wantReasoning {
					t.Errorf("text %q, reasoning %q; want %q, %q", got.Text, got.Reasoning, tt.wantText, tt.wantReasoning)
				}
				if got.Usage.Prompt == 0 || got.Usage.Completion == 0 {
					t.Errorf("usage %+v, want the answer's", got.Usage)
				}
				if how == "stream" && heard < len(tt.resp.ToolCalls) {
					t.Errorf("onDelta called %d times: a call's pieces are the model at work", heard)
				}
				if n := len(srv.Requests()); n != 1 {
					t.Errorf("%d requests, want 1", n)
				}
			})
		}
	}
}

// The ids the client makes for calls that come without are the same for
// the same answer, and differ from one round to the next.
func TestMadeUpIDsAreStableAndDifferByRound(t *testing.T) {
	srv := newFake(t, openaitest.Fixed(openaitest.Response{ToolCalls: []openaitest.ToolCall{{Name: "clock"}}, OmitToolCallIDs: true}))
	c := newTestClient(t, srv.URL(), nil)
	p := chat.Prompt{Question: "几点了", Tools: []chat.Tool{{Name: "clock"}}}
	var ids []string
	for range 2 {
		got, err := c.Complete(safeCtx(t), p)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got.ToolCalls[0].ID)
	}
	p.Rounds = []chat.ToolRound{{Calls: []chat.ToolCall{{ID: ids[0], Name: "clock"}}, Results: []chat.ToolResult{{CallID: ids[0], Content: "12:00"}}}}
	got, err := c.Complete(safeCtx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, got.ToolCalls[0].ID)
	if ids[0] != ids[1] || ids[1] == ids[2] {
		t.Errorf("ids %q: want the first two equal, the third another", ids)
	}
}

func TestToolCallsAtEachPace(t *testing.T) {
	for _, pace := range []time.Duration{0, 30 * time.Millisecond} {
		t.Run(pace.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				_, c := newBubbleFake(t, func(ctx context.Context, req openaitest.Request) openaitest.Response {
					resp := openaitest.Offline()(ctx, req)
					resp.ChunkDelay = pace
					return resp
				})
				p := chat.Prompt{Question: "帮我搜索一下杭州的天气", Tools: []chat.Tool{searchTool}}
				first, err := c.Stream(t.Context(), p, func(string) error { return nil })
				if err != nil {
					t.Fatal(err)
				}
				if len(first.ToolCalls) != 1 || first.ToolCalls[0].Arguments != `{"query":"帮我搜索一下杭州的天气"}` {
					t.Fatalf("first turn %+v, want a search for the question", first)
				}
				p.Rounds = []chat.ToolRound{{Calls: first.ToolCalls, Results: []chat.ToolResult{{CallID: first.ToolCalls[0].ID, Content: "[杭州天气](https://example.com/hz)：晴"}}}}
				var seen []string
				answer, err := c.Stream(t.Context(), p, func(s string) error { seen = append(seen, s); return nil })
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(answer.Text, "[杭州天气](https://example.com/hz)") || len(answer.ToolCalls) != 0 || len(seen) < 3 {
					t.Errorf("answer %q after %d deltas, want it to quote the result as it streams", answer.Text, len(seen))
				}
			})
		})
	}
}

func TestToolCallsPastTheBoundsAreNotAnAnswer(t *testing.T) {
	many := make([]openaitest.ToolCall, MaxToolCalls+1)
	for i := range many {
		many[i] = openaitest.ToolCall{Name: fmt.Sprintf("t%d", i), Arguments: "{}"}
	}
	tests := []struct {
		name string
		resp openaitest.Response
		want string
	}{
		{"arguments past the bound", openaitest.Response{ToolCalls: []openaitest.ToolCall{{Name: "web_search", Arguments: `{"query":"` + strings.Repeat("长", MaxToolArgumentBytes/3) + `"}`}}}, "exceed 64 KiB"},
		{"too many calls", openaitest.Response{ToolCalls: many}, "more than 16 tool calls"},
	}
	for _, tt := range tests {
		for _, how := range ways {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				srv := newFake(t, openaitest.Fixed(tt.resp))
				c := newTestClient(t, srv.URL(), nil)
				_, err := ask(safeCtx(t), c, how, chat.Prompt{Question: "q", Tools: []chat.Tool{searchTool}})
				if !errors.Is(err, chat.ErrModelUnavailable) {
					t.Fatalf("error = %v, want chat.ErrModelUnavailable", err)
				}
				if e := asError(t, err); !strings.Contains(e.Message, tt.want) {
					t.Errorf("message %q, want %q", e.Message, tt.want)
				}
				if n := len(srv.Requests()); n != 1 {
					t.Errorf("%d requests, want 1: a broken answer is not asked again", n)
				}
			})
		}
	}
}

func TestExtraBodyGoesInEveryRequest(t *testing.T) {
	for _, how := range ways {
		t.Run(how, func(t *testing.T) {
			srv := newFake(t, openaitest.Sequence(openaitest.Response{Status: 503}, openaitest.Response{Content: "ok"}))
			c, rec := newRecordedClient(t, srv, func(cfg *Config) {
				cfg.ExtraBody = map[string]any{"enable_search": true, "search_options": map[string]any{"forced_search": false}}
			})
			img := chat.Image{MediaType: "image/png", Data: pngBytes}
			if _, err := ask(safeCtx(t), c, how, chat.Prompt{Question: "看图搜一下", Images: []chat.Image{img}, Tools: []chat.Tool{searchTool}}); err != nil {
				t.Fatal(err)
			}
			reqs := srv.Requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want a retry", len(reqs))
			}
			for i, r := range reqs {
				want := map[string]json.RawMessage{"enable_search": json.RawMessage(`true`), "search_options": json.RawMessage(`{"forced_search":false}`)}
				if !reflect.DeepEqual(r.Extra, want) {
					t.Errorf("request %d: extra keys %s, want %s", i, r.Extra, want)
				}
				if len(r.Tools) != 1 || len(r.Images) != 1 || !bytes.Equal(r.Images[0].Data, img.Data) || r.Stream != (how == "stream") {
					t.Errorf("request %d: %d tools, %d images, stream %v: the rest of the request changed", i, len(r.Tools), len(r.Images), r.Stream)
				}
			}
			rec.keys(t) // Content-Length checked
		})
	}
}

func TestExtraBodyCannotReplaceTheClientsKeys(t *testing.T) {
	for _, extra := range []map[string]any{
		{"model": "other"}, {"messages": []string{}}, {"stream": false}, {"tools": nil}, {"": 1},
		{"bad": make(chan int)},
	} {
		if _, err := New(Config{Model: "m", ExtraBody: extra}); err == nil {
			t.Errorf("ExtraBody %v accepted", extra)
		}
	}
	if _, err := New(Config{Model: "m", ExtraBody: map[string]any{"enable_thinking": false}}); err != nil {
		t.Error(err)
	}
}

func TestToolsRefusedIsItsOwnKind(t *testing.T) {
	tests := []struct {
		name      string
		msg, code string
		withTools bool
		want      error
		wantNot   error
	}{
		{"Ollama", "registry.ollama.ai/library/gemma:2b does not support tools", "", true, chat.ErrToolsRefused, nil},
		{"vLLM", `"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set`, "", true, chat.ErrToolsRefused, nil},
		{"OpenAI's tool name", "Invalid 'tools[0].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.", "invalid_value", true, chat.ErrToolsRefused, nil},
		{"function calling", "This model does not support function calling.", "", true, chat.ErrToolsRefused, nil},
		{"DeepSeek", "Missing `reasoning_content` field in the assistant message at message index 2. For more information, please refer to https://api-docs.deepseek.com/guides/thinking_mode#tool-calls", "invalid_request_error", true, chat.ErrToolsRefused, nil},
		{"DeepSeek V4", "The `reasoning_content` in the thinking mode must be passed back to the API.", "invalid_request_error", true, chat.ErrToolsRefused, nil},
		{"the same words without tools", "registry.ollama.ai/library/gemma:2b does not support tools", "", false, chat.ErrModelRejected, chat.ErrToolsRefused},
		{"a context too long with tools", "This model's maximum context length is 8192 tokens.", "context_length_exceeded", true, chat.ErrContextTooLong, chat.ErrToolsRefused},
		{"another refusal with tools", "Invalid value for 'temperature'.", "", true, chat.ErrModelRejected, chat.ErrToolsRefused},
	}
	for _, tt := range tests {
		for _, how := range ways {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				srv := newFake(t, openaitest.Fixed(openaitest.Response{Status: 400, ErrorMessage: tt.msg, ErrorCode: tt.code}))
				c := newTestClient(t, srv.URL(), nil)
				p := chat.Prompt{Question: "q"}
				if tt.withTools {
					p.Tools = []chat.Tool{searchTool}
				}
				_, err := ask(safeCtx(t), c, how, p)
				if !errors.Is(err, tt.want) || !errors.Is(err, chat.ErrModelRejected) {
					t.Fatalf("error = %v, want %v", err, tt.want)
				}
				if tt.wantNot != nil && errors.Is(err, tt.wantNot) {
					t.Errorf("error %v matches %v", err, tt.wantNot)
				}
				if e := asError(t, err); e.Message != tt.msg {
					t.Errorf("message %q, want the provider's", e.Message)
				}
				if n := len(srv.Requests()); n != 1 {
					t.Errorf("%d requests, want 1", n)
				}
			})
		}
	}
	// A model that cannot call tools, as the fake serves it; without the
	// tools it answers.
	srv := newFake(t, openaitest.NoTools(openaitest.Answer("不用工具的回答")))
	c := newTestClient(t, srv.URL(), nil)
	_, err := c.Stream(safeCtx(t), chat.Prompt{Question: "搜索一下", Tools: []chat.Tool{searchTool}}, func(string) error { return nil })
	if !errors.Is(err, chat.ErrToolsRefused) {
		t.Fatalf("error = %v, want chat.ErrToolsRefused", err)
	}
	if got, err := c.Stream(safeCtx(t), chat.Prompt{Question: "搜索一下"}, func(string) error { return nil }); err != nil || got.Text != "不用工具的回答" {
		t.Errorf("without tools: %q, %v", got.Text, err)
	}
}

// A thinking model (DeepSeek's) reasons before its calls, and refuses the
// next request unless the reasoning comes back with them.
func TestAThinkingModelGetsItsReasoningBack(t *testing.T) {
	for _, how := range ways {
		t.Run(how, func(t *testing.T) {
			srv := newFake(t, openaitest.Thinking(openaitest.UseTools(
				func(_ openaitest.Request, results []openaitest.Message) string {
					return "根据搜索：" + results[0].Content
				},
				[]openaitest.ToolCall{{Name: "web_search", Arguments: `{"query":"杭州天气"}`}},
			)))
			c := newTestClient(t, srv.URL(), nil)
			p := chat.Prompt{Question: "杭州天气", Tools: []chat.Tool{searchTool}}
			first, err := ask(safeCtx(t), c, how, p)
			if err != nil {
				t.Fatal(err)
			}
			if first.Reasoning == "" || len(first.ToolCalls) != 1 {
				t.Fatalf("first turn %+v, want reasoning and a call", first)
			}
			round := chat.ToolRound{Text: first.Text, Reasoning: first.Reasoning, Calls: first.ToolCalls,
				Results: []chat.ToolResult{{CallID: first.ToolCalls[0].ID, Name: "web_search", Content: "晴"}}}

			p.Rounds = []chat.ToolRound{round}
			answer, err := ask(safeCtx(t), c, how, p)
			if err != nil || answer.Text != "根据搜索：晴" {
				t.Fatalf("with the reasoning back: %q, %v", answer.Text, err)
			}

			round.Reasoning = ""
			p.Rounds = []chat.ToolRound{round}
			_, err = ask(safeCtx(t), c, how, p)
			if !errors.Is(err, chat.ErrToolsRefused) || !strings.Contains(err.Error(), "reasoning_content") {
				t.Errorf("without the reasoning: %v, want DeepSeek's 400 as chat.ErrToolsRefused", err)
			}
			if n := len(srv.Requests()); n != 3 {
				t.Errorf("%d requests, want 3", n)
			}
		})
	}
}

// The whole exchange as the tool loop will have it: two calls in one
// turn, their results, an answer that uses them.
func TestTwoCallsThenAnAnswerThatUsesThem(t *testing.T) {
	srv := newFake(t, openaitest.UseTools(
		func(_ openaitest.Request, results []openaitest.Message) string {
			var parts []string
			for _, r := range results {
				parts = append(parts, r.Content)
			}
			return "结果：" + strings.Join(parts, "；")
		},
		[]openaitest.ToolCall{{Name: "web_search", Arguments: `{"query":"杭州"}`}, {Name: "clock", Arguments: `{}`}},
	))
	c := newTestClient(t, srv.URL(), nil)
	p := chat.Prompt{Question: "杭州现在怎么样", Tools: []chat.Tool{searchTool, {Name: "clock"}}}
	first, err := c.Stream(safeCtx(t), p, func(string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(first.ToolCalls) != 2 || first.ToolCalls[0].Name != "web_search" || first.ToolCalls[1].Name != "clock" {
		t.Fatalf("calls %+v", first.ToolCalls)
	}
	round := chat.ToolRound{Calls: first.ToolCalls}
	for _, call := range first.ToolCalls {
		round.Results = append(round.Results, chat.ToolResult{CallID: call.ID, Name: call.Name, Content: call.Name + " 的结果"})
	}
	p.Rounds = []chat.ToolRound{round}
	answer, err := c.Stream(safeCtx(t), p, func(string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if answer.Text != "结果：web_search 的结果；clock 的结果" {
		t.Errorf("answer %q", answer.Text)
	}
}
