package dingtalk

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Format is how the robot posts an answer (REPLY_FORMAT).
type Format string

const (
	// FormatMarkdown posts DingTalk's markdown message: headings, lists,
	// bold and links render, and a title shows in notifications.
	FormatMarkdown Format = "markdown"
	// FormatText posts plain text, exactly as the model wrote it.
	FormatText Format = "text"
)

// ParseFormat reads REPLY_FORMAT; an empty value is the default, markdown.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case "":
		return FormatMarkdown, nil
	case FormatMarkdown, FormatText:
		return f, nil
	}
	return "", fmt.Errorf("%q is not a reply format: use markdown or text", s)
}

// Mention is whom an answer @s: in a group, the person who asked. DingTalk
// @s a member by staff id, which it sends only for members of the company;
// an external member can only be named.
type Mention struct {
	StaffID string
	Nick    string
}

// tag is what stands in the content for the mention. For an @ to render,
// DingTalk requires "@<staffId>" in the content beside at.atUserIds.
func (m Mention) tag() string {
	switch {
	case m.StaffID != "":
		return "@" + m.StaffID
	case m.Nick != "":
		return "@" + m.Nick
	}
	return ""
}

func (m Mention) atUserIDs() []string {
	if m.StaffID == "" {
		return nil
	}
	return []string{m.StaffID}
}

// Message builds the message that posts one part of an answer (see Parts),
// @-mentioning who, if anyone.
func (f Format) Message(part string, who Mention) WebhookMessage {
	tag := who.tag()
	if f == FormatText {
		if tag != "" {
			part = tag + " " + part
		}
		return TextMessage(part, who.atUserIDs()...)
	}
	text := MarkdownText(part)
	if tag != "" {
		// A blank line, so that a heading the answer starts with still
		// renders as one.
		text = tag + "\n\n" + text
	}
	return MarkdownMessage(MarkdownTitle(part), text, who.atUserIDs()...)
}

// Parts splits an answer into the pieces that are posted one message each,
// so that every message, rendered in format f and with who's mention on the
// first, fits DingTalk's limits: MaxMessageBytes, and, when maxChars is
// above 0, at most maxChars characters, past which DingTalk shows a
// markdown message, or an AI card, as nothing (docs/protocols.md §7). Cuts
// fall on paragraph and line breaks where they can, and code blocks stay
// balanced (SplitMessage). The split depends only on its arguments, so a
// retry finds the same parts and can post just the ones not yet posted.
func (f Format) Parts(answer string, who Mention, maxChars int) []string {
	if maxChars > 0 {
		return f.partsByChars(answer, who, maxChars)
	}
	limit := MaxMessageBytes - len(who.tag()) - len("\n\n")
	for {
		parts := SplitMessage(answer, limit)
		if f == FormatText || limit <= minPartBytes || f.fit(parts, who, 0) {
			return parts
		}
		// Rendering grew a part past the limit (escaped < and >, kept
		// line breaks and indentation): split finer.
		limit = max(limit*3/4, minPartBytes)
	}
}

// partsByChars is Parts for markdown with a limit in characters.
func (f Format) partsByChars(answer string, who Mention, maxChars int) []string {
	floor := max(maxChars/8, MinSplitLimit)
	limit := max(maxChars-utf8.RuneCountInString(who.tag())-len("\n\n"), floor)
	for {
		parts := SplitMessageChars(answer, limit)
		if limit <= floor || f.fit(parts, who, maxChars) {
			return parts
		}
		limit = max(limit*3/4, floor)
	}
}

// minPartBytes stops Parts from splitting ever finer: no rendering grows a
// part of this size by more than six times, which is how much an escaped
// '<' grows.
const minPartBytes = MaxMessageBytes / 8

// content is what a message shows: its markdown or its text.
func (m WebhookMessage) content() string {
	if m.Markdown != nil {
		return m.Markdown.Text
	}
	if m.Text != nil {
		return m.Text.Content
	}
	return ""
}

// fit reports whether every part, rendered, fits MaxMessageBytes and, when
// maxChars is above 0, maxChars characters.
func (f Format) fit(parts []string, who Mention, maxChars int) bool {
	for i, p := range parts {
		if i > 0 {
			who = Mention{}
		}
		text := f.Message(p, who).content()
		if len(text) > MaxMessageBytes || (maxChars > 0 && utf8.RuneCountInString(text) > maxChars) {
			return false
		}
	}
	return true
}

