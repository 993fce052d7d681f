package main

import (
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/config"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/document/forked"
)

// The key follows the original's intent: CHATGPT_API_KEY for OpenAI,
// USER_API_KEY for any other endpoint.
func TestAPIKeyChoice(t *testing.T) {
	tests := []struct {
		endpoint, chatgpt, user, want string
	}{
		{"https://api.openai.com", "sk-openai", "sk-user", "sk-openai"},
		{"api.openai.com/v1", "sk-openai", "sk-user", "sk-openai"},
		{"https://dashscope.aliyuncs.com/compatible-mode/v1", "sk-openai", "sk-user", "sk-user"},
		{"https://api.deepseek.com", "sk-only", "", "sk-only"},
		{"http://localhost:11434", "", "", ""},
	}
	for _, tt := range tests {
		s := settings{Endpoint: tt.endpoint, APIKey: tt.chatgpt, UserAPIKey: tt.user}
		if got := s.apiKey(); got != tt.want {
			t.Errorf("ENDPOINT=%s: key %q, want %q", tt.endpoint, got, tt.want)
		}
	}
}

func TestSettingsAreValidated(t *testing.T) {
	good := settings{
		Endpoint: "http://localhost:11434", HistoryLength: 5, Timeout: 55, FunctionTime: 120, Temperature: 0.7, WebhookHosts: []string{"oapi.dingtalk.com"},
		ReplyFormat: "markdown", MarkdownChars: 3500, CardMaxChars: 3000, CardUpdates: 20, CardKey: "content", CardInterval: 300 * time.Millisecond, MaxPictureMB: 10, MaxFileMB: 10, FileReadMB: 48,
		GroupContext: "member", ContextTokens: 8000, WebSearch: "off", SearchMode: "tool", ToolRounds: 5, ConfirmWait: 60,
	}
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*settings){
		"HISTORY_LENGTH":        func(s *settings) { s.HistoryLength = -1 },
		"TIMEOUT":               func(s *settings) { s.Timeout = 0 },
		"FUNCTION_TIMEOUT":      func(s *settings) { s.FunctionTime = 20 },
		"TEMPERATURE":           func(s *settings) { s.Temperature = 3 },
		"SESSION_WEBHOOK_HOSTS": func(s *settings) { s.WebhookHosts = nil },
		"CHATGPT_API_KEY":       func(s *settings) { s.Endpoint = "https://api.openai.com" },
		"DINGTALK_APP_SECRET":   func(s *settings) { s.AppKey = "dingkey" },
		"REPLY_FORMAT":          func(s *settings) { s.ReplyFormat = "html" },
		"CARD_TEMPLATE_ID":      func(s *settings) { s.CardTemplate = "tpl.schema" },
		"VISION_MODEL":          func(s *settings) { s.VisionModel = "qwen-vl-max" },
		"CARD_CONTENT_KEY":      func(s *settings) { s.AppKey, s.AppSecret, s.CardTemplate, s.CardKey = "k", "s", "tpl.schema", " " },
		"CARD_UPDATE_INTERVAL":  func(s *settings) { s.CardInterval = 10 * time.Millisecond },
		"MAX_PICTURE_MB":        func(s *settings) { s.MaxPictureMB = 0 },
		"MAX_FILE_MB":           func(s *settings) { s.MaxFileMB = 51 },
		"FILE_READ_MEMORY_MB":   func(s *settings) { s.FileReadMB = 8 },
		"THINKING_REACTION":     func(s *settings) { s.ThinkingBadge = true },
		"MARKDOWN_MAX_CHARS":    func(s *settings) { s.MarkdownChars = 100 },
		"CARD_MAX_CHARS":        func(s *settings) { s.CardMaxChars = 100000 },
		"CARD_MAX_UPDATES":      func(s *settings) { s.CardUpdates = 0 },
		"OSS_ENDPOINT":          func(s *settings) { s.OSSBucket = "robot-bucket" },
		"GROUP_CONTEXT":         func(s *settings) { s.GroupContext = "team" },
		"MAX_CONTEXT_TOKENS":    func(s *settings) { s.ContextTokens = 10 },
		"DAILY_LIMIT":           func(s *settings) { s.DailyLimit = -1 },
		"WEB_SEARCH":            func(s *settings) { s.WebSearch = "google" },
		"SEARCH_API_KEY":        func(s *settings) { s.WebSearch = "bocha" },
		"SEARCH_MODE":           func(s *settings) { s.SearchMode = "sometimes" },
		"MAX_TOOL_ROUNDS":       func(s *settings) { s.ToolRounds = 21 },
		"CONFIRM_WAIT":          func(s *settings) { s.ConfirmWait = 0 },
		"CARD_CALLBACK_SECRET":  func(s *settings) { s.CardRouteKey = "fcrobot-buttons" },
		"CARD_CALLBACK_ROUTE_KEY": func(s *settings) {
			s.AppKey, s.AppSecret, s.CardRouteKey, s.CardSecret = "k", "s", "fcrobot-buttons", "0123456789abcdef0123"
		},
	} {
		s := good
		mutate(&s)
		err := s.validate()
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: got %v, want an error naming it", name, err)
		}
	}
}

