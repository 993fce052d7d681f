package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/dingtalk-llm/fcrobot/internal/mcp"
	"github.com/dingtalk-llm/fcrobot/internal/mcp/mcptest"
)

// No header value and no URL path (either may hold a key) reaches a log
// line, a reason told to the model or an error, whatever goes wrong: a
// server that echoes the token in its error, one that cannot be reached,
// one that refuses, a call that fails.
func TestNoSecretReachesALogAReasonOrAnError(t *testing.T) {
	const token = "Bearer sk-live-0123456789"
	const path = "/s/secret-path-abcdef/mcp"
	echo := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID json.RawMessage `json:"id"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if req.ID == nil {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc": "2.0", "id": %s, "error": {"code": -32000, "message": "the token %s is not valid"}}`,
			req.ID, r.Header.Get("Authorization"))
	}))
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	refusing := serve(t, mcptest.NewServer(mcptest.RequireHeader("Authorization", "Bearer another-token-000")))
	docs := mcptest.NewServer()
	docs.AddTool(&sdk.Tool{Name: "failing", InputSchema: objectSchema, Annotations: readOnly},
		func(_ context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
			return nil, fmt.Errorf("cannot use %s", req.Extra.Header.Get("Authorization"))
		})
	working := serve(t, http.StripPrefix(path, docs))

	headers := mcp.Headers{"Authorization": token}
	client, logs := newClient(t, mcp.Config{Servers: []mcp.Server{
		{Name: "echo", URL: echo + path, Headers: headers},
		{Name: "closed", URL: closed.URL + path, Headers: headers},
		{Name: "refusing", URL: refusing + path, Headers: headers},
		{Name: "docs", URL: working + path, Headers: headers},
	}})
	tools, down := client.Tools(context.Background())
	if len(tools) != 2 || len(down) != 3 {
		t.Fatalf("tools %v, down %v", toolNames(tools), down)
	}
	told := []string{}
	for _, d := range down {
		told = append(told, d.String())
	}
	if want := `MCP server "echo" is unavailable: it answered with an error: the token REDACTED is not valid`; told[0] != want {
		t.Errorf("told %q, want %q", told[0], want)
	}
	_, err := client.Call(context.Background(), "docs__failing", "{}")
	if err == nil {
		t.Fatal("the failing tool did not fail")
	}
	told = append(told, err.Error())
	for _, text := range append(told, logs.String()) {
		if strings.Contains(text, "sk-live") || strings.Contains(text, "secret-path") {
			t.Errorf("a secret shows:\n%s", text)
		}
	}
	if !strings.Contains(logs.String(), "server=closed") || !strings.Contains(logs.String(), "host=127.0.0.1") {
		t.Errorf("the log does not say which server, on which host:\n%s", logs)
	}
}

// However many tools the servers list, the model is offered at most 64 of
// one server and 100 in all (the APIs take 128).
func TestToolsOfferedAreBounded(t *testing.T) {
	many := func(prefix string, n int) http.Handler {
		var tools []*sdk.Tool
		for i := range n {
			tools = append(tools, &sdk.Tool{Name: fmt.Sprintf("%s%03d", prefix, i), InputSchema: objectSchema, Annotations: readOnly})
		}
		return listing(tools...)
	}
	client, _ := newClient(t, mcp.Config{Servers: []mcp.Server{
		{Name: "a", URL: serve(t, many("a", 70))},
		{Name: "b", URL: serve(t, many("b", 30))},
		{Name: "c", URL: serve(t, many("c", 30))},
	}})
	tools, down := client.Tools(context.Background())
	if len(down) != 0 {
		t.Fatalf("down %v", down)
	}
	count := map[string]int{}
	for _, tool := range tools {
		count[tool.Server]++
	}
	if len(tools) != 100 || count["a"] != 64 || count["b"] != 30 || count["c"] != 6 {
		t.Errorf("offered %d: %v", len(tools), count)
	}
	if tools[0].Original != "a000" || tools[63].Original != "a063" {
		t.Errorf("not the first tools by name: %s … %s", tools[0].Original, tools[63].Original)
	}
}
