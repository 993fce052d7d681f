package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/mcp/mcptest"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
	"github.com/dingtalk-llm/fcrobot/internal/search/searchtest"
)

// The tools end to end: the real reply program offers a fake model the
// tools of a real MCP server (the SDK's own) and a fake Bocha or Tavily,
// makes the calls the model streams as providers do, each once per
// message, and answers.

const (
	searchKey = "search-key-e2e-0123456789"
	mcpToken  = "Bearer mcp-token-e2e-0123456789"
)

// toolServers are an MCP server that wants a token, and a fake Bocha,
// served over HTTP for the test.
type toolServers struct {
	docs  *mcptest.Server
	bocha *searchtest.Server
	env   map[string]string
}

func startToolServers(t *testing.T) toolServers {
	t.Helper()
	docs := mcptest.NewServer(mcptest.RequireHeader("Authorization", mcpToken))
	docsHTTP := httptest.NewServer(docs)
	t.Cleanup(docsHTTP.Close)
	bocha := searchtest.NewBocha(searchKey)
	bochaHTTP := httptest.NewServer(bocha)
	t.Cleanup(func() { bocha.Close(); bochaHTTP.Close() })
	servers, _ := json.Marshal([]map[string]any{{
		"name": "docs", "url": docsHTTP.URL, "headers": map[string]string{"Authorization": mcpToken},
		"trust": []string{mcptest.CreateTicket},
	}})
	return toolServers{docs: docs, bocha: bocha, env: map[string]string{
		"WEB_SEARCH": "bocha", "SEARCH_API_KEY": searchKey, "SEARCH_ENDPOINT": bochaHTTP.URL,
		"MCP_SERVERS": string(servers),
	}}
}

func withSecrets(st *devstack.Stack) {
	st.Secrets = append(st.Secrets, searchKey, strings.TrimPrefix(mcpToken, "Bearer "))
}

// Two calls in one turn, streamed as providers stream them (each id only
// in its call's first piece, the pieces of the two calls interleaved): a
// web search and an MCP tool, each made once; the answer cites the pages.
func TestToolsASearchAndAnMCPToolInOneTurn(t *testing.T) {
	t.Parallel()
	ts := startToolServers(t)
	st := start(t, devstack.Config{
		ReplyEnv: ts.env,
		Model: func(ctx context.Context, r openaitest.Request) openaitest.Response {
			if r.ToolRounds() == 0 {
				return openaitest.Response{InterleaveToolCalls: true, ToolCalls: []openaitest.ToolCall{
					{Name: "web_search", Arguments: `{"query":"函数计算 冷启动"}`},
					{Name: "docs__search_docs", Arguments: `{"query":"部署"}`},
				}}
			}
			var b strings.Builder
			for _, m := range r.ToolResults() {
				b.WriteString(m.Content + "\n")
			}
			return openaitest.Response{Content: "综合工具结果：\n" + b.String()}
		},
	})
	withSecrets(st)
	alice := single(t, st, "alice")
	got := alice.ask("函数计算冷启动快吗？顺便查下部署文档")
	waitFC(t, st)
	if q := ts.bocha.Queries(); len(q) != 1 || q[0] != "函数计算 冷启动" {
		t.Errorf("Bocha was asked %q; want the one search", q)
	}
	if n := ts.docs.Calls(mcptest.SearchDocs); n != 1 {
		t.Errorf("the MCP tool was called %d times; want once", n)
	}
	page := searchtest.Pages("函数计算 冷启动", 5)[0]
	if !strings.Contains(got, page.URL) || !strings.Contains(got, mcptest.SearchDocsResult("部署")[:20]) {
		t.Errorf("the answer does not hold what the tools gave:\n%s", got)
	}
	if len(alice.posts()) != 1 {
		t.Errorf("%d messages; want the answer alone, no message per tool", len(alice.posts()))
	}
	var last openaitest.Request
	for _, r := range st.Model.Requests() {
		last = r
	}
	if len(last.ToolCalls) != 2 || last.ToolCalls[0].ID == "" || last.ToolCalls[0].ID == last.ToolCalls[1].ID {
		t.Errorf("the second request carries the calls %+v; want both, each with its id", last.ToolCalls)
	}
}

// A reply instance dies after a tool that changes something ran (a ticket
// was made) while the model writes: FC's retry, on another instance,
// answers from the recorded round and the ticket is not made again.
func TestToolsAnInstanceKilledAfterAToolRanIsAnsweredWithoutCallingItAgain(t *testing.T) {
	t.Parallel()
	ts := startToolServers(t)
	started := make(chan struct{}, 4)
	var dying atomic.Bool
	dying.Store(true)
	st := start(t, devstack.Config{
		ReplyInstances: 2, ReplyEnv: ts.env,
		Model: func(ctx context.Context, r openaitest.Request) openaitest.Response {
			if r.ToolRounds() == 0 {
				return openaitest.Response{ToolCalls: []openaitest.ToolCall{
					{Name: "docs__create_ticket", Arguments: `{"title":"部署失败"}`},
				}}
			}
			if dying.Load() {
				started <- struct{}{}
				<-ctx.Done()
				return openaitest.Response{Content: "不会送达"}
			}
			return openaitest.Response{Content: "好的，" + r.ToolResults()[0].Content}
		},
	})
	withSecrets(st)
	alice := single(t, st, "alice")
	alice.send("帮我建个工单：部署失败")
	<-started
	dying.Store(false)
	busyInstance(t, st).Kill()
	got := alice.waitAnswer(1)
	waitFC(t, st)
	if n := ts.docs.Calls(mcptest.CreateTicket); n != 1 {
		t.Errorf("the ticket was made %d times; want once across the attempts", n)
	}
	if got != "好的，已创建工单 #1001：部署失败" || len(alice.posts()) != 1 {
		t.Errorf("%d answers, the last %q", len(alice.posts()), got)
	}
	if n := st.FC.Stats().DeliveryAttempts; n < 2 {
		t.Errorf("FC delivered %d times; the dead instance's invocation should have been retried", n)
	}
}

