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
