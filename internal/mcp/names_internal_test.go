package mcp

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var modelName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func TestModelNames(t *testing.T) {
	long := strings.Repeat("very_long_tool_name_", 5)
	cases := []struct {
		name      string
		server    string
		originals []string
		want      []string // "" = only check it is hashed (…_<8 hex>)
	}{
		{"plain", "docs", []string{"search"}, []string{"docs__search"}},
		{"odd characters", "docs", []string{"docs.search/v2", "a b", "工具"}, []string{"docs__docs_search_v2", "docs__a_b", "docs____"}}, // 工具: two runes, two "_"
		{"a collision after replacing", "docs", []string{"a.b", "a_b"}, []string{"docs__a_b", ""}},
		{"too long", "docs", []string{long}, []string{""}},
		{"two long names alike", "docs", []string{long + "1", long + "2"}, []string{"", ""}},
		{"a long server name", "abcdefghijklmnopqrstuvwx", []string{long, "x"}, []string{"", "abcdefghijklmnopqrstuvwx__x"}},
		{"an empty name", "docs", []string{""}, []string{"docs__tool"}},
	}
	hashed := regexp.MustCompile(`_[0-9a-f]{8}$`)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := modelNames(c.server, c.originals)
			if again := modelNames(c.server, c.originals); !slices.Equal(got, again) {
				t.Fatalf("names differ between two calls: %v, %v", got, again)
			}
			seen := map[string]bool{}
			for i, name := range got {
				if !modelName.MatchString(name) {
					t.Errorf("%q does not match %s", name, modelName)
				}
				if !strings.HasPrefix(name, c.server+"__") {
					t.Errorf("%q does not say its server %q", name, c.server)
				}
				if seen[name] {
					t.Errorf("%q given twice", name)
				}
				seen[name] = true
				if c.want[i] == "" && !hashed.MatchString(name) {
					t.Errorf("%q (for %q) has no hash suffix", name, c.originals[i])
				}
				if c.want[i] != "" && name != c.want[i] {
					t.Errorf("name of %q = %q, want %q", c.originals[i], name, c.want[i])
				}
			}
		})
	}
}

// FuzzModelNames: whatever two servers list, every name matches the
// OpenAI rule, says its server, is unique across both servers, and is the
// same every time.
func FuzzModelNames(f *testing.F) {
	f.Add("docs", "search\nsearch_docs\ndocs.search", "tickets", "create")
	f.Add("a", "b__c\n_b", "a-b", "c")
	f.Add("a", "x\x00\xff", "b", strings.Repeat("长", 100))
	f.Add("abcdefghijklmnopqrstuvwx", strings.Repeat("n", 200)+"\n"+strings.Repeat("n", 201), "y", "")
	f.Add("s", "a.b\na_b\na-b\na b\na/b", "s-", "a__b")
	f.Fuzz(func(t *testing.T, server1, tools1, server2, tools2 string) {
		if checkName(server1) != nil || checkName(server2) != nil || server1 == server2 {
			return
		}
		all := map[string]bool{}
		for _, s := range []struct{ server, tools string }{{server1, tools1}, {server2, tools2}} {
			originals := strings.Split(s.tools, "\n")
			slices.Sort(originals)
			originals = slices.Compact(originals)
			names := modelNames(s.server, originals)
			if !slices.Equal(names, modelNames(s.server, originals)) {
				t.Fatal("not deterministic")
			}
			if len(names) != len(originals) {
				t.Fatalf("%d names for %d tools", len(names), len(originals))
			}
			for _, name := range names {
				if !modelName.MatchString(name) || !utf8.ValidString(name) {
					t.Fatalf("%q does not match the rule", name)
				}
				if server, _, _ := strings.Cut(name, "__"); server != s.server {
					t.Fatalf("%q does not say its server %q first", name, s.server)
				}
				if all[name] {
					t.Fatalf("%q given twice", name)
				}
				all[name] = true
			}
		}
	})
}
