package openaitest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

const searchToolJSON = `{"type":"function","function":{"name":"web_search","description":"搜索网页","parameters":{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}}}`

var (
	searchCall = openaitest.ToolCall{ID: "call_s", Name: "web_search", Arguments: `{"query":"杭州天气"}`}
	clockCall  = openaitest.ToolCall{ID: "call_c", Name: "clock", Arguments: `{"tz":"Asia/Shanghai"}`}
)

// streamedPiece is a tool-call piece of a chunk, with the keys it had.
type streamedPiece struct {
	keys  map[string]json.RawMessage
	index int
	id    string
	name  string
	args  string
}

// streamedTurn reads a streamed answer: its reasoning, its text, its
// tool-call pieces in order, its finish reasons and whether the usage
// chunk came last before [DONE].
func streamedTurn(t *testing.T, body []byte) (reasoning, text string, pieces []streamedPiece, finish []string, usageLast bool) {
	t.Helper()
	data := readSSE(t, body)
	if len(data) < 2 || data[len(data)-1] != "[DONE]" {
		t.Fatalf("events %q, want chunks then [DONE]", data)
	}
	for n, d := range data[:len(data)-1] {
		var chunk struct {
			Choices []struct {
				Delta struct {
					Content          string            `json:"content"`
					ReasoningContent string            `json:"reasoning_content"`
					ToolCalls        []json.RawMessage `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(d), &chunk); err != nil {
			t.Fatalf("chunk %s: %v", d, err)
		}
		if chunk.Usage != nil {
			usageLast = n == len(data)-2 && chunk.Usage.CompletionTokens > 0
		}
		for _, c := range chunk.Choices {
			reasoning += c.Delta.ReasoningContent
			text += c.Delta.Content
			if c.FinishReason != nil {
				finish = append(finish, *c.FinishReason)
			}
			for _, raw := range c.Delta.ToolCalls {
				var p streamedPiece
				var w struct {
					Index    int    `json:"index"`
					ID       string `json:"id"`
					Function struct {
						Name      string `json:"name"`
						Arguments string `json:"arguments"`
					} `json:"function"`
				}
				if json.Unmarshal(raw, &p.keys) != nil || json.Unmarshal(raw, &w) != nil {
					t.Fatalf("tool call piece %s", raw)
				}
				p.index, p.id, p.name, p.args = w.Index, w.ID, w.Function.Name, w.Function.Arguments
				pieces = append(pieces, p)
			}
		}
	}
	return reasoning, text, pieces, finish, usageLast
}

func TestToolCallsStreamAsProvidersSendThem(t *testing.T) {
	for _, interleave := range []bool{false, true} {
		name := "one call after the other"
		if interleave {
			name = "interleaved"
		}
		t.Run(name, func(t *testing.T) {
			srv := newServer(t, openaitest.Fixed(openaitest.Response{
				Reasoning: []string{"要查", "两样。"}, ToolCalls: []openaitest.ToolCall{searchCall, clockCall}, InterleaveToolCalls: interleave,
			}))
			status, _, body := post(t, srv, "/chat/completions", "", `{"model":"m","stream":true,"stream_options":{"include_usage":true},
				"messages":[{"role":"user","content":"杭州几点，天气如何"}],"tools":[`+searchToolJSON+`]}`)
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			reasoning, text, pieces, finish, usageLast := streamedTurn(t, body)
			if reasoning != "要查两样。" || text != "" || !reflect.DeepEqual(finish, []string{"tool_calls"}) || !usageLast {
				t.Errorf("reasoning %q, text %q, finish reasons %q, usage last %v", reasoning, text, finish, usageLast)
			}
			args := map[int]string{}
			seen := map[int]int{}
			var order []int
			for _, p := range pieces {
				if seen[p.index] == 0 {
					// The first piece of a call: its id, its type, its name.
					if p.id == "" || p.name == "" || string(p.keys["type"]) != `"function"` {
						t.Errorf("first piece of call %d: %v", p.index, p.keys)
					}
				} else if _, ok := p.keys["id"]; ok || p.name != "" {
					t.Errorf("later piece of call %d has an id or a name: %v", p.index, p.keys)
				}
				seen[p.index]++
				args[p.index] += p.args
				order = append(order, p.index)
			}
			if args[0] != searchCall.Arguments || args[1] != clockCall.Arguments || seen[0] < 3 || seen[1] < 3 {
				t.Errorf("arguments %q in %v pieces, want each call's cut in several", args, seen)
			}
			switched := 0
			for i := 1; i < len(order); i++ {
				if order[i] != order[i-1] {
					switched++
				}
			}
			if interleave && switched < 4 || !interleave && switched != 1 {
				t.Errorf("indexes in the order %v", order)
			}
		})
	}
}

func TestToolCallsWithoutIDs(t *testing.T) {
	srv := newServer(t, openaitest.Fixed(openaitest.Response{ToolCalls: []openaitest.ToolCall{searchCall}, OmitToolCallIDs: true}))
	_, _, body := post(t, srv, "/chat/completions", "", `{"model":"m","stream":true,"messages":[{"role":"user","content":"q"}]}`)
	_, _, pieces, _, _ := streamedTurn(t, body)
	for _, p := range pieces {
		if _, ok := p.keys["id"]; ok {
			t.Errorf("piece %v has an id", p.keys)
		}
	}
}

func TestToolCallsInAWholeAnswer(t *testing.T) {
	srv := newServer(t, openaitest.Fixed(openaitest.Response{Reasoning: []string{"想", "一想"}, ToolCalls: []openaitest.ToolCall{searchCall, {Name: "clock", Arguments: "{}"}}}))
	status, _, body := post(t, srv, "/chat/completions", "", `{"model":"m","messages":[{"role":"user","content":"q"}]}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	choice := decode(t, body)["choices"].([]any)[0].(map[string]any)
	want := map[string]any{
		"role": "assistant", "content": nil, "reasoning_content": "想一想",
		"tool_calls": []any{
			map[string]any{"id": "call_s", "type": "function", "function": map[string]any{"name": "web_search", "arguments": `{"query":"杭州天气"}`}},
			map[string]any{"id": "call_openaitest000001_1", "type": "function", "function": map[string]any{"name": "clock", "arguments": "{}"}},
		},
	}
	if !reflect.DeepEqual(choice["message"], want) || choice["finish_reason"] != "tool_calls" {
		t.Errorf("choice = %v\nwant message %v", choice, want)
	}
}

func TestToolRequestsAreValidatedAsTheRealAPIDoes(t *testing.T) {
	user := `{"role":"user","content":"q"}`
	asked := `{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"web_search","arguments":"{}"}},{"id":"c2","type":"function","function":{"name":"clock","arguments":"{}"}}]}`
	answer := func(id string) string { return `{"role":"tool","tool_call_id":"` + id + `","content":"r"}` }
	body := func(tools string, msgs ...string) string {
		b := `{"model":"m","messages":[` + strings.Join(msgs, ",") + `]`
		if tools != "" {
			b += `,"tools":` + tools
		}
		return b + "}"
	}
	tool := func(name string) string {
		return `[{"type":"function","function":{"name":"` + name + `"}}]`
	}
	tests := []struct {
		name, body       string
		wantMsg, wantPar string
	}{
		{"an empty tools array", body(`[]`, user), "empty array", "tools"},
		{"a name with a dot", body(tool("docs.search"), user), "does not match pattern", "tools[0].function.name"},
		{"a name of 65", body(tool(strings.Repeat("n", 65)), user), "maximum length 64", "tools[0].function.name"},
		{"a Chinese name", body(tool("搜索"), user), "does not match pattern", "tools[0].function.name"},
		{"an empty name", body(tool(""), user), "does not match pattern", "tools[0].function.name"},
		{"no name", body(`[{"type":"function","function":{}}]`, user), "Missing required parameter", "tools[0].function.name"},
		{"an unknown type", body(`[{"type":"web_search","function":{"name":"x"}}]`, user), "Supported values", "tools[0].type"},
		{"parameters that are null", body(`[{"type":"function","function":{"name":"x","parameters":null}}]`, user), "got null", "tools[0].function.parameters"},
		{"a builtin that is not one", body(`[{"type":"builtin_function","function":{"name":"web_search"}}]`, user), "builtin_function", "tools[0].function.name"},
		{"a tool message after the question", body("", user, answer("c1")), "must be a response to a preceeding message with 'tool_calls'", "messages.[1].role"},
		{"a result of no call", body("", user, asked, answer("c1"), answer("c2"), answer("c3")), "must be a response", "messages.[4].role"},
		{"a call without its result", body("", user, asked, answer("c2")), "did not have response messages: c1", "messages.[1].role"},
		{"calls as the last message", body("", user, asked), "did not have response messages: c1, c2", "messages.[1].role"},
		{"a question between calls and results", body("", user, asked, user, answer("c1"), answer("c2")), "did not have response messages", "messages.[1].role"},
		{"a tool message without its call's id", body("", user, asked, `{"role":"tool","content":"r"}`), "Missing required parameter", "messages[2].tool_call_id"},
		{"a tool message without content", body("", user, asked, `{"role":"tool","tool_call_id":"c1"}`, answer("c2")), "Missing required parameter", "messages[2].content"},
		{"a call without an id", body("", user, `{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"x","arguments":"{}"}}]}`), "Missing required parameter", "messages[1].tool_calls[0].id"},
		{"a call without arguments", body("", user, `{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"x"}}]}`), "Missing required parameter", "messages[1].tool_calls[0].function.arguments"},
	}
	srv := newServer(t, openaitest.Answer("unused"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, resp := post(t, srv, "/chat/completions", "", tt.body)
			e, _ := decode(t, resp)["error"].(map[string]any)
			if msg, _ := e["message"].(string); status != 400 || !strings.Contains(msg, tt.wantMsg) || e["param"] != tt.wantPar || e["type"] != "invalid_request_error" {
				t.Errorf("HTTP %d, error %v; want 400, %q at %q", status, e, tt.wantMsg, tt.wantPar)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d refused requests recorded", n)
	}
}

func TestToolRequestsAreRecorded(t *testing.T) {
	srv := newServer(t, openaitest.Answer("ok"))
	status, _, resp := post(t, srv, "/chat/completions", "", `{"model":"m","enable_search":true,"tool_choice":"auto","messages":[
		{"role":"user","content":"earlier"},{"role":"assistant","content":"answer"},
		{"role":"user","content":"q"},
		{"role":"assistant","content":"我查一下","reasoning_content":"想","tool_calls":[{"id":"c1","type":"function","function":{"name":"web_search","arguments":"{\"query\":\"q\"}"}},{"id":"c2","type":"function","function":{"name":"clock","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"c2","content":"12:00"},{"role":"tool","tool_call_id":"c1","content":"结果"},
		{"role":"assistant","tool_calls":[{"id":"$web_search-1","type":"builtin_function","function":{"name":"$web_search","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"$web_search-1","content":"{}"}],
		"tools":[`+searchToolJSON+`,{"type":"builtin_function","function":{"name":"$web_search"}}]}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, resp)
	}
	req := srv.Requests()[0]
	wantMsgs := []openaitest.Message{
		{Role: "user", Content: "earlier"}, {Role: "assistant", Content: "answer"}, {Role: "user", Content: "q"},
		{Role: "assistant", Content: "我查一下", Reasoning: "想"},
		{Role: "tool", ToolCallID: "c2", Content: "12:00"}, {Role: "tool", ToolCallID: "c1", Content: "结果"},
		{Role: "assistant"}, {Role: "tool", ToolCallID: "$web_search-1", Content: "{}"},
	}
	if !reflect.DeepEqual(req.Messages, wantMsgs) {
		t.Errorf("messages %+v\nwant %+v", req.Messages, wantMsgs)
	}
	wantCalls := []openaitest.ToolCall{
		{Message: 3, ID: "c1", Type: "function", Name: "web_search", Arguments: `{"query":"q"}`},
		{Message: 3, ID: "c2", Type: "function", Name: "clock", Arguments: "{}"},
		{Message: 6, ID: "$web_search-1", Type: "builtin_function", Name: "$web_search", Arguments: "{}"},
	}
	if !reflect.DeepEqual(req.ToolCalls, wantCalls) {
		t.Errorf("calls %+v\nwant %+v", req.ToolCalls, wantCalls)
	}
	if len(req.Tools) != 2 || string(req.Tools[0].JSON) != searchToolJSON || req.Tools[0].Name != "web_search" || req.Tools[0].Description != "搜索网页" ||
		req.Tools[1].Type != "builtin_function" || req.Tools[1].Name != "$web_search" || req.Tools[1].Parameters != nil {
		t.Errorf("tools %+v", req.Tools)
	}
	if want := map[string]json.RawMessage{"enable_search": json.RawMessage("true"), "tool_choice": json.RawMessage(`"auto"`)}; !reflect.DeepEqual(req.Extra, want) {
		t.Errorf("extra %s, want %s", req.Extra, want)
	}
	if req.EarlierTurns() != 1 || req.ToolRounds() != 2 || req.LastUserMessage() != "q" {
		t.Errorf("%d earlier turns, %d tool rounds, question %q", req.EarlierTurns(), req.ToolRounds(), req.LastUserMessage())
	}
	if got := req.ToolResults(); len(got) != 3 || got[1].Content != "结果" {
		t.Errorf("results %+v", got)
	}
	if c, ok := req.Call("c2"); !ok || c.Name != "clock" {
		t.Errorf("Call(c2) = %+v, %v", c, ok)
	}
	if _, ok := req.Tool("clock"); ok {
		t.Error("a tool that was not offered is found")
	}
}

// TestGoOpenAIReadsTheFakesToolCalls checks the fake's tool calls against
// the library the robot uses.
func TestGoOpenAIReadsTheFakesToolCalls(t *testing.T) {
	srv := newServer(t, openaitest.Fixed(openaitest.Response{ToolCalls: []openaitest.ToolCall{searchCall, clockCall}, InterleaveToolCalls: true}))
	cfg := goopenai.DefaultConfig("k")
	cfg.BaseURL = srv.URL()
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	stream, err := goopenai.NewClientWithConfig(cfg).CreateChatCompletionStream(ctx, goopenai.ChatCompletionRequest{
		Model: "m", Messages: []goopenai.ChatCompletionMessage{{Role: "user", Content: "q"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	ids, args := map[int]string{}, map[int]string{}
	var finish goopenai.FinishReason
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range chunk.Choices {
			for _, tc := range c.Delta.ToolCalls {
				if tc.Index == nil {
					t.Fatal("a piece without its index")
				}
				ids[*tc.Index] += tc.ID
				args[*tc.Index] += tc.Function.Arguments
			}
			if c.FinishReason != "" {
				finish = c.FinishReason
			}
		}
	}
	if ids[0] != "call_s" || ids[1] != "call_c" || args[0] != searchCall.Arguments || args[1] != clockCall.Arguments || finish != goopenai.FinishReasonToolCalls {
		t.Errorf("ids %q, arguments %q, finish %q", ids, args, finish)
	}
}
