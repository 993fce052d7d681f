package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/dingtalk-llm/fcrobot/internal/mcp"
	"github.com/dingtalk-llm/fcrobot/internal/mcp/mcptest"
)

// Only a tool the operator allows, and that may run without asking
// (read-only by the server's word, or trusted), is offered.
func TestToolsOffersOnlyAllowedToolsThatMayRunWithoutAsking(t *testing.T) {
	for _, stateless := range []bool{false, true} {
		var opts []mcptest.Option
		if stateless {
			opts = append(opts, mcptest.Stateless())
		}
		url := serve(t, mcptest.NewServer(opts...))
		cases := []struct {
			name                  string
			tools, trust, confirm []string
			want                  []string
		}{
			{"read-only only", nil, nil, nil, []string{"docs__search_docs"}},
			{"trusted too", nil, []string{"create_ticket"}, nil, []string{"docs__create_ticket", "docs__search_docs"}},
			{"tools picks the read-only", []string{"search_docs"}, nil, nil, []string{"docs__search_docs"}},
			{"tools picks the trusted", []string{"create_ticket"}, []string{"create_ticket"}, nil, []string{"docs__create_ticket"}},
			{"tools picks one not trusted", []string{"create_ticket"}, nil, nil, nil},
			{"to confirm", nil, nil, []string{"create_ticket"}, []string{"docs__create_ticket", "docs__search_docs"}},
			{"to confirm though read-only", nil, nil, []string{"search_docs"}, []string{"docs__search_docs"}},
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("stateless=%v/%s", stateless, c.name), func(t *testing.T) {
				client, _ := newClient(t, mcp.Config{Servers: []mcp.Server{{Name: "docs", URL: url, Tools: c.tools, Trust: c.trust, Confirm: c.confirm}}})
				tools, down := client.Tools(context.Background())
				if len(down) > 0 {
					t.Fatalf("down: %v", down)
				}
				if got := toolNames(tools); !slices.Equal(got, c.want) {
					t.Fatalf("offered %v, want %v", got, c.want)
				}
				for _, tool := range tools {
					if tool.Server != "docs" || tool.ReadOnly != (tool.Original == mcptest.SearchDocs && !slices.Contains(c.confirm, tool.Original)) {
						t.Errorf("%s: server %q, read-only %v", tool.Name, tool.Server, tool.ReadOnly)
					}
					if want := slices.Contains(c.confirm, tool.Original); tool.Confirm != want {
						t.Errorf("%s: confirm %v, want %v", tool.Name, tool.Confirm, want)
					}
					if got, ok := client.Lookup(tool.Name); !ok || got.Original != tool.Original {
						t.Errorf("Lookup(%q) = %+v, %v", tool.Name, got, ok)
					}
				}
				if i := slices.Index(c.want, "docs__search_docs"); i >= 0 {
					search := tools[i]
					var schema struct {
						Type       string                     `json:"type"`
						Properties map[string]json.RawMessage `json:"properties"`
					}
					if err := json.Unmarshal(search.Parameters, &schema); err != nil || schema.Type != "object" || schema.Properties["query"] == nil {
						t.Errorf("parameters %s (%v); want an object schema with query", search.Parameters, err)
					}
					if search.Description != "Searches the team's documentation and returns the passages found." {
						t.Errorf("description %q", search.Description)
					}
					if search.Label() != "docs.search_docs" {
						t.Errorf("label %q", search.Label())
					}
				}
			})
		}
	}
}

