package openai

import (
	"strings"
	"testing"
)

func TestNormalizeBaseURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty means OpenAI", "", "https://api.openai.com/v1"},
		{"OpenAI without version, as the Python original took it", "https://api.openai.com", "https://api.openai.com/v1"},
		{"OpenAI trailing slash", "https://api.openai.com/", "https://api.openai.com/v1"},
		{"OpenAI with version", "https://api.openai.com/v1", "https://api.openai.com/v1"},
		{"OpenAI with version and slash", "https://api.openai.com/v1/", "https://api.openai.com/v1"},
		{"full chat-completions URL", "https://api.openai.com/v1/chat/completions", "https://api.openai.com/v1"},
		{"full chat-completions URL with slash", "https://api.openai.com/v1/chat/completions/", "https://api.openai.com/v1"},
		{"surrounding blanks", "  https://api.openai.com/v1 \n", "https://api.openai.com/v1"},
		{"DashScope compatible mode", "https://dashscope.aliyuncs.com/compatible-mode/v1", "https://dashscope.aliyuncs.com/compatible-mode/v1"},
		{"DashScope full URL", "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions", "https://dashscope.aliyuncs.com/compatible-mode/v1"},
		{"DeepSeek", "https://api.deepseek.com", "https://api.deepseek.com/v1"},
		{"Ollama", "http://localhost:11434", "http://localhost:11434/v1"},
		{"Ollama with version", "http://localhost:11434/v1/", "http://localhost:11434/v1"},
		{"Moonshot", "https://api.moonshot.cn/v1", "https://api.moonshot.cn/v1"},
		{"Zhipu v4", "https://open.bigmodel.cn/api/paas/v4", "https://open.bigmodel.cn/api/paas/v4"},
		{"Volcengine Ark v3", "https://ark.cn-beijing.volces.com/api/v3/", "https://ark.cn-beijing.volces.com/api/v3"},
		{"Gemini, version before the last segment", "https://generativelanguage.googleapis.com/v1beta/openai/", "https://generativelanguage.googleapis.com/v1beta/openai"},
		{"Cloudflare gateway", "https://gateway.ai.cloudflare.com/v1/acct/gw/openai", "https://gateway.ai.cloudflare.com/v1/acct/gw/openai"},
		{"proxy path without version", "https://proxy.example.com/openai", "https://proxy.example.com/openai/v1"},
		{"segment that only starts like a version", "https://proxy.example.com/v2ray", "https://proxy.example.com/v2ray/v1"},
		{"port and IP", "http://127.0.0.1:8080", "http://127.0.0.1:8080/v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := normalizeBaseURL(tt.in)
			if err != nil {
				t.Fatalf("normalizeBaseURL(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("normalizeBaseURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeBaseURLRefuses(t *testing.T) {
	tests := []struct {
		name, in, wantInError string
	}{
		{"no scheme", "api.openai.com/v1", "http"},
		{"other scheme", "ftp://api.openai.com", "http"},
		{"no host", "https://", "host"},
		{"unparsable", "http://[::1", "invalid base URL"},
		{"query", "https://proxy.example.com/v1?key=abc", "query"},
		{"credentials", "https://user:hunter2secret@proxy.example.com/v1", "credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := normalizeBaseURL(tt.in)
			if err == nil {
				t.Fatalf("normalizeBaseURL(%q) succeeded, want an error", tt.in)
			}
			if !strings.Contains(err.Error(), tt.wantInError) {
				t.Errorf("error %q does not mention %q", err, tt.wantInError)
			}
			if strings.Contains(err.Error(), "hunter2secret") || strings.Contains(err.Error(), "key=abc") {
				t.Errorf("error %q repeats a secret from the URL", err)
			}
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := New(Config{BaseURL: "ftp://example.com", Model: "m"}); err == nil {
		t.Error("New accepted an ftp base URL")
	}
	if _, err := New(Config{Model: " "}); err == nil {
		t.Error("New accepted a blank model")
	}
	c, err := New(Config{BaseURL: "https://api.deepseek.com", Model: "deepseek-chat"})
	if err != nil {
		t.Fatal(err)
	}
	if c.model != "deepseek-chat" || c.baseURL != "https://api.deepseek.com/v1" {
		t.Errorf("model %q, base URL %q", c.model, c.baseURL)
	}
}
