package toolbox_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/mcp"
	"github.com/dingtalk-llm/fcrobot/internal/mcp/mcptest"
	"github.com/dingtalk-llm/fcrobot/internal/search"
	"github.com/dingtalk-llm/fcrobot/internal/search/searchtest"
	"github.com/dingtalk-llm/fcrobot/internal/toolbox"
)

const key = "search-key-0123456789"

func bocha(t *testing.T) (*searchtest.Server, *search.Client) {
	t.Helper()
	fake := searchtest.NewBocha(key)
	srv := httptest.NewServer(fake)
	t.Cleanup(func() { fake.Close(); srv.Close() })
	c, err := search.New(search.Config{Provider: "bocha", Endpoint: srv.URL, APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return fake, c
}

func docs(t *testing.T, trust ...string) (*mcptest.Server, *mcp.Client) {
	t.Helper()
	fake := mcptest.NewServer()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	c := mcp.New(mcp.Config{Servers: []mcp.Server{{Name: "docs", URL: srv.URL, Trust: trust}}})
	t.Cleanup(func() { c.Close() })
	return fake, c
}

func names(tools []chat.Tool) []string {
	var out []string
	for _, t := range tools {
		out = append(out, t.Name)
	}
	return out
}

func TestASearchTheRobotMakesIsOfferedShownAndMade(t *testing.T) {
	fake, c := bocha(t)
	box := toolbox.New(toolbox.Config{WebSearch: toolbox.SearchBocha, Search: c})
	tools, missing := box.Offer(t.Context())
	if got := names(tools); len(got) != 1 || got[0] != search.ToolName || len(missing) != 0 {
		t.Fatalf("offered %v, missing %v", got, missing)
	}
	call := chat.ToolCall{ID: "1", Name: search.ToolName, Arguments: `{"query":"函数计算"}`}
	if use := box.Describe(call); use.Status != "🔍 正在搜索：函数计算" || !use.ReadOnly || use.Confirm {
		t.Errorf("Describe: %+v", use)
	}
	got := box.Call(t.Context(), call)
	if page := searchtest.Pages("函数计算", 5)[0]; !strings.Contains(got, page.URL) {
		t.Errorf("the result does not hold the first page's link:\n%s", got)
	}
	if q := fake.Queries(); len(q) != 1 {
		t.Errorf("%d searches; want one", len(q))
	}
	if _, ok := box.SearchFirst("函数计算"); ok {
		t.Error("a search is made first though SEARCH_MODE is tool")
	}
}

func TestAFailedSearchIsAResultInWords(t *testing.T) {
	fake, c := bocha(t)
	fake.SetFault(searchtest.RateLimited)
	box := toolbox.New(toolbox.Config{WebSearch: toolbox.SearchBocha, Search: c})
	got := box.Call(t.Context(), chat.ToolCall{Name: search.ToolName, Arguments: `{"query":"新闻"}`})
	if !strings.Contains(got, "限流") {
		t.Errorf("a rate-limited search reads %q", got)
	}
	if got := box.Call(t.Context(), chat.ToolCall{Name: search.ToolName, Arguments: `[]`}); !strings.Contains(got, "query") {
		t.Errorf("a call without a query reads %q", got)
	}
}

func TestSearchFirstIsTheQuestionAndOffersNoSearchTool(t *testing.T) {
	_, c := bocha(t)
	box := toolbox.New(toolbox.Config{WebSearch: toolbox.SearchBocha, Search: c, SearchFirst: true})
	if tools, _ := box.Offer(t.Context()); len(tools) != 0 {
		t.Errorf("offered %v with SEARCH_MODE=always", names(tools))
	}
	call, ok := box.SearchFirst("  最新的 Go 版本  ")
	if !ok || call.Name != search.ToolName || call.Arguments != `{"query":"最新的 Go 版本"}` {
		t.Errorf("SearchFirst: %+v %v", call, ok)
	}
	if _, ok := box.SearchFirst(" "); ok {
		t.Error("an empty question is searched")
	}
	if lines := box.List(t.Context()); len(lines) != 1 || !strings.Contains(lines[0], "每个问题先搜索") {
		t.Errorf(`\tools lists %q`, lines)
	}
}

func TestKimisSearchIsItsOwn(t *testing.T) {
	box := toolbox.New(toolbox.Config{WebSearch: toolbox.SearchKimi})
	tools, _ := box.Offer(t.Context())
	if len(tools) != 1 || tools[0].Name != "$web_search" || !tools[0].Builtin {
		t.Fatalf("offered %+v", tools)
	}
	call := chat.ToolCall{ID: "c", Name: "$web_search", Arguments: `{"search_result":{"search_id":"abc"}}`}
	if got := box.Call(t.Context(), call); got != call.Arguments {
		t.Errorf("Kimi's search call answered %q; want its arguments back, unchanged", got)
	}
	if use := box.Describe(call); !use.ReadOnly {
		t.Error("Kimi's search is taken for one that changes something")
	}
}

func TestMCPToolsAreOfferedAndMadeAndOnlyTrustedOnesChangeThings(t *testing.T) {
	fake, c := docs(t, mcptest.CreateTicket)
	box := toolbox.New(toolbox.Config{WebSearch: toolbox.SearchOff, MCP: c})
	tools, _ := box.Offer(t.Context())
	if got := strings.Join(names(tools), ","); got != "docs__create_ticket,docs__search_docs" {
		t.Fatalf("offered %s", got)
	}
	use := box.Describe(chat.ToolCall{Name: "docs__create_ticket"})
	if use.Status != "🔧 正在使用 docs.create_ticket…" || use.ReadOnly || use.Confirm || use.Label != "docs.create_ticket" {
		t.Errorf("create_ticket is %+v; want it trusted, recorded before it is made", use)
	}
	if use := box.Describe(chat.ToolCall{Name: "docs__search_docs"}); !use.ReadOnly {
		t.Error("search_docs, read-only on its server, is not taken as such")
	}
	got := box.Call(t.Context(), chat.ToolCall{Name: "docs__search_docs", Arguments: `{"query":"部署"}`})
	if got != mcptest.SearchDocsResult("部署") || fake.Calls(mcptest.SearchDocs) != 1 {
		t.Errorf("search_docs gave %q, called %d times", got, fake.Calls(mcptest.SearchDocs))
	}
	lines := box.List(t.Context())
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "🔧 docs.search_docs：Searches the team") {
		t.Errorf(`\tools lists %q`, lines)
	}
}

func TestAToolThatIsNotOursIsAnsweredSoAndNothingIsDone(t *testing.T) {
	box := toolbox.New(toolbox.Config{WebSearch: toolbox.SearchDashScope})
	if tools, _ := box.Offer(t.Context()); len(tools) != 0 {
		t.Errorf("DashScope's own search offered tools %v", names(tools))
	}
	call := chat.ToolCall{Name: "rm_rf", Arguments: `{}`}
	if use := box.Describe(call); use.Status != "" || !use.ReadOnly {
		t.Errorf("an unknown tool is %+v", use)
	}
	if got := box.Call(t.Context(), call); !strings.Contains(got, `no tool named "rm_rf"`) {
		t.Errorf("an unknown tool answered %q", got)
	}
	if lines := box.List(t.Context()); len(lines) != 1 || !strings.Contains(lines[0], "DashScope") {
		t.Errorf(`\tools lists %q`, lines)
	}
}