// The variables' defaults are the ones the dingtalk package documents and
// falls back to: they are written twice, so this keeps them one.
func TestDefaultsAgreeWithDingTalks(t *testing.T) {
	var s settings
	if err := config.Parse(func(string) string { return "" }, &s); err != nil {
		t.Fatal(err)
	}
	if s.MarkdownChars != dingtalk.DefaultMarkdownMaxChars || s.CardMaxChars != dingtalk.DefaultCardMaxChars || s.CardUpdates != dingtalk.DefaultCardMaxUpdates {
		t.Errorf("defaults MARKDOWN_MAX_CHARS %d, CARD_MAX_CHARS %d, CARD_MAX_UPDATES %d; dingtalk's are %d, %d, %d",
			s.MarkdownChars, s.CardMaxChars, s.CardUpdates, dingtalk.DefaultMarkdownMaxChars, dingtalk.DefaultCardMaxChars, dingtalk.DefaultCardMaxUpdates)
	}
}

// Started as the child that reads one file, the program reads it without
// a word of the function's configuration.
func TestTheChildReadsAFileWithoutConfiguration(t *testing.T) {
	getenv := func(name string) string {
		t.Errorf("the child read %s", name)
		return ""
	}
	var stdout, stderr strings.Builder
	err := run(t.Context(), []string{"reply", forked.ChildArg, "file.txt"}, getenv, strings.NewReader("周三下午三点开会。"), &stdout, &stderr)
	if err != nil || stdout.String() != "{}\n周三下午三点开会。" {
		t.Errorf("run = %v, wrote %q (stderr %q)", err, stdout.String(), stderr.String())
	}
}

// A mistake in MCP_SERVERS stops the function at start, saying where.
func TestToolsSettingsAreValidatedAtStart(t *testing.T) {
	s := settings{WebSearch: "off", SearchMode: "tool", MCPServers: `[{"name":"docs","url":"https://mcp.example.com","trusts":["x"]}]`}
	if _, _, err := openTools(s, nil); err == nil || !strings.Contains(err.Error(), "MCP_SERVERS[0]") || !strings.Contains(err.Error(), "trusts") {
		t.Errorf("a misspelt field: %v; want an error naming the entry and the field", err)
	}
	s = settings{WebSearch: "bocha", SearchKey: "k", SearchURL: "ftp://search.example.com", SearchMode: "tool"}
	if _, _, err := openTools(s, nil); err == nil || !strings.Contains(err.Error(), "SEARCH_ENDPOINT") {
		t.Errorf("an endpoint that is not HTTP: %v", err)
	}
	s = settings{WebSearch: "off", SearchMode: "tool"}
	if tools, closeTools, err := openTools(s, nil); err != nil || tools != nil {
		t.Errorf("no tools: %v, %v; want none, and \\tools not offered", tools, err)
	} else {
		closeTools()
	}
}
