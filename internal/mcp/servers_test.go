package mcp_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/mcp"
)

func TestParseServersNone(t *testing.T) {
	for _, text := range []string{"", "  \n", "[]", " [ ] ", "null"} {
		servers, err := mcp.ParseServers(text)
		if err != nil || servers != nil {
			t.Errorf("ParseServers(%q) = %v, %v; want no server and no error", text, servers, err)
		}
	}
}

func TestParseServersReadsEveryField(t *testing.T) {
	servers, err := mcp.ParseServers(`[
		{"name": "docs", "url": "https://docs.example.com/mcp",
		 "headers": {"authorization": "Bearer abc", "X-Api-Key": "k"},
		 "tools": ["search", "create_page", "delete_page"], "trust": ["create_page"], "confirm": ["delete_page"]},
		{"name": "tickets-2", "url": "http://10.0.0.7:8080/"}
	]`)
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) != 2 {
		t.Fatalf("got %d servers, want 2", len(servers))
	}
	d := servers[0]
	if d.Name != "docs" || d.URL != "https://docs.example.com/mcp" {
		t.Errorf("first server = %q at %q", d.Name, d.URL)
	}
	if d.Headers["Authorization"] != "Bearer abc" || d.Headers["X-Api-Key"] != "k" || len(d.Headers) != 2 {
		t.Errorf("headers are not kept under their canonical names: %d headers", len(d.Headers))
	}
	if fmt.Sprint(d.Tools, d.Trust, d.Confirm) != "[search create_page delete_page] [create_page] [delete_page]" {
		t.Errorf("tools, trust, confirm = %v %v %v", d.Tools, d.Trust, d.Confirm)
	}
	if s := servers[1]; s.Name != "tickets-2" || s.Tools != nil || s.Headers != nil {
		t.Errorf("second server = %+v; want every tool allowed and no header", s)
	}
}

