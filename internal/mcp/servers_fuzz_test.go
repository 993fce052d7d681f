package mcp_test

import (
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/mcp"
)

// FuzzParseServers: whatever MCP_SERVERS holds, ParseServers answers
// without panicking, in one bounded line, the same way twice; and what it
// accepts keeps every promise a Client relies on.
func FuzzParseServers(f *testing.F) {
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	deepObject := `[{"name": "docs", "url": "https://x", "headers": ` + strings.Repeat(`{"a":`, 5000) + `"v"` + strings.Repeat("}", 5000) + `}]`
	for _, seed := range []string{
		"",
		"[]",
		"null",
		`[{"name": "docs", "url": "https://docs.example.com/mcp", "headers": {"Authorization": "Bearer t"}, "tools": ["a", "b"], "trust": ["b"], "confirm": ["a"]}]`,
		`[{"name": "a", "url": "http://h"}, {"name": "b", "url": "https://h:1/p?q=1"}]`,
		`[{"name": "docs", "url": "https://x"}, {"name": "docs", "url": "https://x"}]`,
		`[{"name": "docs", "name": "docs2", "url": "https://x", "url": "ftp://y"}]`,
		`[{"name": "docs", "url": "https://x", "trust": ["a", "a", "a"]}]`,
		`[{"name": "docs", "url": "https://x", "headers": {"a": "1", "A": "2"}}]`,
		`[{"NAME": "docs", "Url": "https://x"}]`,
		`[{"name": "d\u0000s", "url": "https://x"}]`,
		`[{"name": "docs", "url": "https://x\u0000y"}]`,
		`[{"name": "docs", "url": "https://[::1]:80/mcp"}]`,
		`[{"name": "docs", "url": "https://%zz"}]`,
		`[{"name": "docs", "url": "https://x", "headers": {"X": "a\u2028b"}}]`,
		`[{"name": "` + strings.Repeat("n", 60<<10) + `", "url": "https://x"}]`,
		`[{"name": "docs", "url": "https://x", "tools": ["` + strings.Repeat("文", 20<<10) + `"]}]`,
		`[` + strings.Repeat(`{"name": "a", "url": "https://x"},`, 2000) + `1]`,
		deep,
		deepObject,
		`[{"name": "docs", "url": "https://x"`,
		`[{"name": "docs", "url": "https://x"}] [`,
		"\xff\xfe[]",
	} {
		f.Add(seed)
	}
	nameOK := regexp.MustCompile(`^[a-zA-Z0-9_-]{1,24}$`)
	f.Fuzz(func(t *testing.T, text string) {
		servers, err := mcp.ParseServers(text)
		again, err2 := mcp.ParseServers(text)
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(servers, again) {
			t.Fatalf("two readings differ: %v, %v", err, err2)
		}
		if err != nil {
			if servers != nil {
				t.Fatalf("an error and servers: %v", servers)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || len(msg) > 600 || !strings.HasPrefix(msg, "MCP_SERVERS") {
				t.Fatalf("error is not one bounded line that names MCP_SERVERS: %q", msg)
			}
			return
		}
		if len(servers) > 16 {
			t.Fatalf("%d servers accepted", len(servers))
		}
		seen := map[string]bool{}
		for _, s := range servers {
			if !nameOK.MatchString(s.Name) || strings.Contains(s.Name, "__") || strings.HasSuffix(s.Name, "_") || seen[s.Name] {
				t.Fatalf("name %q accepted (or twice)", s.Name)
			}
			seen[s.Name] = true
			u, err := url.Parse(s.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
				t.Fatalf("url %q accepted", s.URL)
			}
			for name, value := range s.Headers {
				if value == "" || strings.ContainsAny(value, "\r\n\x00") || name == "" || strings.ContainsAny(name, " :\r\n") {
					t.Fatalf("header %q accepted", name)
				}
			}
			if s.Tools != nil && len(s.Tools) == 0 {
				t.Fatal("an empty tools list accepted")
			}
			for _, list := range [][]string{s.Trust, s.Confirm} {
				for _, name := range list {
					if name == "" || s.Tools != nil && !slices.Contains(s.Tools, name) {
						t.Fatalf("%q accepted in trust or confirm", name)
					}
				}
			}
			for _, name := range s.Confirm {
				if slices.Contains(s.Trust, name) {
					t.Fatalf("%q both trusted and to confirm", name)
				}
			}
		}
	})
}
