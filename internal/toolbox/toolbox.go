// Package toolbox is the model's hands as the reply function offers them
// (reply.Tools): a web search, the provider's own (DashScope's
// enable_search, Moonshot's $web_search) or one the robot makes itself
// through Bocha or Tavily (package search), and the tools of remote MCP
// servers (package mcp). It says how each call shows while it runs, and
// whether it only reads; package reply makes each call once per message.
package toolbox

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/mcp"
	"github.com/dingtalk-llm/fcrobot/internal/search"
)

// WEB_SEARCH's values.
const (
	SearchOff       = "off"
	SearchDashScope = "dashscope"
	SearchKimi      = "kimi"
	SearchBocha     = "bocha"
	SearchTavily    = "tavily"
)

// kimiSearch is Moonshot's built-in search: the model calls it, and its
// arguments go back, unchanged, as its result (the provider searches).
const kimiSearch = "$web_search"

// Config says what the model may use.
type Config struct {
	// WebSearch is WEB_SEARCH: off, dashscope, kimi, bocha or tavily.
	WebSearch string
	// Search makes the searches of bocha and tavily.
	Search *search.Client
	// SearchFirst (SEARCH_MODE=always) searches each question before the
	// model is asked, for a model that cannot call tools, instead of
	// offering it web_search.
	SearchFirst bool
	// MCP are the remote MCP servers' tools; nil for none.
	MCP *mcp.Client
	// Logger tells the operator of a search that failed (a key refused,
	// a balance spent); nil logs nothing.
	Logger *slog.Logger
}

// Toolbox is reply.Tools over a web search and MCP servers.
type Toolbox struct {
	cfg Config
}

// New returns the toolbox cfg describes.
func New(cfg Config) *Toolbox { return &Toolbox{cfg: cfg} }

// searches reports whether the robot makes searches itself.
func (t *Toolbox) searches() bool { return t.cfg.Search != nil }

// Offer returns the tools the model may call now, and a sentence for each
// MCP server that is down.
func (t *Toolbox) Offer(ctx context.Context) ([]chat.Tool, []string) {
	var tools []chat.Tool
	switch {
	case t.cfg.WebSearch == SearchKimi:
		tools = append(tools, chat.Tool{Name: kimiSearch, Builtin: true})
	case t.searches() && !t.cfg.SearchFirst:
		tools = append(tools, search.Tool())
	}
	var missing []string
	if t.cfg.MCP != nil {
		offered, down := t.cfg.MCP.Tools(ctx)
		for _, o := range offered {
			tools = append(tools, o.Tool)
		}
		for _, d := range down {
			missing = append(missing, d.String()+". Its tools cannot be used now: say so if the question needs them.")
		}
	}
	return tools, missing
}

// Describe says how call shows in a card while it runs, and what it may
// do.
func (t *Toolbox) Describe(call chat.ToolCall) chat.ToolUse {
	switch {
	case call.Name == kimiSearch:
		return chat.ToolUse{Status: "🔍 正在搜索…", Label: "网页搜索", ReadOnly: true}
	case call.Name == search.ToolName && t.searches():
		use := chat.ToolUse{Status: "🔍 正在搜索…", Label: "网页搜索", ReadOnly: true}
		if q, err := search.ParseQuery(call.Arguments); err == nil {
			use.Status = "🔍 正在搜索：" + clip(q, 40)
		}
		return use
	}
	if t.cfg.MCP != nil {
		if tool, ok := t.cfg.MCP.Lookup(call.Name); ok {
			return chat.ToolUse{
				Status: "🔧 正在使用 " + tool.Label() + "…", Label: tool.Label(),
				ReadOnly: tool.ReadOnly, Confirm: tool.Confirm,
			}
		}
	}
	// Not a tool of ours: the call is answered so, and nothing is done.
	return chat.ToolUse{Label: clip(call.Name, 64), ReadOnly: true}
}

// Call makes call and returns what the model reads of it.
func (t *Toolbox) Call(ctx context.Context, call chat.ToolCall) string {
	switch {
	case call.Name == kimiSearch:
		return call.Arguments
	case call.Name == search.ToolName && t.searches():
		q, err := search.ParseQuery(call.Arguments)
		if err != nil {
			return err.Error()
		}
		results, err := t.cfg.Search.Search(ctx, q)
		if err != nil {
			if t.cfg.Logger != nil && ctx.Err() == nil {
				t.cfg.Logger.WarnContext(ctx, "a web search failed", "provider", t.cfg.WebSearch, "err", err)
			}
			return search.FormatError(q, err)
		}
		return search.Format(q, results)
	}
	if t.cfg.MCP != nil {
		if _, ok := t.cfg.MCP.Lookup(call.Name); ok {
			text, err := t.cfg.MCP.Call(ctx, call.Name, call.Arguments)
			if err != nil {
				return "The tool call failed: " + err.Error()
			}
			return text
		}
	}
	return fmt.Sprintf("There is no tool named %q. Use only the tools offered.", clip(call.Name, 64))
}

// SearchFirst is the search of question made before the model is asked,
// with SEARCH_MODE=always.
func (t *Toolbox) SearchFirst(question string) (chat.ToolCall, bool) {
	question = strings.TrimSpace(question)
	if !t.cfg.SearchFirst || !t.searches() || question == "" {
		return chat.ToolCall{}, false
	}
	args, _ := json.Marshal(map[string]string{"query": clip(question, search.MaxQueryRunes)})
	return chat.ToolCall{Name: search.ToolName, Arguments: string(args)}, true
}

// List says what the model may use, a line each, for \tools.
func (t *Toolbox) List(ctx context.Context) []string {
	var lines []string
	switch t.cfg.WebSearch {
	case SearchDashScope:
		lines = append(lines, "🔍 网页搜索：大模型服务自带（DashScope），由它决定何时搜索")
	case SearchKimi:
		lines = append(lines, "🔍 网页搜索：大模型服务自带（Kimi 的 $web_search）")
	case SearchBocha, SearchTavily:
		if t.cfg.SearchFirst {
			lines = append(lines, fmt.Sprintf("🔍 网页搜索（%s）：每个问题先搜索，再交给大模型", t.cfg.WebSearch))
		} else {
			lines = append(lines, fmt.Sprintf("🔍 网页搜索（%s）", t.cfg.WebSearch))
		}
	}
	if t.cfg.MCP != nil {
		offered, down := t.cfg.MCP.Tools(ctx)
		for _, o := range offered {
			line := "🔧 " + o.Label()
			if d := firstLine(o.Description); d != "" {
				line += "：" + clip(d, 60)
			}
			lines = append(lines, line)
		}
		for _, d := range down {
			lines = append(lines, fmt.Sprintf("⚠️ MCP 服务器 %s 暂不可用，它的工具这次用不了", d.Server))
		}
	}
	return lines
}

// clip cuts s to at most n runes, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
}
