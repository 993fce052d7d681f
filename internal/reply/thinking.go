package reply

import (
	"strings"
)

// Reasoning models (DeepSeek-R1, QwQ and their kind) served through the
// chat API write their reasoning into the answer between these tags.
const (
	thinkOpen  = "<think>"
	thinkClose = "</think>"
)

// thought is a model's text taken apart: the reasoning and the answer.
type thought struct {
	reasoning string
	answer    string
	// thinking is true while the text ends inside a reasoning block: the
	// model is still thinking.
	thinking bool
}

// splitThinking takes the reasoning blocks out of a model's text. A text
// that closes a block it never opened is reasoning up to the close: servers
// whose chat template opens the block in the prompt send it that way.
func splitThinking(text string) thought {
	var reasoning, answer []string
	rest := text
	if i := strings.Index(rest, thinkClose); i >= 0 && !strings.Contains(rest[:i], thinkOpen) {
		reasoning = append(reasoning, rest[:i])
		rest = rest[i+len(thinkClose):]
	}
	var t thought
	for {
		i := strings.Index(rest, thinkOpen)
		if i < 0 {
			answer = append(answer, rest)
			break
		}
		answer = append(answer, rest[:i])
		rest = rest[i+len(thinkOpen):]
		j := strings.Index(rest, thinkClose)
		if j < 0 {
			reasoning = append(reasoning, rest)
			t.thinking = true
			break
		}
		reasoning = append(reasoning, rest[:j])
		rest = rest[j+len(thinkClose):]
	}
	t.reasoning = strings.TrimSpace(strings.Join(nonBlank(reasoning), "\n\n"))
	t.answer = strings.TrimSpace(strings.Join(answer, ""))
	return t
}

func nonBlank(ss []string) []string {
	out := ss[:0:0]
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			out = append(out, strings.TrimSpace(s))
		}
	}
	return out
}

// shown is what the user sees of a model's text: the answer alone, or,
// with showThinking (SHOW_THINKING), the reasoning folded under a quote
// above it.
func (t thought) shown(showThinking bool) string {
	if !showThinking || t.reasoning == "" {
		return t.answer
	}
	var b strings.Builder
	b.WriteString("> 思考过程：\n")
	for line := range strings.SplitSeq(t.reasoning, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			b.WriteString(">\n")
		} else {
			b.WriteString("> " + line + "\n")
		}
	}
	if t.answer != "" {
		b.WriteString("\n" + t.answer)
	}
	return strings.TrimSpace(b.String())
}

// withoutPartialTag drops the start of a tag a stream has not finished
// sending ("…<thi"), so that it never flashes on screen.
func withoutPartialTag(text string) string {
	for _, tag := range []string{thinkOpen, thinkClose} {
		for n := len(tag) - 1; n > 0; n-- {
			if strings.HasSuffix(text, tag[:n]) {
				return text[:len(text)-n]
			}
		}
	}
	return text
}
