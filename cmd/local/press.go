package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

// The buttons of the robot's cards (docs/cards.md), with CARD_TEMPLATE_ID:
// the screen shows them under each card, and `/press <action>` presses
// one of the last card's as DingTalk does: a signed callback to the real
// conversation function, at the URL the reply function registered.

// button is one of a card's buttons: its postback action, the name it
// shows, and the card variable that shows it.
type button struct{ action, name, visible string }

// cardButtons are the buttons, in the order a card shows them.
var cardButtons = []button{
	{"approve", "允许", dingtalk.CardVarConfirmVisible},
	{"deny", "拒绝", dingtalk.CardVarConfirmVisible},
	{"stop", "停止", dingtalk.CardVarStopVisible},
	{"like", "👍", dingtalk.CardVarFeedbackVisible},
	{"dislike", "👎", dingtalk.CardVarFeedbackVisible},
}

func buttonOf(action string) (button, bool) {
	i := slices.IndexFunc(cardButtons, func(b button) bool { return b.action == action })
	if i < 0 {
		return button{}, false
	}
	return cardButtons[i], true
}

// shows reports whether card shows b now.
func (b button) shows(card dingtalktest.Card) bool { return card.Var(b.visible) == "true" }

// pressAction reads a /press line: the action named, and whether the line
// is a /press at all.
func pressAction(line string) (string, bool) {
	if line != "/press" && !strings.HasPrefix(line, "/press ") {
		return "", false
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "/press")), true
}

// pressNow answers a /press typed at the prompt: it presses the button of
// the last card, if the card shows it, and shows what changed.
func (s *simulator) pressNow(ctx context.Context, action string) {
	if !s.buttons {
		fmt.Fprintln(s.out, "  ✗ 只有 AI 卡片才有按钮：设置 CARD_TEMPLATE_ID 后再试。")
		return
	}
	b, ok := buttonOf(action)
	if !ok {
		fmt.Fprintln(s.out, "  ✗ 没有这个按钮；可按的有：stop（停止）、like（👍）、dislike（👎）、approve（允许）、deny（拒绝）。")
		return
	}
	card, ok := lastCard(s.st.DingTalk.Cards())
	switch {
	case !ok:
		fmt.Fprintln(s.out, "  ✗ 还没有卡片：先问机器人一个问题。")
		return
	case !b.shows(card):
		fmt.Fprintf(s.out, "  ✗ 最近那张卡片上现在没有「%s」按钮。\n", b.name)
		return
	}
	scr := newScreen(s.out, s.st.DingTalk, s.cardKey, s.terminal, s.now)
	scr.follow(card)
	s.press(ctx, scr, card, b)
	s.watch(ctx, scr, nil)
}

// pressArmed presses, of the buttons typed while the robot answers, those
// the answer's last card shows now, once DingTalk knows where to send
// presses; it reports whether it pressed any.
func (s *simulator) pressArmed(ctx context.Context, scr *screen, armed *[]button) bool {
	if len(*armed) == 0 {
		return false
	}
	card, ok := scr.lastCard()
	if !ok {
		return false
	}
	if _, registered := s.st.DingTalk.CardCallback(s.st.CardRouteKey); !registered {
		return false
	}
	pressed := false
	*armed = slices.DeleteFunc(*armed, func(b button) bool {
		if !b.shows(card) {
			return false
		}
		s.press(ctx, scr, card, b)
		pressed = true
		return true
	})
	return pressed
}

// press presses b on card as the current user and says how the
// conversation function answered DingTalk.
func (s *simulator) press(ctx context.Context, scr *screen, card dingtalktest.Card, b button) {
	params := map[string]string{"action": b.action}
	if b.visible == dingtalk.CardVarConfirmVisible {
		params["call"] = card.Var(dingtalk.CardVarConfirmCall)
	}
	res, err := s.st.DingTalk.Press(ctx, card.OutTrackID, s.staffID(), params)
	switch {
	case err != nil:
		scr.note(fmt.Sprintf("  ✗ 「%s」没有按下：%v\n", b.name, err))
	case res.Answered():
		scr.note(fmt.Sprintf("  ✓ %s 按下了「%s」：conversation 函数在 %s 内应答了钉钉\n", s.who, b.name, res.Took.Round(time.Millisecond)))
	case res.TimedOut:
		scr.note(fmt.Sprintf("  ✗ 按下「%s」后，conversation 函数 2 秒内没有应答钉钉\n", b.name))
	default:
		scr.note(fmt.Sprintf("  ✗ 按下「%s」后，conversation 函数回答 %d：%s\n", b.name, res.Status, strings.TrimSpace(res.Body)))
	}
}

// lastCard is the last card DingTalk delivered.
func lastCard(cards []dingtalktest.Card) (dingtalktest.Card, bool) {
	for i := len(cards) - 1; i >= 0; i-- {
		if cards[i].Delivered {
			return cards[i], true
		}
	}
	return dingtalktest.Card{}, false
}

// buttonsView is what a card shows of its buttons, under its answer: the
// question whether a tool may run, with Allow and Deny; Stop; the votes;
// each row with the /press that presses it. "" for a card that shows
// none.
func buttonsView(card dingtalktest.Card) string {
	var b strings.Builder
	var row, keys []string
	for _, btn := range cardButtons {
		if !btn.shows(card) {
			continue
		}
		name := "[" + btn.name + "]"
		switch btn.action {
		case "like":
			name = fmt.Sprintf("[👍 %s]", card.Var(dingtalk.CardVarLikes))
		case "dislike":
			name = fmt.Sprintf("[👎 %s]", card.Var(dingtalk.CardVarDislikes))
		}
		row = append(row, name)
		keys = append(keys, "/press "+btn.action)
	}
	if len(row) == 0 {
		return ""
	}
	if card.Var(dingtalk.CardVarConfirmVisible) == "true" {
		fmt.Fprintf(&b, "  ┆ %s\n", strings.ReplaceAll(card.Var(dingtalk.CardVarConfirmText), "\n", "\n  ┆ "))
	}
	fmt.Fprintf(&b, "  %s（%s）", strings.Join(row, " "), strings.Join(keys, "、"))
	return b.String()
}

// streamingButtons is what a card shows while its answer streams: Stop
// alone, which the screen shows in the card's first line.
const streamingButtons = "  [停止]（/press stop）"