// The headers of a server reach it with every request, and only it.
func TestToolsSendTheServersHeaders(t *testing.T) {
	const token = "Bearer sk-live-0123456789"
	server := mcptest.NewServer(mcptest.RequireHeader("Authorization", token))
	url := serve(t, server)

	client, _ := newClient(t, mcp.Config{Servers: []mcp.Server{{Name: "docs", URL: url, Headers: mcp.Headers{"Authorization": token}}}})
	tools, down := client.Tools(context.Background())
	if len(down) != 0 || len(tools) != 1 {
		t.Fatalf("with its token: tools %v, down %v", toolNames(tools), down)
	}
	if _, err := client.Call(context.Background(), "docs__search_docs", `{"query": "x"}`); err != nil {
		t.Fatalf("call with its token: %v", err)
	}

	for _, headers := range []mcp.Headers{nil, {"Authorization": "Bearer sk-wrong-9876543210"}} {
		client, logs := newClient(t, mcp.Config{Servers: []mcp.Server{{Name: "docs", URL: url, Headers: headers}}})
		tools, down := client.Tools(context.Background())
		if len(tools) != 0 || len(down) != 1 {
			t.Fatalf("without its token: tools %v, down %v", toolNames(tools), down)
		}
		if want := "it refused access (HTTP 401)"; !strings.HasPrefix(down[0].Reason, want) {
			t.Errorf("reason %q, want %q…", down[0].Reason, want)
		}
		for _, text := range []string{down[0].String(), logs.String()} {
			if strings.Contains(text, "sk-") {
				t.Errorf("a token shows: %s", text)
			}
		}
	}
}

// A redirect to another origin does not take the headers along.
func TestHeadersStayWithTheirOrigin(t *testing.T) {
	var seen atomic.Value
	other := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store("request: " + r.Header.Get("X-Api-Key"))
		http.Error(w, "no", http.StatusNotFound)
	}))
	var home atomic.Value
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		home.Store(r.Header.Get("X-Api-Key"))
		http.Redirect(w, r, other+"/mcp", http.StatusTemporaryRedirect)
	}))
	client, _ := newClient(t, mcp.Config{Servers: []mcp.Server{{Name: "docs", URL: url, Headers: mcp.Headers{"X-Api-Key": "key-0123456789"}}}})
	_, down := client.Tools(context.Background())
	if len(down) != 1 {
		t.Fatalf("down %v", down)
	}
	if home.Load() != "key-0123456789" {
		t.Errorf("the server itself got X-Api-Key %q", home.Load())
	}
	if seen.Load() != "request: " {
		t.Errorf("the other origin got %q; want a request without the key", seen.Load())
	}
}