// MarkdownText renders a model's markdown for DingTalk's markdown message,
// which knows only a subset of markdown and has quirks the model does not
// know of (field reports; docs/answers.md lists them for users):
//   - a single line break is dropped, so lines of a paragraph, a table or a
//     poem run together: each gets a hard break ("  " before the newline);
//   - an HTML tag is rendered even inside code, and a message holding one
//     shows blank on phones: '<' and '>' are escaped;
//   - code blocks lose their indentation: leading spaces and tabs in a code
//     block become non-breaking spaces, which it keeps.
//
// Fences are left in place: the desktop client draws code blocks.
func MarkdownText(answer string) string {
	var b strings.Builder
	b.Grow(len(answer) + len(answer)/8)
	var open *codeFence // the code block the line is in; the splitter's rules
	for start := 0; ; {
		end := lineEnd(answer, start)
		line := strings.TrimSuffix(answer[start:end], "\r")
		inCode := open != nil
		open = advance(open, answer, shapeLine(answer, start, end), end, len(answer))
		last := end == len(answer)
		switch {
		case inCode != (open != nil): // the line opens or closes a block
			b.WriteString(line)
		case inCode:
			writeEscaped(&b, keepIndent(line))
		default:
			writeEscaped(&b, line)
			if !last && needsBreak(answer, line, end+1) {
				b.WriteString("  ")
			}
		}
		if last {
			return b.String()
		}
		b.WriteByte('\n')
		start = end + 1
	}
}

// needsBreak reports whether a line outside code needs a hard break to
// stay apart from the next, which starts at next: both hold text, the line
// is no heading (which ends its own block) and has no break yet, and the
// next line is no code fence.
func needsBreak(answer, line string, next int) bool {
	nextEnd := lineEnd(answer, next)
	heading := strings.HasPrefix(strings.TrimLeft(line, " "), "#")
	return strings.TrimSpace(line) != "" && strings.TrimSpace(answer[next:nextEnd]) != "" && !heading &&
		!strings.HasSuffix(line, "  ") && shapeLine(answer, next, nextEnd).char == 0
}

// keepIndent turns a code line's leading blanks into non-breaking spaces,
// a tab into four.
func keepIndent(line string) string {
	rest := strings.TrimLeft(line, " \t")
	if len(rest) == len(line) {
		return line
	}
	var b strings.Builder
	for _, c := range line[:len(line)-len(rest)] {
		if c == '\t' {
			b.WriteString(strings.Repeat("\u00a0", 4))
		} else {
			b.WriteString("\u00a0")
		}
	}
	return b.String() + rest
}

func writeEscaped(b *strings.Builder, s string) {
	for _, c := range []byte(s) {
		switch c {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteByte(c)
		}
	}
}

// maxTitleRunes keeps a title to what a notification shows of it.
const maxTitleRunes = 24

// MarkdownTitle makes a markdown message's title, which notifications and
// the conversation list show in place of the message: the answer's first
// line of text, without its markdown, shortened.
func MarkdownTitle(answer string) string {
	for line := range strings.SplitSeq(answer, "\n") {
		if shapeLine(line, 0, len(line)).char != 0 {
			continue // a code fence
		}
		if t := plainLine(line); t != "" {
			if utf8.RuneCountInString(t) > maxTitleRunes {
				t = string([]rune(t)[:maxTitleRunes-1]) + "…"
			}
			return t
		}
	}
	return "回复"
}

// plainLine strips a line of the markdown that would show as symbols in a
// title: block markers, emphasis, code marks and link targets.
func plainLine(line string) string {
	t := strings.TrimSpace(line)
	t = strings.TrimLeft(t, "#> ")
	for _, bullet := range []string{"- ", "* ", "+ "} {
		t = strings.TrimPrefix(t, bullet)
	}
	if i := strings.Index(t, ". "); i > 0 && i <= 3 && strings.Trim(t[:i], "0123456789") == "" {
		t = t[i+2:]
	}
	// [text](url) keeps its text.
	for {
		open := strings.Index(t, "](")
		if open < 0 {
			break
		}
		end := strings.IndexByte(t[open:], ')')
		if end < 0 {
			break
		}
		t = t[:open] + t[open+end+1:]
	}
	t = strings.NewReplacer("**", "", "__", "", "`", "", "[", "", "~~", "").Replace(t)
	return strings.Join(strings.Fields(t), " ")
}
