package mcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"
)

// Server is one remote MCP server, as the operator names it in
// MCP_SERVERS.
type Server struct {
	// Name says which server a tool comes from, in the names the model
	// sees (<name>__<tool>) and in what the user is shown.
	Name string `json:"name"`
	// URL is the server's streamable HTTP endpoint.
	URL string `json:"url"`
	// Headers are sent with every request to the server's origin (an
	// Authorization token, an API key). Their values are secrets.
	Headers Headers `json:"headers,omitempty"`
	// Tools, when not nil, are the only tools of the server the model may
	// be offered (the server's own names).
	Tools []string `json:"tools,omitempty"`
	// Trust names tools that may run without asking although the server
	// does not mark them read-only.
	Trust []string `json:"trust,omitempty"`
	// Confirm names tools that run only after a person allows each call
	// (a card's buttons, or \yes / \no): offered with Tool.Confirm set.
	Confirm []string `json:"confirm,omitempty"`
}

// String names the server and its host: its URL and header values may hold
// keys, and a server printed may end in a log.
func (s Server) String() string { return fmt.Sprintf("%s (%s)", s.Name, hostOf(s.URL)) }

// GoString is String, for %#v.
func (s Server) GoString() string { return "mcp.Server{" + s.String() + "}" }

// LogValue logs the server as String does.
func (s Server) LogValue() slog.Value { return slog.StringValue(s.String()) }

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "no host"
	}
	return u.Host
}

// Headers are a server's extra request headers, by name. They print, log
// and marshal to JSON with their values hidden, for the values hold tokens.
type Headers map[string]string

// String lists the header names with their values hidden.
func (h Headers) String() string {
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name+":"+hidden)
	}
	slices.Sort(names)
	return "map[" + strings.Join(names, " ") + "]"
}

// GoString hides the values from %#v as String does from %v.
func (h Headers) GoString() string { return "mcp.Headers" + h.String() }

// LogValue keeps the values out of a structured log line.
func (h Headers) LogValue() slog.Value { return slog.StringValue(h.String()) }

// MarshalJSON writes the names with the values hidden.
func (h Headers) MarshalJSON() ([]byte, error) {
	out := make(map[string]string, len(h))
	for name := range h {
		out[name] = hidden
	}
	return json.Marshal(out)
}

// hidden stands for a header value wherever one would be shown.
const hidden = "REDACTED"

// Bounds of MCP_SERVERS: generous for any real configuration, small enough
// that a mistaken or hostile value cannot cost the function its memory.
const (
	maxServersText   = 64 << 10
	maxServers       = 16
	maxServerName    = 24
	maxURL           = 2048
	maxHeaders       = 16
	maxHeaderValue   = 8 << 10
	maxListedNames   = 256
	maxListedNameLen = 128
)

var serverName = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// reservedHeaders are set by the HTTP client or the MCP transport itself;
// an operator's value would break the protocol.
var reservedHeaders = []string{
	"Accept", "Connection", "Content-Length", "Content-Type", "Host",
	"Last-Event-Id", "Mcp-Protocol-Version", "Mcp-Session-Id", "Transfer-Encoding",
}

// ParseServers reads MCP_SERVERS: a JSON array of servers, each
// {"name", "url", "headers", "tools", "trust", "confirm"}. Empty text or
// "[]" means no server. An error names the entry and the field at fault,
// and never quotes a header value or a URL (either may hold a secret).
func ParseServers(text string) ([]Server, error) {
	if len(text) > maxServersText {
		return nil, fmt.Errorf("MCP_SERVERS is %d bytes long, more than the %d it may be", len(text), maxServersText)
	}
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var entries []json.RawMessage
	if err := json.Unmarshal([]byte(text), &entries); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return nil, fmt.Errorf("MCP_SERVERS is not valid JSON (at byte %d): %s", syntax.Offset, clip(strings.TrimPrefix(syntax.Error(), "json: ")))
		case errors.As(err, &typ) && typ.Field == "":
			return nil, fmt.Errorf(`MCP_SERVERS must be a JSON array of servers, like [{"name": "docs", "url": "https://…"}], not a JSON %s`, typ.Value)
		}
		return nil, fmt.Errorf("MCP_SERVERS is not valid JSON: %s", clip(err.Error()))
	}
	if len(entries) > maxServers {
		return nil, fmt.Errorf("MCP_SERVERS names %d servers, more than the %d it may", len(entries), maxServers)
	}
	servers := make([]Server, 0, len(entries))
	byName := make(map[string]int, len(entries))
	for i, raw := range entries {
		s, err := parseServer(raw)
		where := fmt.Sprintf("MCP_SERVERS[%d]", i)
		if s.Name != "" && utf8.ValidString(s.Name) {
			where += fmt.Sprintf(" (%q)", clip(s.Name))
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if j, dup := byName[s.Name]; dup {
			return nil, fmt.Errorf("%s: name %q is already the name of MCP_SERVERS[%d]; each server needs a name of its own", where, s.Name, j)
		}
		byName[s.Name] = i
		servers = append(servers, s)
	}
	if len(servers) == 0 {
		return nil, nil
	}
	return servers, nil
}

func parseServer(raw json.RawMessage) (Server, error) {
	var s Server
	if string(raw) == "null" {
		return s, errors.New(`is null, not a server like {"name": "docs", "url": "https://…"}`)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Server{Name: s.Name}, decodeError(err)
	}
	if err := checkName(s.Name); err != nil {
		return s, err
	}
	if err := checkURL(s.URL); err != nil {
		return s, err
	}
	headers, err := checkHeaders(s.Headers)
	if err != nil {
		return s, err
	}
	s.Headers = headers
	if err := checkLists(s); err != nil {
		return s, err
	}
	return s, nil
}

