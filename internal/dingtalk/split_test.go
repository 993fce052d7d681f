package dingtalk_test

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
)

func TestSplitMessage(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		limit int
		want  []string
	}{
		{name: "empty", text: "", limit: 100, want: nil},
		{name: "within the limit", text: "你好\n\n```go\nx\n", limit: 100, want: []string{"你好\n\n```go\nx\n"}},
		{name: "exactly the limit", text: strings.Repeat("a", 20), limit: 20, want: []string{strings.Repeat("a", 20)}},
		{
			name:  "paragraph break before a later line break",
			text:  "first paragraph\n\nsecond line\nthird",
			limit: 30,
			want:  []string{"first paragraph\n\n", "second line\nthird"},
		},
		{
			name:  "line break before a later space",
			text:  "one two\nthree four five six",
			limit: 16,
			want:  []string{"one two\n", "three four five ", "six"},
		},
		{
			name:  "a space rather than inside a word",
			text:  "alpha beta gamma delta",
			limit: 16,
			want:  []string{"alpha beta ", "gamma delta"},
		},
		{
			name:  "Chinese at a punctuation mark",
			text:  "今天天气很好，我们去公园散步吧。",
			limit: 27,
			want:  []string{"今天天气很好，", "我们去公园散步吧。"},
		},
		{
			name:  "Chinese without punctuation between characters",
			text:  "一二三四五六七八九十",
			limit: 16,
			want:  []string{"一二三四五", "六七八九十"},
		},
		{
			name:  "a code block cut in two is closed and reopened",
			text:  "```go\nline1\nline2\nline3\nline4\n```\n",
			limit: 24,
			want:  []string{"```go\nline1\nline2\n```", "```go\nline3\nline4\n```\n"},
		},
		{
			name:  "the cut prefers the end of a code block",
			text:  "```\ncode\n```\nafter the block\n",
			limit: 20,
			want:  []string{"```\ncode\n```\n", "after the block\n"},
		},
		{
			name:  "a tilde fence keeps its length and info",
			text:  "~~~~ python\nprint(1)\nprint(2)\nprint(3)\nprint(4)\n~~~~",
			limit: 48,
			want:  []string{"~~~~ python\nprint(1)\nprint(2)\nprint(3)\n~~~~", "~~~~ python\nprint(4)\n~~~~"},
		},
		{
			name:  "a long code line is cut inside and the fences added on both sides",
			text:  "```\n" + strings.Repeat("x", 30) + "\n```",
			limit: 20,
			want: []string{
				"```\n" + strings.Repeat("x", 12) + "\n```",
				"```\n" + strings.Repeat("x", 12) + "\n```",
				"```\n" + strings.Repeat("x", 6) + "\n```",
			},
		},
		{
			name:  "an unclosed block stays open in the last piece",
			text:  "intro\n\n```sh\necho one\necho two\n",
			limit: 20,
			want:  []string{"intro\n\n", "```sh\necho one\n```", "```sh\necho two\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dingtalk.SplitMessage(tt.text, tt.limit)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("SplitMessage(%q, %d) =\n%q\nwant\n%q", tt.text, tt.limit, got, tt.want)
			}
		})
	}
}

func TestSplitMessageLongAnswer(t *testing.T) {
	// A realistic long answer: prose paragraphs in Chinese and a large code
	// block, well over DingTalk's limit.
	var b strings.Builder
	for i := range 300 {
		b.WriteString("这是第一段的内容，讲述了一些事情。")
		if i%10 == 9 {
			b.WriteString("\n\n")
		}
	}
	b.WriteString("```python\n")
	for range 800 {
		b.WriteString("print('hello, world')  # 注释\n")
	}
	b.WriteString("```\n\n结束。")
	text := b.String()

	pieces := dingtalk.SplitMessage(text, dingtalk.MaxMessageBytes)
	if len(pieces) < 2 {
		t.Fatalf("%d bytes in %d piece(s)", len(text), len(pieces))
	}
	for i, p := range pieces {
		if len(p) > dingtalk.MaxMessageBytes || !utf8.ValidString(p) {
			t.Errorf("piece %d: %d bytes, valid UTF-8 %v", i, len(p), utf8.ValidString(p))
		}
		if strings.Count(p, "```")%2 != 0 {
			t.Errorf("piece %d has an unbalanced fence", i)
		}
		if i < len(pieces)-1 && !strings.HasSuffix(p, "\n") && !strings.HasSuffix(p, "```") {
			t.Errorf("piece %d ends inside a line: %q", i, p[len(p)-20:])
		}
	}
}

func TestSplitMessageRefusesATinyLimit(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("SplitMessage with a limit below MinSplitLimit did not panic")
		}
	}()
	dingtalk.SplitMessage("hello", dingtalk.MinSplitLimit-1)
}
