package search

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// ToolName is the name the model calls the search by.
const ToolName = "web_search"

// toolParameters is the JSON Schema of the tool's arguments.
const toolParameters = `{"type":"object","properties":{"query":{"type":"string","description":"搜索词：简短、具体，用问题的语言写（不超过 400 字）。The search query: short and specific."}},"required":["query"]}`

// Tool returns the web_search function tool, as the model is offered it.
func Tool() chat.Tool {
	return chat.Tool{
		Name: ToolName,
		Description: "搜索互联网，获取最新或你不确定的信息：新闻、近期事件、实时数据、具体事实。" +
			"返回网页的标题、链接和摘要；回答时用 markdown 链接 [标题](链接) 注明你用到的来源。" +
			"Search the web for current or uncertain information (news, recent events, live data, facts); " +
			"returns titles, links and snippets of pages. Cite the sources you use as markdown links [title](url).",
		Parameters: json.RawMessage(toolParameters),
	}
}

// ErrNoQuery is ParseQuery's error for arguments without a query in them.
var ErrNoQuery = errors.New(`web_search needs a query: call it with {"query": "..."}`)

// queryKeys are the names models give the query when they slip from
// "query".
var queryKeys = []string{"query", "q", "search_query", "keyword", "keywords", "search", "text", "question"}

// ParseQuery returns the query of a web_search call from the arguments the
// model wrote. It takes what models send when they slip: extra fields,
// the query under another common name or as a list of words, a bare
// string (JSON or plain words), arguments encoded twice, JSON in a code
// fence. Anything else is
// an error that says how to call the tool (errors.Is ErrNoQuery), fit to
// be the tool's result.
func ParseQuery(arguments string) (string, error) {
	q, err := parseQuery(arguments, 0)
	if err != nil {
		return "", err
	}
	if q = cleanQuery(q); q == "" {
		return "", fmt.Errorf("%w (the query is empty)", ErrNoQuery)
	}
	return q, nil
}

func parseQuery(arguments string, depth int) (string, error) {
	text := unfence(strings.TrimSpace(arguments))
	if text == "" {
		return "", fmt.Errorf("%w (the arguments are empty)", ErrNoQuery)
	}
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		if strings.ContainsAny(text[:1], "{[\"") {
			return "", fmt.Errorf("%w (the arguments are not valid JSON)", ErrNoQuery)
		}
		// Plain words where JSON was due: they are the query.
		return text, nil
	}
	switch v := v.(type) {
	case string:
		// Arguments encoded twice hold an object in a string.
		if inner := strings.TrimSpace(v); depth == 0 && strings.HasPrefix(inner, "{") {
			return parseQuery(inner, depth+1)
		}
		return v, nil
	case map[string]any:
		for _, key := range queryKeys {
			if q := words(v[key]); q != "" {
				return q, nil
			}
		}
		// One string member under a name of its own is the query too.
		var only string
		n := 0
		for _, member := range v {
			if s, ok := member.(string); ok && strings.TrimSpace(s) != "" {
				only, n = s, n+1
			}
		}
		if n == 1 {
			return only, nil
		}
		return "", fmt.Errorf("%w (no \"query\" string in the arguments)", ErrNoQuery)
	}
	return "", fmt.Errorf("%w (the arguments are not a JSON object)", ErrNoQuery)
}

// words returns v when it is a string, or its strings joined with spaces
// when it is a list of them.
func words(v any) string {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case []any:
		var parts []string
		for _, w := range v {
			if s, ok := w.(string); ok && strings.TrimSpace(s) != "" {
				parts = append(parts, strings.TrimSpace(s))
			}
		}
		return strings.Join(parts, " ")
	}
	return ""
}

// unfence removes a markdown code fence around text (```json ... ```).
func unfence(text string) string {
	if !strings.HasPrefix(text, "```") || !strings.HasSuffix(text, "```") || len(text) < 6 {
		return text
	}
	inner := text[3 : len(text)-3]
	if nl := strings.IndexByte(inner, '\n'); nl >= 0 && !strings.ContainsAny(inner[:nl], "{\"") {
		inner = inner[nl+1:]
	}
	return strings.TrimSpace(inner)
}