// Names say the server, keep to the OpenAI rule and stay unique; a tool
// with an unusable schema is left out, not its server; descriptions are
// bounded.
func TestToolsNamesSchemasAndDescriptions(t *testing.T) {
	long := strings.Repeat("a_very_long_name_", 6)
	deep := `{"type": "object", "properties": {"a": ` + strings.Repeat(`{"type": "array", "items": `, 40) + `{}` + strings.Repeat("}", 40) + `}}`
	huge := `{"type": "object", "description": "` + strings.Repeat("x", 20<<10) + `"}`
	tool := func(name, schema string) *sdk.Tool {
		return &sdk.Tool{Name: name, InputSchema: json.RawMessage(schema), Annotations: readOnly}
	}
	listed := []*sdk.Tool{
		tool("search", `{"type": "object", "properties": {"q": {"type": "string"}}}`),
		tool("docs.search/v2", `{"type": "object"}`),
		tool("a.b", `{"type": "object"}`),
		tool("a_b", `{"type": "object"}`),
		tool(long, `{"type": "object"}`),
		tool(long+"2", `{"type": "object"}`),
		tool("string_schema", `{"type": "string"}`),
		tool("array_schema", `[{"type": "object"}]`),
		tool("no_type", `{"properties": {}}`),
		tool("deep", deep),
		tool("huge", huge),
		{Name: "not_read_only", InputSchema: objectSchema},
		{Name: "read_only_false", InputSchema: objectSchema, Annotations: &sdk.ToolAnnotations{ReadOnlyHint: false}},
		{Name: "long_description", InputSchema: objectSchema, Annotations: readOnly, Description: strings.Repeat("说明", 1000)},
		{Name: "titled", InputSchema: objectSchema, Annotations: readOnly, Title: "A title"},
		tool("search", `{"type": "object"}`), // twice: the first counts
	}
	url := serve(t, listing(listed...))
	client, logs := newClient(t, mcp.Config{Servers: []mcp.Server{{Name: "docs", URL: url}}})
	tools, down := client.Tools(context.Background())
	if len(down) != 0 {
		t.Fatalf("down: %v", down)
	}
	byOriginal := map[string]mcp.Tool{}
	seen := map[string]bool{}
	for _, tool := range tools {
		byOriginal[tool.Original] = tool
		if !modelNameRule.MatchString(tool.Name) || !strings.HasPrefix(tool.Name, "docs__") || seen[tool.Name] {
			t.Errorf("name %q (of %q) breaks the rule, does not say its server, or is given twice", tool.Name, tool.Original)
		}
		seen[tool.Name] = true
		if got, ok := client.Lookup(tool.Name); !ok || got.Original != tool.Original {
			t.Errorf("Lookup(%q) = %q, %v", tool.Name, got.Original, ok)
		}
	}
	offered := slices.Sorted(func(yield func(string) bool) {
		for name := range byOriginal {
			if !yield(name) {
				return
			}
		}
	})
	want := []string{"a.b", "a_b", long, long + "2", "docs.search/v2", "long_description", "search", "titled"}
	if !slices.Equal(offered, want) {
		t.Fatalf("offered %q\nwant    %q", offered, want)
	}
	if got := byOriginal["search"].Name; got != "docs__search" {
		t.Errorf("search is %q", got)
	}
	if got := string(byOriginal["search"].Parameters); !strings.Contains(got, `"q"`) {
		t.Errorf("the first of two tools named search was not kept: %s", got)
	}
	if got := byOriginal["docs.search/v2"].Name; got != "docs__docs_search_v2" {
		t.Errorf("docs.search/v2 is %q", got)
	}
	if a, b := byOriginal["a.b"].Name, byOriginal["a_b"].Name; a != "docs__a_b" || !strings.HasPrefix(b, "docs__a_b_") {
		t.Errorf("a.b is %q, a_b is %q; want the first plain and the second hashed", a, b)
	}
	d := byOriginal["long_description"].Description
	if len(d) > 1024 || !utf8.ValidString(d) || !strings.HasSuffix(d, "…") {
		t.Errorf("description of %d bytes, valid %v: …%q", len(d), utf8.ValidString(d), d[max(0, len(d)-12):])
	}
	if d := byOriginal["titled"].Description; d != "A title" {
		t.Errorf("a tool with a title but no description is described %q", d)
	}
	for _, dropped := range []string{"string_schema", "array_schema", "no_type", "deep", "huge"} {
		if !strings.Contains(logs.String(), "tool="+dropped) {
			t.Errorf("the log does not say why %s is not offered", dropped)
		}
	}

	// The same list gives the same names, on another client.
	again, _ := newClient(t, mcp.Config{Servers: []mcp.Server{{Name: "docs", URL: url}}})
	tools2, _ := again.Tools(context.Background())
	if !slices.Equal(toolNames(tools), toolNames(tools2)) {
		t.Errorf("names differ between clients:\n%v\n%v", toolNames(tools), toolNames(tools2))
	}
}