// decodeError words an error of decoding one entry for an operator.
func decodeError(err error) error {
	var typ *json.UnmarshalTypeError
	var syntax *json.SyntaxError
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "json: unknown field "):
		return fmt.Errorf("unknown field %s (a server has name, url, headers, tools, trust and confirm)",
			clip(strings.TrimPrefix(msg, "json: unknown field ")))
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Errorf(`is a JSON %s, not a server like {"name": "docs", "url": "https://…"}`, typ.Value)
	case errors.As(err, &typ) && typ.Type.Kind() == reflect.String && typ.Field != "name" && typ.Field != "url":
		return fmt.Errorf("%s holds a JSON %s where only strings may be", clip(typ.Field), typ.Value)
	case errors.As(err, &typ):
		return fmt.Errorf("%s is a JSON %s where %s was expected", clip(typ.Field), typ.Value, kindOf(typ.Field))
	case errors.As(err, &syntax):
		return fmt.Errorf("is not valid JSON: %s", clip(strings.TrimPrefix(msg, "json: ")))
	}
	return fmt.Errorf("cannot be read: %s", clip(strings.TrimPrefix(msg, "json: ")))
}

// kindOf says what a field of Server holds, for decodeError.
func kindOf(field string) string {
	switch field {
	case "headers":
		return `an object of strings, like {"Authorization": "Bearer …"}`
	case "tools", "trust", "confirm":
		return "a list of tool names (strings)"
	}
	return "a string"
}

func checkName(name string) error {
	switch {
	case name == "":
		return errors.New(`name is required (it says which server a tool comes from, like "docs")`)
	case len(name) > maxServerName:
		return fmt.Errorf("name is longer than %d characters", maxServerName)
	case !serverName.MatchString(name):
		return fmt.Errorf(`name %q may hold only letters, digits, "-" and "_"`, clip(name))
	case strings.Contains(name, "__") || strings.HasSuffix(name, "_"):
		return fmt.Errorf(`name %q may neither hold "__" nor end with "_": the model calls its tools <name>__<tool>`, name)
	}
	return nil
}

// checkURL refuses anything but an absolute http(s) address with a host;
// it never quotes the URL, which may hold a key.
func checkURL(raw string) error {
	if raw == "" {
		return errors.New("url is required (the server's streamable HTTP endpoint, like https://example.com/mcp)")
	}
	if len(raw) > maxURL {
		return fmt.Errorf("url is longer than %d characters", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("url is not a valid address")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("url must start with http:// or https://")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("url has no host")
	case u.User != nil:
		return errors.New("url holds a user name or password: give credentials in headers instead")
	}
	return nil
}

// checkHeaders validates names and values and returns the headers with
// canonical names; it never quotes a value.
func checkHeaders(h Headers) (Headers, error) {
	if len(h) == 0 {
		return nil, nil
	}
	if len(h) > maxHeaders {
		return nil, fmt.Errorf("headers has %d headers, more than the %d it may", len(h), maxHeaders)
	}
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	slices.Sort(names)
	out := make(Headers, len(h))
	for _, name := range names {
		value := h[name]
		canonical := http.CanonicalHeaderKey(name)
		switch {
		case !httpguts.ValidHeaderFieldName(name):
			return nil, fmt.Errorf("headers: %q is not a valid header name", clip(name))
		case slices.Contains(reservedHeaders, canonical):
			return nil, fmt.Errorf("headers: %s is set by the MCP transport itself and may not be given", canonical)
		case value == "":
			return nil, fmt.Errorf("headers: %s has an empty value", canonical)
		case len(value) > maxHeaderValue:
			return nil, fmt.Errorf("headers: the value of %s is longer than %d bytes", canonical, maxHeaderValue)
		case !httpguts.ValidHeaderFieldValue(value):
			return nil, fmt.Errorf("headers: the value of %s holds characters a header may not (a line break?)", canonical)
		}
		if _, dup := out[canonical]; dup {
			return nil, fmt.Errorf("headers: %s is given twice (header names ignore case)", canonical)
		}
		out[canonical] = value
	}
	return out, nil
}

func checkLists(s Server) error {
	if s.Tools != nil && len(s.Tools) == 0 {
		return errors.New("tools is an empty list: leave it out to offer every tool, or name at least one")
	}
	for _, list := range []struct {
		field string
		names []string
	}{{"tools", s.Tools}, {"trust", s.Trust}, {"confirm", s.Confirm}} {
		if len(list.names) > maxListedNames {
			return fmt.Errorf("%s names %d tools, more than the %d it may", list.field, len(list.names), maxListedNames)
		}
		for _, name := range list.names {
			switch {
			case name == "":
				return fmt.Errorf("%s holds an empty tool name", list.field)
			case len(name) > maxListedNameLen:
				return fmt.Errorf("%s holds a tool name longer than %d bytes", list.field, maxListedNameLen)
			case s.Tools != nil && list.field != "tools" && !slices.Contains(s.Tools, name):
				return fmt.Errorf("%s names %q, which tools leaves out: it would never be offered", list.field, clip(name))
			case list.field == "confirm" && slices.Contains(s.Trust, name):
				return fmt.Errorf("%q is both in trust (run without asking) and in confirm (ask first); keep it in one", clip(name))
			}
		}
	}
	return nil
}

// clip shortens what an error quotes from the operator's text.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return cut(s, max) + "…"
}

// cut returns at most n bytes of s, ending on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
