package search_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/search"
)

func TestToolIsAFunctionTheModelCanCall(t *testing.T) {
	tool := search.Tool()
	if !regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`).MatchString(tool.Name) || tool.Name != "web_search" {
		t.Errorf("name %q", tool.Name)
	}
	if tool.Builtin {
		t.Error("the robot runs web_search itself; it is not a provider's builtin")
	}
	for _, words := range []string{"搜索", "markdown", "[标题](链接)", "Search the web"} {
		if !strings.Contains(tool.Description, words) {
			t.Errorf("description lacks %q: %s", words, tool.Description)
		}
	}
	var schema struct {
		Type       string `json:"type"`
		Properties map[string]struct {
			Type string `json:"type"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	if err := json.Unmarshal(tool.Parameters, &schema); err != nil {
		t.Fatalf("parameters %s: %v", tool.Parameters, err)
	}
	if schema.Type != "object" || schema.Properties["query"].Type != "string" || len(schema.Properties) != 1 ||
		len(schema.Required) != 1 || schema.Required[0] != "query" {
		t.Errorf("parameters %s, want {query: string}, required", tool.Parameters)
	}
}

func TestParseQueryTakesWhatModelsSend(t *testing.T) {
	tests := []struct {
		name, arguments, want string
	}{
		{"as asked", `{"query": "杭州天气"}`, "杭州天气"},
		{"spaces around", " \n{\"query\":\"  杭州 天气 \"}\n", "杭州 天气"},
		{"extra fields", `{"query": "go 1.25", "count": 10, "freshness": "oneWeek"}`, "go 1.25"},
		{"bare JSON string", `"杭州天气"`, "杭州天气"},
		{"plain words", `杭州 天气`, "杭州 天气"},
		{"encoded twice", `"{\"query\": \"杭州天气\"}"`, "杭州天气"},
		{"code fence", "```json\n{\"query\": \"杭州天气\"}\n```", "杭州天气"},
		{"another name", `{"q": "杭州天气"}`, "杭州天气"},
		{"keywords list", `{"keywords": ["杭州", "天气", 3]}`, "杭州 天气"},
		{"one string member", `{"search_term": "杭州天气", "n": 3}`, "杭州天气"},
		{"query first", `{"topic": "weather", "query": "杭州天气"}`, "杭州天气"},
		{"newlines", `{"query": "杭州\n天气\u0000"}`, "杭州 天气"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := search.ParseQuery(tt.arguments)
			if err != nil || got != tt.want {
				t.Errorf("ParseQuery(%q) = %q, %v; want %q", tt.arguments, got, err, tt.want)
			}
		})
	}
}

func TestParseQueryRefusesWhatHasNoQuery(t *testing.T) {
	for _, arguments := range []string{
		``, `   `, `{}`, `{"query": ""}`, `{"query": "   "}`, `{"query": 42}`, `{"query": null}`,
		`{"a": "x", "b": "y"}`, `[]`, `["杭州"]`, `42`, `null`, `true`, `""`,
		`{"query": "杭州天气"`, `{query: 杭州天气}`, `"{\"query\": \"\"}"`,
		strings.Repeat("[", 100000),
	} {
		q, err := search.ParseQuery(arguments)
		if err == nil {
			t.Errorf("ParseQuery(%.40q) = %q, want an error", arguments, q)
			continue
		}
		if !errors.Is(err, search.ErrNoQuery) || !strings.Contains(err.Error(), `{"query": "..."}`) {
			t.Errorf("ParseQuery(%.40q): %v, want ErrNoQuery saying how to call it", arguments, err)
		}
	}
}

func TestParseQueryBoundsTheQuery(t *testing.T) {
	q, err := search.ParseQuery(`{"query": "` + strings.Repeat("长", 5000) + `"}`)
	if err != nil || len([]rune(q)) != search.MaxQueryRunes {
		t.Errorf("a query of %d runes, %v; want %d", len([]rune(q)), err, search.MaxQueryRunes)
	}
}
