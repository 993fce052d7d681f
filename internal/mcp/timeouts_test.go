package mcp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/dingtalk-llm/fcrobot/internal/mcp"
	"github.com/dingtalk-llm/fcrobot/internal/mcp/mcptest"
	"github.com/dingtalk-llm/fcrobot/internal/pipenet"
)

// inMemory serves mux on connections made in memory, which a synctest
// bubble can wait on; it returns the server, whose Client reaches it.
func inMemory(mux *http.ServeMux) *httptest.Server {
	ts := httptest.NewUnstartedServer(mux)
	pipenet.Start(ts)
	return ts
}

// A server that does not answer costs its tools after ListTimeout; the
// other servers' tools are offered.
func TestToolsOfASlowServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mux := http.NewServeMux()
		mux.Handle("/docs", mcptest.NewServer())
		mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // then the server notices the client leave
			<-r.Context().Done()
		})
		ts := inMemory(mux)
		defer ts.Close()
		client := mcp.New(mcp.Config{
			Servers:     []mcp.Server{{Name: "slow", URL: ts.URL + "/slow"}, {Name: "docs", URL: ts.URL + "/docs"}},
			HTTPClient:  ts.Client(),
			ListTimeout: 5 * time.Second,
		})
		defer client.Close()
		tools, down := client.Tools(context.Background())
		if got := toolNames(tools); !slices.Equal(got, []string{"docs__search_docs"}) {
			t.Errorf("offered %v", got)
		}
		if len(down) != 1 || down[0].String() != `MCP server "slow" is unavailable: it did not answer within 5s` {
			t.Errorf("down %v", down)
		}
	})
}

// A call that outlasts CallTimeout fails, saying so; the server's next
// call works.
func TestCallTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		docs := mcptest.NewServer()
		release := make(chan struct{})
		docs.AddTool(&sdk.Tool{Name: "slow", InputSchema: objectSchema, Annotations: readOnly},
			func(ctx context.Context, _ *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
				select {
				case <-ctx.Done():
				case <-release:
				}
				return textResult("too late"), nil
			})
		mux := http.NewServeMux()
		mux.Handle("/docs", docs)
		ts := inMemory(mux)
		client := mcp.New(mcp.Config{
			Servers:     []mcp.Server{{Name: "docs", URL: ts.URL + "/docs"}},
			HTTPClient:  ts.Client(),
			CallTimeout: 30 * time.Second,
		})
		defer func() {
			// The slow tool ends first: a stateful server holds the
			// DELETE of a session until its calls end.
			close(release)
			client.Close()
			ts.Close()
		}()
		if _, down := client.Tools(context.Background()); len(down) != 0 {
			t.Fatalf("down %v", down)
		}
		_, err := client.Call(context.Background(), "docs__slow", "{}")
		if !errors.Is(err, context.DeadlineExceeded) || err.Error() != "the call of docs.slow failed: it did not answer within 30s" {
			t.Errorf("error %v", err)
		}
		got, err := client.Call(context.Background(), "docs__search_docs", `{"query": "a"}`)
		if err != nil || !strings.Contains(got, "「a」") {
			t.Errorf("next call: %q, %v", got, err)
		}
	})
}
