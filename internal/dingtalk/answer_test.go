package dingtalk

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": FormatMarkdown, "markdown": FormatMarkdown, " Text ": FormatText} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseFormat("html"); err == nil || !strings.Contains(err.Error(), "markdown or text") {
		t.Errorf("ParseFormat(html) = %v; want an error naming the choices", err)
	}
}

func TestMessageMentionsTheAskerAsDingTalkRequires(t *testing.T) {
	tests := []struct {
		name     string
		format   Format
		who      Mention
		wantText string
		wantAt   []string
	}{
		{"single chat, markdown", FormatMarkdown, Mention{}, "你好", nil},
		{"group member, markdown", FormatMarkdown, Mention{StaffID: "manager4321", Nick: "张三"}, "@manager4321\n\n你好", []string{"manager4321"}},
		{"external member, markdown", FormatMarkdown, Mention{Nick: "访客"}, "@访客\n\n你好", nil},
		{"group member, text", FormatText, Mention{StaffID: "manager4321"}, "@manager4321 你好", []string{"manager4321"}},
		{"external member, text", FormatText, Mention{Nick: "访客"}, "@访客 你好", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.format.Message("你好", tt.who)
			var text string
			switch tt.format {
			case FormatText:
				if m.MsgType != "text" || m.Text == nil {
					t.Fatalf("message %+v; want a text message", m)
				}
				text = m.Text.Content
			default:
				if m.MsgType != "markdown" || m.Markdown == nil {
					t.Fatalf("message %+v; want a markdown message", m)
				}
				text = m.Markdown.Text
				if m.Markdown.Title != "你好" {
					t.Errorf("title %q; want the answer's first line", m.Markdown.Title)
				}
			}
			if text != tt.wantText {
				t.Errorf("content %q; want %q", text, tt.wantText)
			}
			var at []string
			if m.At != nil {
				at = m.At.AtUserIDs
			}
			if !slices.Equal(at, tt.wantAt) {
				t.Errorf("atUserIds %v; want %v", at, tt.wantAt)
			}
		})
	}
}

func TestMarkdownTextSurvivesDingTalksRenderer(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"lines of a paragraph keep their breaks", "第一行\n第二行\n\n新段落", "第一行  \n第二行\n\n新段落"},
		{"html is escaped, not rendered", "用 <div> 包起来", "用 &lt;div&gt; 包起来"},
		{
			"code keeps its indentation and its fence",
			"例子：\n```python\ndef f():\n    return 1 < 2\n```\n完",
			"例子：\n```python\ndef f():\n\u00a0\u00a0\u00a0\u00a0return 1 &lt; 2\n```\n完",
		},
		{"a tab in code is four spaces", "~~~\n\tx\n~~~", "~~~\n\u00a0\u00a0\u00a0\u00a0x\n~~~"},
		{"a shorter run does not close a fence", "````\n```\n  x\n````", "````\n```\n\u00a0\u00a0x\n````"},
		{"a hard break already there is kept", "a  \nb", "a  \nb"},
		{"a heading ends its own line", "# 标题\n正文", "# 标题\n正文"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MarkdownText(tt.in); got != tt.want {
				t.Errorf("MarkdownText(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMarkdownTitleIsTheFirstLineInPlainWords(t *testing.T) {
	tests := []struct{ in, want string }{
		{"## **Go** 的 `context` 包\n正文", "Go 的 context 包"},
		{"\n\n- 看 [文档](https://go.dev) 吧", "看 文档 吧"},
		{"```go\nfmt.Println()\n```", "fmt.Println()"},
		{"1. 第一步", "第一步"},
		{strings.Repeat("长", 40), strings.Repeat("长", 23) + "…"},
		{"", "回复"},
	}
	for _, tt := range tests {
		if got := MarkdownTitle(tt.in); got != tt.want {
			t.Errorf("MarkdownTitle(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestPartsFitAfterRendering(t *testing.T) {
	// Every character of this answer grows fourfold when escaped: split
	// for the raw size alone, the rendered parts would be refused.
	answer := strings.Repeat("<>", MaxMessageBytes)
	who := Mention{StaffID: "manager4321"}
	parts := FormatMarkdown.Parts(answer, who, 0)
	if strings.Join(parts, "") != answer {
		t.Fatal("the parts do not make up the answer")
	}
	for i, p := range parts {
		w := who
		if i > 0 {
			w = Mention{}
		}
		if n := len(FormatMarkdown.Message(p, w).Markdown.Text); n > MaxMessageBytes {
			t.Errorf("part %d renders to %d bytes; DingTalk takes %d", i, n, MaxMessageBytes)
		}
	}
	if got := FormatMarkdown.Parts(answer, who, 0); !slices.Equal(got, parts) {
		t.Error("splitting the same answer again gave other parts: a retry would post the wrong ones")
	}
	if got := FormatText.Parts("短", who, 3500); !slices.Equal(got, []string{"短"}) {
		t.Errorf("a short answer is split into %q", got)
	}
}

func TestMarkdownPartsStayWithinTheCharacters(t *testing.T) {
	para := strings.Repeat("这是一段很长的回答。", 30) // 300 characters
	var answer strings.Builder
	for i := range 30 {
		fmt.Fprintf(&answer, "第 %d 段：%s\n\n", i, para)
	}
	answer.WriteString("```go\n" + strings.Repeat("fmt.Println(\"<你好>\")\n", 200) + "```\n")
	who := Mention{StaffID: "manager4321"}
	const maxChars = 3500
	parts := FormatMarkdown.Parts(answer.String(), who, maxChars)
	if len(parts) < 3 {
		t.Fatalf("%d parts for %d characters", len(parts), utf8.RuneCountInString(answer.String()))
	}
	for i, p := range parts {
		w := who
		if i > 0 {
			w = Mention{}
		}
		text := FormatMarkdown.Message(p, w).Markdown.Text
		if n := utf8.RuneCountInString(text); n > maxChars {
			t.Errorf("part %d renders to %d characters; want at most %d", i, n, maxChars)
		}
		if strings.Count(p, "```")%2 != 0 {
			t.Errorf("part %d leaves a code block open", i)
		}
		if i < len(parts)-1 && !strings.HasSuffix(p, "\n") && !strings.HasSuffix(p, "```") {
			t.Errorf("part %d ends mid-line: %q", i, p[max(len(p)-20, 0):])
		}
	}
	// Every paragraph arrives whole, in one part.
	for i := range 30 {
		if want := fmt.Sprintf("第 %d 段：%s", i, para); !slices.ContainsFunc(parts, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("paragraph %d is cut or missing", i)
		}
	}
	// Plain text keeps DingTalk's byte limit.
	if got := FormatText.Parts(answer.String(), who, maxChars); len(got) >= len(parts) {
		t.Errorf("text split into %d parts, as many as markdown's %d: the character limit is markdown's", len(got), len(parts))
	}
}
