// Package mcptest is a small MCP server built with the official Go SDK, as
// the robot's client meets real ones: streamable HTTP, a read-only tool and
// one that changes things, calls counted per tool so that a test can tell
// a tool ran exactly once, and optionally a header it requires (a token).
// Tests and `make run` start it.
package mcptest

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// The server's tools.
const (
	// SearchDocs is read-only (readOnlyHint): the robot offers it as is.
	SearchDocs = "search_docs"
	// CreateTicket changes things: the robot offers it only when the
	// operator trusts it.
	CreateTicket = "create_ticket"
)

// Server is an MCP server over streamable HTTP; it is an http.Handler.
type Server struct {
	server    *sdk.Server
	handler   http.Handler
	stateless bool
	header    string
	value     string

	mu       sync.Mutex
	calls    map[string]int
	requests int
	tickets  int
}

// Option changes what NewServer makes.
type Option func(*Server)

// RequireHeader makes the server answer 401 to a request without the
// header name set to value, as a server behind a token does.
func RequireHeader(name, value string) Option {
	return func(s *Server) { s.header, s.value = name, value }
}

// Stateless makes the server keep no session (no Mcp-Session-Id): the
// newer servers' way; by default it keeps sessions, as most do today.
func Stateless() Option {
	return func(s *Server) { s.stateless = true }
}

// NewServer makes a server with the tools SearchDocs and CreateTicket.
func NewServer(opts ...Option) *Server {
	s := &Server{calls: make(map[string]int)}
	for _, o := range opts {
		o(s)
	}
	notDestructive := false
	s.server = sdk.NewServer(&sdk.Implementation{Name: "mcptest", Version: "1"}, nil)
	sdk.AddTool(s.server, &sdk.Tool{
		Name:        SearchDocs,
		Title:       "Search the docs",
		Description: "Searches the team's documentation and returns the passages found.",
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true},
	}, count(s, SearchDocs, searchDocs))
	sdk.AddTool(s.server, &sdk.Tool{
		Name:        CreateTicket,
		Description: "Creates a ticket in the team's tracker.",
		Annotations: &sdk.ToolAnnotations{DestructiveHint: &notDestructive},
	}, count(s, CreateTicket, s.createTicket))
	s.handler = sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s.server },
		&sdk.StreamableHTTPOptions{Stateless: s.stateless})
	return s
}

// ServeHTTP serves MCP's streamable HTTP.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	if s.header != "" && r.Header.Get(s.header) != s.value {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mcptest"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	s.handler.ServeHTTP(w, r)
}

// AddTool adds a tool of the test's own, whose calls are counted too.
func (s *Server) AddTool(t *sdk.Tool, h sdk.ToolHandler) {
	s.server.AddTool(t, func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		s.called(t.Name)
		return h(ctx, req)
	})
}

// Calls is how many times the tool was called.
func (s *Server) Calls(tool string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[tool]
}

// Requests is how many HTTP requests the server has had.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *Server) called(tool string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[tool]++
}

func count[In, Out any](s *Server, name string, h sdk.ToolHandlerFor[In, Out]) sdk.ToolHandlerFor[In, Out] {
	return func(ctx context.Context, req *sdk.CallToolRequest, in In) (*sdk.CallToolResult, Out, error) {
		s.called(name)
		return h(ctx, req, in)
	}
}

// SearchDocsInput is what SearchDocs takes.
type SearchDocsInput struct {
	Query string `json:"query" jsonschema:"the words to look for"`
}

func searchDocs(_ context.Context, _ *sdk.CallToolRequest, in SearchDocsInput) (*sdk.CallToolResult, any, error) {
	return text(SearchDocsResult(in.Query)), nil, nil
}

// SearchDocsResult is what SearchDocs answers query, the same every time.
func SearchDocsResult(query string) string {
	return fmt.Sprintf("在文档中找到 2 条关于「%s」的结果：\n1. 《%s 入门》：先读部署指南，再按步骤配置。\n2. 《%s 常见问题》：遇到问题先看日志。", query, query, query)
}

// CreateTicketInput is what CreateTicket takes.
type CreateTicketInput struct {
	Title string `json:"title" jsonschema:"the ticket's title"`
	Body  string `json:"body,omitempty" jsonschema:"what the ticket is about"`
}

func (s *Server) createTicket(_ context.Context, _ *sdk.CallToolRequest, in CreateTicketInput) (*sdk.CallToolResult, any, error) {
	s.mu.Lock()
	s.tickets++
	n := 1000 + s.tickets
	s.mu.Unlock()
	return text(fmt.Sprintf("已创建工单 #%d：%s", n, in.Title)), nil, nil
}

func text(t string) *sdk.CallToolResult {
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: t}}}
}
