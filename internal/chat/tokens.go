package chat

import (
	"strings"
	"unicode"
)

// Tokens estimates how many tokens a model's tokenizer makes of text,
// erring high, for Chinese as well as English: no tokenizer is at hand
// for every model an OpenAI-compatible endpoint may serve, and an estimate
// too low would send a prompt the model refuses.
//
// It is a documented estimate, not a count, and its rules are these:
//   - a Han character, kana, hangul syllable or full-width mark: 1 token
//     (the tokenizers of OpenAI's current models, of Qwen and of DeepSeek
//     give a common one a token or less; a rare one, and the older
//     cl100k's, may take 2, which the English side's slack and the
//     model's own refusal, asked again with less history, cover);
//   - any other character outside ASCII (accented letters, emoji,
//     symbols): 2 tokens;
//   - ASCII: a token per 3 bytes, rounded up, per run (English averages
//     about 4 characters a token, code about 3).
func Tokens(text string) int {
	n, ascii := 0, 0
	flush := func() {
		n += (ascii + 2) / 3
		ascii = 0
	}
	for _, r := range text {
		switch {
		case r < 0x80:
			ascii++
			continue
		case isCJK(r):
			n++
		default:
			n += 2
		}
		flush()
	}
	flush()
	return n
}

func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) ||
		(r >= 0x3000 && r <= 0x303f) || // CJK punctuation
		(r >= 0xff00 && r <= 0xffef) // full-width forms
}

// Token costs of a prompt beyond its text, as OpenAI counts them for its
// chat models: every message is wrapped in a few tokens, and the reply is
// primed with a few more; a picture costs up to 1105 tokens at OpenAI's
// high detail (a 2048-pixel one), which is what is assumed of each.
const (
	tokensPerMessage = 4
	tokensForReply   = 3
	tokensPerImage   = 1105
)

// ImageTokens is what n pictures add to a prompt's Tokens.
func ImageTokens(n int) int { return tokensPerImage * n }

// Tokens estimates the tokens of the prompt as sent: its system prompt,
// its history and its question with their pictures.
func (p Prompt) Tokens() int {
	n := tokensForReply + p.questionTokens()
	if p.System != "" {
		n += tokensPerMessage + Tokens(p.System)
	}
	for _, t := range p.History {
		n += t.tokens()
	}
	for _, t := range p.Tools {
		n += Tokens(t.Name) + Tokens(t.Description) + Tokens(string(t.Parameters))
	}
	for _, r := range p.Rounds {
		n += r.tokens()
	}
	return n
}

// tokens is the round's share of a prompt's Tokens: the model's message
// with its calls, and a message per result.
func (r ToolRound) tokens() int {
	n := tokensPerMessage + Tokens(r.Text) + Tokens(r.Reasoning)
	for _, c := range r.Calls {
		n += Tokens(c.Name) + Tokens(c.Arguments)
	}
	for _, res := range r.Results {
		n += tokensPerMessage + Tokens(res.Content)
	}
	return n
}

// questionTokens is the question's share of Tokens.
func (p Prompt) questionTokens() int {
	return tokensPerMessage + Tokens(p.Question) + tokensPerImage*len(p.Images)
}

// tokens is the turn's share of a prompt's Tokens: its question and its
// answer, a message each.
func (t Turn) tokens() int {
	return 2*tokensPerMessage + Tokens(t.Question) + Tokens(t.Answer)
}

// Fit drops the oldest turns of p's history until p's tokens are at most
// window, keeping the newest turns whole. It reports how many turns it
// dropped, and whether p fits at all: a system prompt and question that
// alone exceed window do not, whatever is dropped.
func (p *Prompt) Fit(window int) (dropped int, fits bool) {
	n := p.Tokens()
	for dropped < len(p.History) && n > window {
		n -= p.History[dropped].tokens()
		dropped++
	}
	p.History = p.History[dropped:]
	return dropped, n <= window
}

// Room is how many tokens of question fit in window beside p's system
// prompt, without any history or pictures.
func (p Prompt) Room(window int) int {
	q := Prompt{System: p.System}
	return max(window-q.Tokens(), 0) // q.Tokens() holds the empty question's message
}

// CutResults is what stands for the end of a tool's result cut to fit the
// context window.
const CutResults = "\n[……结果过长，为放入上下文已截断]"

// FitRounds cuts the longest tool results of p's rounds, a half at a time,
// until p's tokens are at most window or the results are all but gone. It
// reports how many cuts it made. The rounds are copied before they are
// cut: the caller's, and what was recorded, stay whole.
func (p *Prompt) FitRounds(window int) (cuts int) {
	if window <= 0 || len(p.Rounds) == 0 || p.Tokens() <= window {
		return 0
	}
	rounds := make([]ToolRound, len(p.Rounds))
	for i, r := range p.Rounds {
		r.Results = append([]ToolResult(nil), r.Results...)
		rounds[i] = r
	}
	p.Rounds = rounds
	for p.Tokens() > window {
		longest, at := 0, [2]int{-1, -1}
		for i, r := range rounds {
			for k, res := range r.Results {
				if n := len([]rune(res.Content)); n > longest {
					longest, at = n, [2]int{i, k}
				}
			}
		}
		if longest <= 2*len([]rune(CutResults)) {
			return cuts // nothing left worth cutting
		}
		res := &rounds[at[0]].Results[at[1]]
		runes := []rune(strings.TrimSuffix(res.Content, CutResults))
		res.Content = string(runes[:len(runes)/2]) + CutResults
		cuts++
	}
	return cuts
}