// An MCP server that is down costs the answer its tools, not the answer:
// the model is told, and the user gets an answer.
func TestToolsAServerThatIsDownCostsItsToolsNotTheAnswer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String() + "/mcp"
	l.Close()
	servers := fmt.Sprintf(`[{"name":"jira","url":%q}]`, down)
	st := start(t, devstack.Config{
		ReplyEnv: map[string]string{"MCP_SERVERS": servers},
		Model: func(ctx context.Context, r openaitest.Request) openaitest.Response {
			return openaitest.Response{Content: "答：" + r.LastUserMessage()}
		},
	})
	alice := single(t, st, "alice")
	if got := alice.ask("工单 1001 怎么样了"); got != "答：工单 1001 怎么样了" {
		t.Errorf("the answer %q", got)
	}
	reqs := st.Model.Requests()
	if len(reqs) != 1 || len(reqs[0].Tools) != 0 || !strings.Contains(reqs[0].Messages[0].Content, `MCP server "jira" is unavailable`) {
		t.Errorf("the model was asked %d times, offered %d tools, told %q; want it told the server is down",
			len(reqs), len(reqs[0].Tools), reqs[0].Messages[0].Content)
	}
	if got := alice.ask(`\tools`); !strings.Contains(got, "jira 暂不可用") {
		t.Errorf(`\tools answered %q`, got)
	}
}

// WEB_SEARCH=dashscope asks the provider to search, in the body of every
// request.
func TestToolsDashScopeSearchIsAskedForInTheBody(t *testing.T) {
	t.Parallel()
	st := start(t, devstack.Config{
		ReplyEnv: map[string]string{"WEB_SEARCH": "dashscope"},
		Model: func(ctx context.Context, r openaitest.Request) openaitest.Response {
			return openaitest.Response{Content: "答"}
		},
	})
	single(t, st, "alice").ask("今天杭州天气")
	reqs := st.Model.Requests()
	if len(reqs) != 1 || string(reqs[0].Extra["enable_search"]) != "true" {
		t.Errorf("the request's extra keys: %v; want enable_search true", reqs[0].Extra)
	}
}

// SEARCH_MODE=always, for a model that cannot call tools: the question is
// searched first (Tavily here) and the results go before it, once.
func TestToolsSearchFirstForAModelWithoutTools(t *testing.T) {
	t.Parallel()
	tavily := searchtest.NewTavily(searchKey)
	tavilyHTTP := httptest.NewServer(tavily)
	t.Cleanup(func() { tavily.Close(); tavilyHTTP.Close() })
	st := start(t, devstack.Config{
		ReplyEnv: map[string]string{"WEB_SEARCH": "tavily", "SEARCH_MODE": "always", "SEARCH_API_KEY": searchKey, "SEARCH_ENDPOINT": tavilyHTTP.URL},
		Model: openaitest.NoTools(func(ctx context.Context, r openaitest.Request) openaitest.Response {
			q := r.LastUserMessage()
			return openaitest.Response{Content: fmt.Sprintf("看到了搜索结果：%v", strings.Contains(q, "<web_search>") && strings.Contains(q, "https://"))}
		}),
	})
	withSecrets(st)
	if got := single(t, st, "alice").ask("最新的 Go 版本是多少"); got != "看到了搜索结果：true" {
		t.Errorf("the answer %q", got)
	}
	if q := tavily.Queries(); len(q) != 1 || q[0] != "最新的 Go 版本是多少" {
		t.Errorf("Tavily was asked %q; want the question, once", q)
	}
}

// In a card, a status line shows while a tool works, and the finished
// card holds the answer alone.
func TestToolsACardShowsTheToolAtWorkThenTheAnswer(t *testing.T) {
	t.Parallel()
	ts := startToolServers(t)
	hold := ts.bocha.Hold()
	env := ts.env
	env["CARD_TEMPLATE_ID"], env["CARD_CONTENT_KEY"], env["CARD_UPDATE_INTERVAL"] = "fcrobot-test.schema", "answer", "100ms"
	st := start(t, devstack.Config{
		DingTalkApp: true, ReplyEnv: env,
		Model: openaitest.UseTools(func(r openaitest.Request, results []openaitest.Message) string {
			return "搜索完毕：" + strings.SplitN(results[0].Content, "\n", 2)[0]
		}, []openaitest.ToolCall{{Name: "web_search", Arguments: `{"query":"钉钉 AI 卡片"}`}}),
	})
	withSecrets(st)
	st.DingTalk.AddCardTemplate("fcrobot-test.schema", "answer")
	alice := single(t, st, "alice")
	alice.send("帮我搜索钉钉 AI 卡片")
	select {
	case <-hold.Arrived():
	case <-time.After(time.Minute):
		t.Fatal("no search arrived")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		cards, err := st.DingTalk.WaitCards(ctx, 1, false)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(cards[0].Content("answer"), "🔍 正在搜索：钉钉 AI 卡片") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	hold.Release()
	cards, err := st.DingTalk.WaitCards(ctx, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := cards[0].Content("answer"); !strings.HasPrefix(got, "搜索完毕：") || strings.Contains(got, "正在搜索") {
		t.Errorf("the finished card shows %q; want the answer alone", got)
	}
}
