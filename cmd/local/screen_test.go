package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

// playCard plays a card's life on a screen: each step is the card's content
// after one more update, the last one final. The clock moves 100 ms each
// time the screen reads it.
func playCard(terminal bool, contents ...string) string {
	var out bytes.Buffer
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	scr := &screen{out: &out, cardKey: "content", terminal: terminal, started: at,
		now: func() time.Time { at = at.Add(100 * time.Millisecond); return at }, seen: map[string]cardView{}}
	card := dingtalktest.Card{OutTrackID: "t1", Delivered: true, Data: map[string]string{"content": contents[0]}}
	scr.card(card)
	for i, c := range contents[1:] {
		card.Updates = append(card.Updates, dingtalktest.CardUpdate{Key: "content", Content: c, IsFull: true, IsFinalize: i == len(contents)-2})
		scr.card(card)
	}
	scr.end()
	return out.String()
}

// A card's placeholder is replaced by the answer's start, which then grows
// in place: only the new characters are printed, then a closing line.
func TestScreenShowsACardGrowingInPlace(t *testing.T) {
	got := playCard(false, "思考中…", "函数", "函数计算\n是", "函数计算\n是服务。")
	want := "机器人（100ms，AI 卡片）：\n  思考中…\n  ↻ 卡片（200ms）改为：\n  函数计算\n  是服务。\n  └─ 卡片已完成（300ms，3 次更新）\n\n"
	if got != want {
		t.Errorf("screen:\n%q\nwant\n%q", got, want)
	}
}

// On a terminal a one-line card is redrawn over its line, as DingTalk
// redraws it.
func TestScreenRedrawsAOneLineCardOnATerminal(t *testing.T) {
	got := playCard(true, "思考中…", "函数", "函数计算。")
	want := "机器人（100ms，AI 卡片）：\n  思考中…\r\033[K  函数计算。\n  └─ 卡片已完成（200ms，2 次更新）\n\n"
	if got != want {
		t.Errorf("screen:\n%q\nwant\n%q", got, want)
	}
}

// A card left streaming when the robot's work ends is said to be stuck.
func TestScreenSaysACardWasLeftTyping(t *testing.T) {
	var out bytes.Buffer
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	scr := &screen{out: &out, cardKey: "content", now: func() time.Time { return at }, started: at, seen: map[string]cardView{}}
	scr.card(dingtalktest.Card{OutTrackID: "t1", Delivered: true, Data: map[string]string{"content": "思考中…"}})
	scr.end()
	if want := "机器人（0s，AI 卡片）：\n  思考中…\n  ✗ 卡片 t1 停在了“输入中”，没有完成。\n\n"; out.String() != want {
		t.Errorf("screen:\n%q\nwant\n%q", out.String(), want)
	}
}

// A one-line card too wide for a terminal row is not redrawn over its line,
// which "\r\033[K" could not clear whole: it is shown again below.
func TestScreenShowsAWideCardAgainRatherThanRedrawingIt(t *testing.T) {
	wide := "函数计算按调用计费，空闲不收费，冷启动很快，适合钉钉机器人，也适合其他事件驱动的程序"
	got := playCard(true, wide, "出错了。")
	want := "机器人（100ms，AI 卡片）：\n  " + wide + "\n  ↻ 卡片（200ms）改为：\n  出错了。\n  └─ 卡片已完成（300ms，1 次更新）\n\n"
	if got != want {
		t.Errorf("screen:\n%q\nwant\n%q", got, want)
	}
}

// A card DingTalk would show blank, being too long, is said to be so.
func TestScreenSaysACardShowsBlank(t *testing.T) {
	long := strings.Repeat("长", dingtalktest.CardRenderChars+1)
	if got := playCard(false, "思考中…", long); !strings.Contains(got, "卡片已完成（300ms，1 次更新），钉钉里显示为空白：太长了") {
		t.Errorf("screen:\n%q", got)
	}
}

// A card's buttons: Stop on its first line while the answer streams; a
// question with Allow and Deny under it when asked; the votes once it is
// finished, and again when they change. Stop alone is not shown again
// when the question goes.
func TestScreenShowsACardsButtons(t *testing.T) {
	var out bytes.Buffer
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	scr := &screen{out: &out, cardKey: "content", started: at,
		now: func() time.Time { at = at.Add(100 * time.Millisecond); return at }, seen: map[string]cardView{}}
	card := dingtalktest.Card{OutTrackID: "t1", Delivered: true, Data: map[string]string{
		"content": "思考中…", "stop_visible": "true", "feedback_visible": "false", "likes": "0", "dislikes": "0", "confirm_visible": "false",
	}}
	vars := func(kv ...string) {
		u := dingtalktest.CardDataUpdate{Data: map[string]string{}, ByKey: true}
		for i := 0; i < len(kv); i += 2 {
			u.Data[kv[i]] = kv[i+1]
		}
		card.DataUpdates = append(card.DataUpdates, u)
		scr.card(card)
	}
	scr.card(card)
	vars("confirm_visible", "true", "confirm_text", "🔧 docs.create_ticket\n需要你允许", "confirm_call", "t1")
	vars("confirm_visible", "false", "confirm_text", "✅ 已允许")
	card.Updates = append(card.Updates, dingtalktest.CardUpdate{Key: "content", Content: "已创建。", IsFull: true, IsFinalize: true})
	scr.card(card)
	vars("stop_visible", "false", "feedback_visible", "true")
	vars("likes", "1")
	scr.end()
	want := "机器人（100ms，AI 卡片）：　[停止]（/press stop）\n  思考中…\n" +
		"  ┆ 🔧 docs.create_ticket\n  ┆ 需要你允许\n  [允许] [拒绝] [停止]（/press approve、/press deny、/press stop）\n\n" +
		"  ↻ 卡片（200ms）改为：\n  已创建。\n  └─ 卡片已完成（300ms，1 次更新）\n\n" +
		"  [👍 0] [👎 0]（/press like、/press dislike）\n\n" +
		"  [👍 1] [👎 0]（/press like、/press dislike）\n\n"
	if got := out.String(); got != want {
		t.Errorf("screen:\n%s\nwant\n%s", got, want)
	}
}