// A server that cannot be reached, refuses or answers garbage is reported
// with a reason, and the others' tools are still offered.
func TestToolsOfAServerDownAreLeftOutWithAReason(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	docs := serve(t, mcptest.NewServer())
	answer := func(status int, contentType, body string) string {
		return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		}))
	}
	cases := []struct {
		name, url, reason string
	}{
		{"closed", closed.URL, "it cannot be reached"},
		{"html", answer(200, "text/html", "<html><body>Welcome</body></html>"), "it answered with text/html, not MCP"},
		{"invalid JSON", answer(200, "application/json", "{not json"), "it answered with something that is not MCP"},
		{"JSON but not JSON-RPC", answer(200, "application/json", `{"hello": "world"}`), "it answered with something that is not MCP"},
		{"garbage events", answer(200, "text/event-stream", "data: garbage\n\n"), "it answered with something that is not MCP"},
		{"500", answer(500, "text/plain", "oops"), "it failed (HTTP 500)"},
		{"404", answer(404, "text/plain", "not found"), "it has no MCP endpoint at its url (HTTP 404)"},
		{"401", answer(401, "application/json", `{"error": "unauthorized"}`), "it refused access (HTTP 401)"},
		{"403", answer(403, "text/plain", "forbidden"), "it refused access (HTTP 403)"},
		{"huge", answer(200, "application/json", `{"jsonrpc": "2.0", "id": 1, "result": {"x": "`+strings.Repeat("x", 5<<20)+`"}}`),
			"it answered with more than 4 MiB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client, logs := newClient(t, mcp.Config{Servers: []mcp.Server{{Name: "bad", URL: c.url}, {Name: "docs", URL: docs}}})
			tools, down := client.Tools(context.Background())
			if got := toolNames(tools); !slices.Equal(got, []string{"docs__search_docs"}) {
				t.Errorf("offered %v; want the healthy server's tool", got)
			}
			if len(down) != 1 || down[0].Server != "bad" {
				t.Fatalf("down %v; want the bad server", down)
			}
			if !strings.HasPrefix(down[0].Reason, c.reason) {
				t.Errorf("reason %q, want %q", down[0].Reason, c.reason)
			}
			if want := `MCP server "bad" is unavailable: ` + c.reason; !strings.HasPrefix(down[0].String(), want) {
				t.Errorf("told %q, want %q", down[0].String(), want)
			}
			if strings.Contains(down[0].Reason, "127.0.0.1") {
				t.Errorf("the reason quotes the URL: %q", down[0].Reason)
			}
			if !strings.Contains(logs.String(), "server=bad") {
				t.Errorf("the log does not name the server: %s", logs)
			}
			if _, ok := client.Lookup("bad__anything"); ok {
				t.Error("Lookup finds a tool of a server that never listed")
			}
		})
	}
}

// A list is kept ListFor: a second question within it asks the server
// nothing; after it, the server is asked again.
func TestToolsAreKeptForListFor(t *testing.T) {
	server := countRequests(mcptest.NewServer())
	url := serve(t, server)
	clock := newClock()
	client, _ := newClient(t, mcp.Config{Servers: []mcp.Server{{Name: "docs", URL: url}}, Now: clock.Now, ListFor: mcp.DefaultListFor})
	first, _ := client.Tools(context.Background())
	asked := server.Requests("")
	if asked == 0 || len(first) != 1 {
		t.Fatalf("first listing: %d requests, %v", asked, toolNames(first))
	}
	clock.Advance(mcp.DefaultListFor - 1)
	second, _ := client.Tools(context.Background())
	if n := server.Requests(""); n != asked {
		t.Errorf("a second question within ListFor made %d requests", n-asked)
	}
	if !slices.Equal(toolNames(first), toolNames(second)) {
		t.Errorf("the kept list differs: %v", toolNames(second))
	}
	clock.Advance(1)
	third, down := client.Tools(context.Background())
	if server.Requests("") == asked {
		t.Error("after ListFor the server was not asked again")
	}
	if len(down) != 0 || !slices.Equal(toolNames(first), toolNames(third)) {
		t.Errorf("after ListFor: %v, %v", toolNames(third), down)
	}
}

