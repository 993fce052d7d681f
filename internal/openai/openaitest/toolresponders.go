package openaitest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// UseTools is a model that calls tools, then answers with what they gave.
// rounds[n] are the calls it makes when the request carries n tool rounds
// after the question (the first request carries none): on the first
// request it calls rounds[0], on the next, once their results came back,
// rounds[1], and so on. A call to a tool the request does not offer is
// not made, as a model calls only the tools it is given. When no round is
// left, or none of its tools is offered, it answers with answer(req,
// results), results being the tool messages that follow the question,
// oldest first (none when no tool was called).
func UseTools(answer func(req Request, results []Message) string, rounds ...[]ToolCall) Responder {
	return func(_ context.Context, req Request) Response {
		if n := req.ToolRounds(); n < len(rounds) {
			var calls []ToolCall
			for _, c := range rounds[n] {
				if _, ok := req.Tool(c.Name); ok {
					calls = append(calls, c)
				}
			}
			if len(calls) > 0 {
				return Response{ToolCalls: calls}
			}
		}
		return Response{Content: answer(req, req.ToolResults())}
	}
}

// thinkingReasoning is what Thinking's model reasons when next gives no
// reasoning of its own.
var thinkingReasoning = []string{"嗯，", "让我想想", "该怎么回答。"}

// Thinking is next as a thinking model (DeepSeek's reasoner, or a
// DeepSeek model in thinking mode) serves it: every answer streams its
// reasoning first (next's, or a few words of its own), and a request
// whose assistant message with tool calls did not bring its reasoning back
// is refused with DeepSeek's 400. The fake takes an empty reasoning for a
// missing one: the client sends none when there was none.
func Thinking(next Responder) Responder {
	return func(ctx context.Context, req Request) Response {
		seen := make(map[int]bool)
		for _, c := range req.ToolCalls {
			if seen[c.Message] {
				continue
			}
			seen[c.Message] = true
			if req.Messages[c.Message].Reasoning == "" {
				return Response{
					Status: 400, ErrorCode: "invalid_request_error",
					ErrorMessage: fmt.Sprintf("Missing `reasoning_content` field in the assistant message at message index %d. For more information, please refer to https://api-docs.deepseek.com/guides/thinking_mode#tool-calls", c.Message),
				}
			}
		}
		resp := next(ctx, req)
		if resp.Reasoning == nil && (resp.Status == 0 || resp.Status == 200) {
			resp.Reasoning = thinkingReasoning
		}
		return resp
	}
}

// NoTools is next served by a model that cannot call tools: a request that
// offers tools is refused with 400, in Ollama's words ("<model> does not
// support tools"); the others go to next.
func NoTools(next Responder) Responder {
	return func(ctx context.Context, req Request) Response {
		if len(req.Tools) > 0 {
			return Response{Status: 400, ErrorMessage: req.Model + " does not support tools"}
		}
		return next(ctx, req)
	}
}

// searchWords are what make the offline model search: a question that asks
// to look something up.
var searchWords = []string{"搜索", "搜一下", "查一下", "查查", "查询", "联网", "上网", "search", "look up"}

// offlineCall is the call the offline model makes for a question, if any:
// a tool the question names, or, when it asks to look something up, an
// offered search tool (one whose name or description says search), with
// the question as its query. Moonshot's builtin $web_search is called as
// Moonshot calls it: its arguments are the search's own, which the client
// sends back unchanged.
func offlineCall(req Request) (ToolCall, bool) {
	q := strings.TrimSpace(req.LastUserMessage())
	lower := strings.ToLower(q)
	if q == "" || len(req.Tools) == 0 {
		return ToolCall{}, false
	}
	var chosen *Tool
	for i, t := range req.Tools {
		if len(t.Name) >= 3 && strings.Contains(lower, strings.ToLower(t.Name)) {
			chosen = &req.Tools[i]
			break
		}
	}
	if chosen == nil && containsAny(lower, searchWords) {
		for i, t := range req.Tools {
			if containsAny(strings.ToLower(t.Name+" "+t.Description), []string{"search", "搜索"}) {
				chosen = &req.Tools[i]
				break
			}
		}
	}
	if chosen == nil {
		return ToolCall{}, false
	}
	if chosen.Type == builtinFunction {
		args := fmt.Sprintf(`{"search_result":{"search_id":"offline-%d"},"usage":{"total_tokens":%d}}`, len(req.Messages), tokens(q))
		return ToolCall{Type: builtinFunction, Name: chosen.Name, Arguments: args}, true
	}
	args, _ := json.Marshal(map[string]string{queryParameter(chosen.Parameters): q})
	return ToolCall{Name: chosen.Name, Arguments: string(args)}, true
}

// queryParameter is the parameter of a tool to put the question in:
// "query" when the tool has it, else its first required string
// parameter, else its first string parameter, else "query".
func queryParameter(schema json.RawMessage) string {
	var s struct {
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return "query"
	}
	if _, ok := s.Properties["query"]; ok {
		return "query"
	}
	isString := func(name string) bool {
		p, ok := s.Properties[name]
		return ok && p.Type == "string"
	}
	for _, name := range s.Required {
		if isString(name) {
			return name
		}
	}
	first := ""
	for name := range s.Properties {
		if isString(name) && (first == "" || name < first) {
			first = name
		}
	}
	if first != "" {
		return first
	}
	return "query"
}

// offlineResults writes what the offline model says of the tools'
// results: which tool gave what, quoted, for it cannot read them.
func offlineResults(b *strings.Builder, req Request, results []Message) {
	for _, r := range results {
		name := "工具"
		if c, ok := req.Call(r.ToolCallID); ok {
			name = c.Name
		}
		if strings.HasPrefix(name, "$") {
			fmt.Fprintf(b, "我调用了内置工具 %s，但它的结果只有真正的模型服务看得到，离线模型无法联网。\n\n", name)
			continue
		}
		fmt.Fprintf(b, "我调用了工具 %s，它返回了：\n\n", name)
		for line := range strings.SplitSeq(truncateRunes(strings.TrimSpace(r.Content), 400), "\n") {
			fmt.Fprintf(b, "> %s\n", line)
		}
		b.WriteString("\n")
	}
	b.WriteString("以上是工具结果的原文摘录，离线模型不会总结它们。")
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
