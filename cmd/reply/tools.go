package main

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/dingtalk-llm/fcrobot/internal/mcp"
	"github.com/dingtalk-llm/fcrobot/internal/reply"
	"github.com/dingtalk-llm/fcrobot/internal/search"
	"github.com/dingtalk-llm/fcrobot/internal/toolbox"
)

// openTools returns the model's hands as the settings give them
// (WEB_SEARCH, SEARCH_*, MCP_SERVERS), or nil when it has none, and what
// closes them at the end.
func openTools(s settings, logger *slog.Logger) (reply.Tools, func(), error) {
	cfg := toolbox.Config{WebSearch: s.WebSearch, SearchFirst: s.SearchMode == "always", Logger: logger}
	if s.WebSearch == toolbox.SearchBocha || s.WebSearch == toolbox.SearchTavily {
		client, err := search.New(search.Config{
			Provider: s.WebSearch, Endpoint: s.SearchURL, APIKey: s.SearchKey, HTTPClient: noRedirects(),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("SEARCH_ENDPOINT: %w", err)
		}
		cfg.Search = client
	}
	servers, err := mcp.ParseServers(s.MCPServers)
	if err != nil {
		return nil, nil, err // it names MCP_SERVERS, the entry and the field
	}
	if len(servers) > 0 {
		cfg.MCP = mcp.New(mcp.Config{Servers: servers, HTTPClient: noRedirects(), Logger: logger})
	}
	if cfg.WebSearch == toolbox.SearchOff && cfg.MCP == nil {
		return nil, func() {}, nil // no hands: \tools is not offered
	}
	return toolbox.New(cfg), func() {
		if cfg.MCP != nil {
			cfg.MCP.Close()
		}
	}, nil
}

// extraBody is what every request to the model carries beyond the chat
// API: DashScope's own search is switched on in the body.
func (s settings) extraBody() map[string]any {
	if s.WebSearch == toolbox.SearchDashScope {
		return map[string]any{"enable_search": true}
	}
	return nil
}

// noRedirects is the HTTP client of the tools: a search service or an MCP
// server that answers with a redirect is refused, not followed, so that
// the robot's requests go only where the operator pointed them.
func noRedirects() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// mcpCount is how many MCP servers MCP_SERVERS names (validated at start),
// for the start-up line: their URLs and headers may hold secrets.
func mcpCount(text string) int {
	servers, _ := mcp.ParseServers(text)
	return len(servers)
}
