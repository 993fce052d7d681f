package chat

import (
	"strings"
	"testing"
)

func TestTokensErrHighForChineseAndEnglish(t *testing.T) {
	for _, tt := range []struct {
		text string
		want int
	}{
		{"", 0},
		{"hello world", 4}, // 11 bytes: ceil(11/3)
		{"你好，世界", 5},       // a token per character, the full-width comma too
		{"用 Go 写", 4},      // 用, " Go " (4 bytes: 2), 写
		{"café", 3},        // "caf" and é
		{"👍", 2},           // an emoji
		{strings.Repeat("a", 300), 100},
	} {
		if got := Tokens(tt.text); got != tt.want {
			t.Errorf("Tokens(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}

func TestFitDropsTheOldestTurnsFirstAndKeepsTheNewestWhole(t *testing.T) {
	turn := func(q string) Turn { return Turn{Question: q, Answer: strings.Repeat("答", 20)} }
	p := Prompt{System: "你是助手。", Question: "现在的问题", History: []Turn{turn("一"), turn("二"), turn("三")}}
	full := p.Tokens()
	perTurn := p.History[0].tokens()
	fitted := p
	dropped, fits := fitted.Fit(full - 1)
	if !fits || dropped != 1 || len(fitted.History) != 2 || fitted.History[0].Question != "二" {
		t.Errorf("one token short: dropped %d, fits %v, kept %+v; want the oldest turn dropped", dropped, fits, fitted.History)
	}
	if got := fitted.Tokens(); got != full-perTurn || got > full-1 {
		t.Errorf("fitted prompt has %d tokens", got)
	}
	fitted = p
	if dropped, fits := fitted.Fit(full); dropped != 0 || !fits {
		t.Errorf("a prompt that fits lost %d turns", dropped)
	}
	alone := Prompt{System: p.System, Question: p.Question}
	fitted = p
	if _, fits := fitted.Fit(alone.Tokens() - 1); fits || len(fitted.History) != 0 {
		t.Errorf("a question that alone exceeds the window fits: %v", fits)
	}
	if room := p.Room(alone.Tokens()); room < Tokens(p.Question) || room > Tokens(p.Question)+tokensPerMessage {
		t.Errorf("Room = %d for a window the question just fits in (%d tokens)", room, Tokens(p.Question))
	}
}

func TestToolRoundsCountInThePromptsTokens(t *testing.T) {
	p := Prompt{Question: "今天的新闻"}
	before := p.Tokens()
	p.Tools = []Tool{{Name: "web_search", Description: "搜索网页", Parameters: []byte(`{"type":"object"}`)}}
	withTools := p.Tokens()
	if withTools <= before {
		t.Errorf("tools offered add no tokens: %d, then %d", before, withTools)
	}
	p.Rounds = []ToolRound{{Calls: []ToolCall{{ID: "1", Name: "web_search", Arguments: `{"query":"新闻"}`}},
		Results: []ToolResult{{CallID: "1", Content: strings.Repeat("新闻", 100)}}}}
	if got := p.Tokens(); got < withTools+200 {
		t.Errorf("a round of 200 Han characters adds too few tokens: %d, then %d", withTools, got)
	}
}

func TestFitRoundsCutsTheLongestResultsAndLeavesTheRecordWhole(t *testing.T) {
	long := strings.Repeat("长", 4000)
	short := "短结果"
	rounds := []ToolRound{{
		Calls:   []ToolCall{{ID: "a", Name: "x"}, {ID: "b", Name: "y"}},
		Results: []ToolResult{{CallID: "a", Content: long}, {CallID: "b", Content: short}},
	}}
	p := Prompt{Question: "问题", Rounds: rounds}
	window := p.Tokens() - 2000
	if cuts := p.FitRounds(window); cuts == 0 {
		t.Fatal("nothing was cut from a prompt over its window")
	}
	if got := p.Tokens(); got > window {
		t.Errorf("the prompt is %d tokens after the cut; the window is %d", got, window)
	}
	if got := p.Rounds[0].Results[1].Content; got != short {
		t.Errorf("the short result was cut: %q", got)
	}
	if got := p.Rounds[0].Results[0].Content; !strings.HasSuffix(got, CutResults) {
		t.Errorf("the long result does not say it was cut: ...%q", got[max(len(got)-40, 0):])
	}
	if rounds[0].Results[0].Content != long {
		t.Error("the caller's round was cut in place")
	}
}

func TestFitRoundsGivesUpWhenNothingIsLeftToCut(t *testing.T) {
	p := Prompt{System: strings.Repeat("系统", 500), Question: "问题", Rounds: []ToolRound{{
		Calls: []ToolCall{{ID: "a", Name: "x"}}, Results: []ToolResult{{CallID: "a", Content: strings.Repeat("长", 1000)}},
	}}}
	p.FitRounds(10) // must end
	if got := len([]rune(p.Rounds[0].Results[0].Content)); got > 2*len([]rune(CutResults))+10 {
		t.Errorf("a result of %d characters is left though the window is tiny", got)
	}
}