func TestParseServersRefusesWithTheEntryAndField(t *testing.T) {
	long := strings.Repeat("x", 70<<10)
	cases := []struct {
		name, text string
		want       []string // all in the error
	}{
		{"a typo of a field", `[{"name": "docs", "url": "https://x/mcp", "trusts": ["create"]}]`,
			[]string{`MCP_SERVERS[0] ("docs")`, `unknown field "trusts"`}},
		{"no name", `[{"url": "https://x/mcp"}]`, []string{"MCP_SERVERS[0]", "name is required"}},
		{"a name with a dot", `[{"name": "my.docs", "url": "https://x/mcp"}]`, []string{"name", "letters, digits"}},
		{"a name with a space", `[{"name": "my docs", "url": "https://x/mcp"}]`, []string{"letters, digits"}},
		{"a name in Chinese", `[{"name": "文档", "url": "https://x/mcp"}]`, []string{"letters, digits"}},
		{"a long name", `[{"name": "abcdefghijklmnopqrstuvwxyz", "url": "https://x/mcp"}]`, []string{"longer than 24"}},
		{"a name with __", `[{"name": "my__docs", "url": "https://x/mcp"}]`, []string{`"__"`}},
		{"a name ending with _", `[{"name": "docs_", "url": "https://x/mcp"}]`, []string{`end with "_"`}},
		{"two servers of one name", `[{"name": "docs", "url": "https://x/mcp"}, {"name": "docs", "url": "https://y/mcp"}]`,
			[]string{`MCP_SERVERS[1] ("docs")`, "already the name of MCP_SERVERS[0]"}},
		{"no url", `[{"name": "docs"}]`, []string{"url is required"}},
		{"an ftp url", `[{"name": "docs", "url": "ftp://x/mcp"}]`, []string{"http:// or https://"}},
		{"a relative url", `[{"name": "docs", "url": "/mcp"}]`, []string{"http:// or https://"}},
		{"a url without host", `[{"name": "docs", "url": "https:///mcp"}]`, []string{"no host"}},
		{"a url with a password", `[{"name": "docs", "url": "https://u:p@x/mcp"}]`, []string{"password", "headers"}},
		{"a url that is a number", `[{"name": "docs", "url": 8080}]`, []string{"url is a JSON number where a string was expected"}},
		{"headers as a list", `[{"name": "docs", "url": "https://x", "headers": ["a"]}]`, []string{"headers is a JSON array", "object of strings"}},
		{"a header that is a number", `[{"name": "docs", "url": "https://x", "headers": {"X-Id": 7}}]`, []string{"headers holds a JSON number where only strings may be"}},
		{"a header set by the transport", `[{"name": "docs", "url": "https://x", "headers": {"mcp-session-id": "s"}}]`,
			[]string{"Mcp-Session-Id is set by the MCP transport"}},
		{"an empty header", `[{"name": "docs", "url": "https://x", "headers": {"Authorization": ""}}]`, []string{"Authorization has an empty value"}},
		{"a header with a line break", `[{"name": "docs", "url": "https://x", "headers": {"Authorization": "Bearer a\r\nX: y"}}]`,
			[]string{"the value of Authorization", "line break"}},
		{"a header name with a space", `[{"name": "docs", "url": "https://x", "headers": {"My Key": "v"}}]`, []string{`"My Key" is not a valid header name`}},
		{"one header twice", `[{"name": "docs", "url": "https://x", "headers": {"authorization": "a", "Authorization": "b"}}]`,
			[]string{"Authorization is given twice"}},
		{"tools empty", `[{"name": "docs", "url": "https://x", "tools": []}]`, []string{"tools is an empty list"}},
		{"tools as a string", `[{"name": "docs", "url": "https://x", "tools": "search"}]`, []string{"tools is a JSON string", "list of tool names"}},
		{"an empty tool name", `[{"name": "docs", "url": "https://x", "trust": [""]}]`, []string{"trust holds an empty tool name"}},
		{"trust outside tools", `[{"name": "docs", "url": "https://x", "tools": ["search"], "trust": ["create"]}]`,
			[]string{`trust names "create", which tools leaves out`}},
		{"confirm outside tools", `[{"name": "docs", "url": "https://x", "tools": ["search"], "confirm": ["delete"]}]`,
			[]string{`confirm names "delete"`}},
		{"trusted and confirmed", `[{"name": "docs", "url": "https://x", "trust": ["create"], "confirm": ["create"]}]`,
			[]string{`"create" is both in trust`}},
		{"one server, not in a list", `{"name": "docs", "url": "https://x"}`, []string{"must be a JSON array", "not a JSON object"}},
		{"a null entry", `[null]`, []string{"MCP_SERVERS[0]", "is null"}},
		{"a number entry", `[{"name": "a", "url": "https://x"}, 3]`, []string{"MCP_SERVERS[1]", "is a JSON number"}},
		{"not JSON", `[{"name": "docs", "url": "https://x"`, []string{"not valid JSON"}},
		{"trailing text", `[] x`, []string{"not valid JSON"}},
		{"too many servers", "[" + strings.TrimSuffix(strings.Repeat(`{"name": "a", "url": "https://x"},`, 17), ",") + "]",
			[]string{"17 servers", "more than the 16"}},
		{"too long", `[{"name": "docs", "url": "https://x", "tools": ["` + long + `"]}]`, []string{"bytes long, more than"}},
		{"a huge tool name", `[{"name": "docs", "url": "https://x", "tools": ["` + strings.Repeat("t", 200) + `"]}]`,
			[]string{"tools holds a tool name longer than 128"}},
		{"a huge unknown field", `[{"name": "docs", "url": "https://x", "` + strings.Repeat("k", 1000) + `": 1}]`,
			[]string{"unknown field"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			servers, err := mcp.ParseServers(c.text)
			if err == nil {
				t.Fatalf("ParseServers accepted it: %+v", servers)
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if len(err.Error()) > 400 {
				t.Errorf("error is %d bytes long; an operator reads one line", len(err.Error()))
			}
		})
	}
}

// An error about a server never quotes a header value or the URL: either
// may hold a key, and the error reaches the function's log.
func TestParseServersErrorsHideSecrets(t *testing.T) {
	const token = "Bearer sk-live-0123456789"
	const url = "https://mcp.example.com/s/secret-path-abcdef/mcp"
	for _, text := range []string{
		`[{"name": "docs", "url": "` + url + `", "headers": {"Authorization": "` + token + `"}, "trusts": []}]`,
		`[{"name": "docs", "url": "` + url + `", "headers": {"Authorization": "` + token + `\n"}}]`,
		`[{"name": "docs", "url": "` + url + `", "headers": {"Content-Type": "` + token + `"}}]`,
		`[{"name": "docs", "url": "ftp` + url[5:] + `"}]`,
		`[{"name": "docs", "url": "` + url + `", "headers": {"Authorization": "` + token + `"}, "tools": []}]`,
		`[{"name": "docs", "url": "` + url + `", "headers": {"Authorization": "` + token + `"}}, {"name": "docs", "url": "` + url + `"}]`,
	} {
		_, err := mcp.ParseServers(text)
		if err == nil {
			t.Fatalf("accepted %s", text)
		}
		if strings.Contains(err.Error(), "sk-live") || strings.Contains(err.Error(), "secret-path") {
			t.Errorf("error quotes a secret: %v", err)
		}
	}
}

// A server printed or logged shows its name and host; its headers show
// their names; neither shows a header value or the URL's path.
func TestHeadersPrintHidden(t *testing.T) {
	servers, err := mcp.ParseServers(`[{"name": "docs", "url": "https://x/s/secret-path/mcp", "headers": {"Authorization": "Bearer sk-live-0123456789"}}]`)
	if err != nil {
		t.Fatal(err)
	}
	s := servers[0]
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	log.Info("server", "server", s, "headers", s.Headers)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("server", "headers", s.Headers)
	headers, _ := json.Marshal(s.Headers)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%+v", s), fmt.Sprintf("%#v", s), logged.String()} {
		if strings.Contains(out, "sk-live") || strings.Contains(out, "secret-path") {
			t.Errorf("a secret shows: %s", out)
		}
		if !strings.Contains(out, "docs (x)") {
			t.Errorf("the server's name and host are not shown: %s", out)
		}
	}
	for _, out := range []string{fmt.Sprint(s.Headers), fmt.Sprintf("%#v", s.Headers), string(headers), logged.String()} {
		if strings.Contains(out, "sk-live") {
			t.Errorf("a header value shows: %s", out)
		}
		if !strings.Contains(out, "Authorization") {
			t.Errorf("the header name is not shown: %s", out)
		}
	}
}