// A server whose listing failed is taken as down DownFor, not asked
// again for each question; after it, it is asked again.
func TestAServerDownIsAskedAgainOnlyAfterDownFor(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	docs := mcptest.NewServer()
	server := countRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		docs.ServeHTTP(w, r)
	}))
	url := serve(t, server)
	clock := newClock()
	client, _ := newClient(t, mcp.Config{Servers: []mcp.Server{{Name: "docs", URL: url}}, Now: clock.Now})
	if _, down := client.Tools(context.Background()); len(down) != 1 || down[0].Reason != "it failed (HTTP 503)" {
		t.Fatalf("down %v", down)
	}
	asked := server.Requests("")
	failing.Store(false)
	clock.Advance(mcp.DefaultDownFor - 1)
	if tools, down := client.Tools(context.Background()); len(tools) != 0 || len(down) != 1 {
		t.Errorf("within DownFor: %v, %v; want still down", toolNames(tools), down)
	}
	if n := server.Requests(""); n != asked {
		t.Errorf("within DownFor the server was asked %d more times", n-asked)
	}
	clock.Advance(1)
	if tools, down := client.Tools(context.Background()); len(tools) != 1 || len(down) != 0 {
		t.Errorf("after DownFor: %v, %v; want its tool", toolNames(tools), down)
	}
}

// Questions at once on a cold instance share one listing per server.
func TestToolsListedOnceForQuestionsAtOnce(t *testing.T) {
	alone := countRequests(mcptest.NewServer())
	client, _ := newClient(t, mcp.Config{Servers: []mcp.Server{{Name: "docs", URL: serve(t, alone)}}})
	client.Tools(context.Background())
	once := alone.Requests("")

	server := countRequests(mcptest.NewServer())
	client, _ = newClient(t, mcp.Config{Servers: []mcp.Server{{Name: "docs", URL: serve(t, server)}}})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if tools, down := client.Tools(context.Background()); len(tools) != 1 || len(down) != 0 {
				t.Errorf("tools %v, down %v", toolNames(tools), down)
			}
		})
	}
	wg.Wait()
	if n := server.Requests(""); n != once {
		t.Errorf("16 questions at once made %d requests; one makes %d", n, once)
	}
}

// A question that ends while the tools are being listed gets the server
// as unavailable at once; the listing goes on for the next question.
func TestToolsOfAQuestionThatEnded(t *testing.T) {
	release := make(chan struct{})
	docs := mcptest.NewServer()
	url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		docs.ServeHTTP(w, r)
	}))
	client, _ := newClient(t, mcp.Config{Servers: []mcp.Server{{Name: "docs", URL: url}}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tools, down := client.Tools(ctx)
	close(release)
	if len(tools) != 0 || len(down) != 1 || down[0].Reason != "the question ended before it answered" {
		t.Fatalf("tools %v, down %v", toolNames(tools), down)
	}
	if tools, down := client.Tools(context.Background()); len(tools) != 1 || len(down) != 0 {
		t.Errorf("next question: tools %v, down %v", toolNames(tools), down)
	}
}

func TestNoServerNoTools(t *testing.T) {
	client, _ := newClient(t, mcp.Config{})
	if tools, down := client.Tools(context.Background()); tools != nil || down != nil {
		t.Errorf("tools %v, down %v", tools, down)
	}
	var nilClient *mcp.Client
	if tools, down := nilClient.Tools(context.Background()); tools != nil || down != nil {
		t.Errorf("a nil client offers %v, %v", tools, down)
	}
	if _, ok := nilClient.Lookup("docs__x"); ok {
		t.Error("a nil client looks up a tool")
	}
}

// A server given to New without ParseServers' checks, whose name would
// break the model's names or whose URL is not http(s), is never asked.
func TestAServerNotCheckedIsNotAsked(t *testing.T) {
	server := countRequests(mcptest.NewServer())
	url := serve(t, server)
	client, _ := newClient(t, mcp.Config{Servers: []mcp.Server{
		{Name: "my docs", URL: url},
		{Name: "ftp", URL: "ftp" + strings.TrimPrefix(url, "http")},
		{Name: "docs", URL: url},
	}})
	tools, down := client.Tools(context.Background())
	if got := toolNames(tools); !slices.Equal(got, []string{"docs__search_docs"}) {
		t.Errorf("offered %v", got)
	}
	if len(down) != 2 || !strings.Contains(down[0].Reason, "letters, digits") || !strings.Contains(down[1].Reason, "http://") {
		t.Errorf("down %v", down)
	}
}
