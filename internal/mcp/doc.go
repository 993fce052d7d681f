// Package mcp is the robot's client of remote MCP servers (the Model
// Context Protocol, over streamable HTTP), built on the official Go SDK,
// github.com/modelcontextprotocol/go-sdk.
//
// The operator names the servers in MCP_SERVERS (ParseServers). A Client
// lists each server's tools, keeps the list a while per instance, offers
// the model only the tools that may run without asking a person (read-only
// by the server's word, or trusted by the operator's), under names the
// OpenAI-compatible APIs accept, and calls them with bounded time and
// bounded results. A server that is down, slow or answers garbage costs the
// answer that server's tools (Unavailable says why, in words the model can
// be told), never the answer.
//
// Header values are secrets (they hold tokens): they are sent to the
// server's own origin only, and never reach a log line, an error or a
// reason. A server's URL may hold a secret too (some hosted servers put a
// key in the path): it is not logged, only its host.
//
// The wire facts the code relies on (streamable HTTP, sessions, what SDK
// v1.8.0 sends to open one, tools and their annotations) are in
// docs/protocols.md §17; docs/tools.md says how an operator adds a server.
package mcp
