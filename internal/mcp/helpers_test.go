package mcp_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/dingtalk-llm/fcrobot/internal/logging/logtest"
	"github.com/dingtalk-llm/fcrobot/internal/mcp"
)

// clock is a time a test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// serve serves h on a loopback port until the test ends; it returns the URL.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

// newClient makes a client that logs everything to the returned buffer,
// and closes it when the test ends (before the servers it reaches).
func newClient(t *testing.T, cfg mcp.Config) (*mcp.Client, *logtest.Buffer) {
	t.Helper()
	logs := new(logtest.Buffer)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c := mcp.New(cfg)
	t.Cleanup(func() { c.Close() })
	return c, logs
}

func toolNames(tools []mcp.Tool) []string {
	var names []string
	for _, t := range tools {
		names = append(names, t.Name)
	}
	return names
}

// counting counts the requests that reach h, by method.
type counting struct {
	h  http.Handler
	mu sync.Mutex
	n  map[string]int
}

func countRequests(h http.Handler) *counting { return &counting{h: h, n: map[string]int{}} }

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.n[r.Method]++
	c.n[""]++
	c.mu.Unlock()
	c.h.ServeHTTP(w, r)
}

// Requests counts the requests of method, or all with "".
func (c *counting) Requests(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[method]
}

// listing is an MCP server (the SDK's) that lists the tools given, as
// they are given: the shapes a server may send, however odd.
func listing(listed ...*sdk.Tool) http.Handler {
	s := sdk.NewServer(&sdk.Implementation{Name: "listing", Version: "1"}, nil)
	s.AddReceivingMiddleware(func(next sdk.MethodHandler) sdk.MethodHandler {
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			if method == "tools/list" {
				return &sdk.ListToolsResult{Tools: listed}, nil
			}
			return next(ctx, method, req)
		}
	})
	return sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, nil)
}

var objectSchema = json.RawMessage(`{"type": "object"}`)

var readOnly = &sdk.ToolAnnotations{ReadOnlyHint: true}

func textResult(text string) *sdk.CallToolResult {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: text}}}
}

var modelNameRule = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
