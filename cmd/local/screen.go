package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

// screen prints what a DingTalk user sees of the robot's answer to one
// message, as it happens: its messages, with each @-mention showing the
// member's name, and its AI cards growing in place until they are final.
// update is called whenever the fake DingTalk changes; it prints only what
// is new since the last call.
type screen struct {
	out io.Writer
	dt  *dingtalktest.Server
	// cardKey is the card variable that holds the answer (CARD_CONTENT_KEY).
	cardKey string
	// terminal is set when out is a terminal: a card whose text changes
	// other than by growing is then redrawn over its line when it has one.
	terminal bool
	now      func() time.Time
	started  time.Time

	// Where this message's answers start in the fake's records, then how
	// far they have been shown.
	posts, openAPIPosts, cards int
	seen                       map[string]cardView // by outTrackId
	order                      []string            // outTrackIds, as first seen
	// open is the card whose text ends the screen, still growing; "" when
	// the last thing printed ended its line.
	open string
	// followed is an earlier card whose buttons the screen shows the
	// changes of (follow).
	followed string
	// shown counts the messages and cards printed.
	shown int
}

// cardView is what the screen shows of one card.
type cardView struct {
	text  string
	final bool
	// buttons is the card's buttonsView last shown.
	buttons string
}

// newScreen starts a screen for a message about to be sent: what DingTalk
// holds already is not this message's answer.
func newScreen(out io.Writer, dt *dingtalktest.Server, cardKey string, terminal bool, now func() time.Time) *screen {
	return &screen{
		out: out, dt: dt, cardKey: cardKey, terminal: terminal, now: now, started: now(),
		posts: len(dt.Posts()), openAPIPosts: len(dt.OpenAPIPosts()), cards: len(dt.Cards()),
		seen: make(map[string]cardView),
	}
}

func (s *screen) elapsed() time.Duration { return s.now().Sub(s.started).Round(time.Millisecond) }

// endLine ends the line of a growing card before something else is printed.
func (s *screen) endLine() {
	if s.open != "" {
		fmt.Fprintln(s.out)
		s.open = ""
	}
}

// update prints what changed: new messages (only those DingTalk took: a
// refused one shows nothing) and new or changed cards (only delivered ones).
func (s *screen) update() {
	posts := s.dt.Posts()
	for _, p := range posts[s.posts:] {
		if p.Errcode == 0 {
			s.message(blankNote(p.Blank), s.dt.Shown(p))
		}
	}
	s.posts = len(posts)
	sent := s.dt.OpenAPIPosts()
	for _, p := range sent[s.openAPIPosts:] {
		if p.Code == "" && p.Status == 200 {
			s.message("，经 OpenAPI 发送", p.Content)
		}
	}
	s.openAPIPosts = len(sent)
	for i, c := range s.dt.Cards() {
		switch {
		case i >= s.cards && c.Delivered:
			s.card(c)
		case i < s.cards && c.OutTrackID == s.followed:
			s.showButtons(c)
		}
	}
}

// follow makes the screen show the changes of an earlier card's buttons
// (one just pressed), from what it shows now.
func (s *screen) follow(c dingtalktest.Card) {
	s.followed = c.OutTrackID
	s.seen[c.OutTrackID] = cardView{text: c.Content(s.cardKey), final: true, buttons: buttonsView(c)}
}

// lastCard is the card whose buttons a /press typed now presses: this
// message's last card, or the card followed.
func (s *screen) lastCard() (dingtalktest.Card, bool) {
	id := s.followed
	if len(s.order) > 0 {
		id = s.order[len(s.order)-1]
	}
	for _, c := range s.dt.Cards() {
		if c.OutTrackID == id && id != "" {
			return c, true
		}
	}
	return dingtalktest.Card{}, false
}

// note prints a line of the simulator's own among what DingTalk shows.
func (s *screen) note(text string) {
	s.endLine()
	fmt.Fprint(s.out, text)
}

// showButtons shows a change of a card's buttons under it: a question with
// Allow and Deny, the votes once the answer is finished, new counts. Stop
// is shown in the card's first line as long as the answer streams, and
// not again when a question goes.
func (s *screen) showButtons(c dingtalktest.Card) {
	view := s.seen[c.OutTrackID]
	b := buttonsView(c)
	if b == view.buttons {
		return
	}
	if b != "" && b != streamingButtons {
		s.endLine()
		fmt.Fprintf(s.out, "%s\n\n", b)
	}
	view.buttons = b
	s.seen[c.OutTrackID] = view
}

func (s *screen) message(how, text string) {
	s.endLine()
	fmt.Fprintf(s.out, "机器人（%s%s）：\n%s\n\n", s.elapsed(), how, indent(text))
	s.shown++
}

// card shows a card's change: the text it grew by, or the whole text when it
// changed otherwise, and a closing line once it is final.
func (s *screen) card(c dingtalktest.Card) {
	id, text := c.OutTrackID, c.Content(s.cardKey)
	was, known := s.seen[id]
	switch {
	case !known:
		s.endLine()
		// Stop, while the answer streams, on the card's first line: the
		// text grows below it.
		stop := ""
		if buttonsView(c) == streamingButtons {
			stop, was.buttons = "　"+strings.TrimSpace(streamingButtons), streamingButtons
		}
		fmt.Fprintf(s.out, "机器人（%s，AI 卡片）：%s\n%s", s.elapsed(), stop, indent(text))
		s.open = id
		s.order = append(s.order, id)
		s.shown++
	case was.final || text == was.text:
	case s.open == id && strings.HasPrefix(text, was.text):
		fmt.Fprint(s.out, strings.ReplaceAll(text[len(was.text):], "\n", "\n  "))
	case s.open == id && s.terminal && oneRow(was.text):
		// Back to the start of the card's only line, cleared, as the card
		// is redrawn in DingTalk.
		fmt.Fprintf(s.out, "\r\033[K%s", indent(text))
	default:
		s.endLine()
		fmt.Fprintf(s.out, "  ↻ 卡片（%s）改为：\n%s", s.elapsed(), indent(text))
		s.open = id
	}
	view := cardView{text: text, final: was.final, buttons: was.buttons}
	if c.Finalized() && !was.final {
		s.endLine()
		state := "已完成"
		if c.Failed() {
			state = "以错误结束"
		}
		fmt.Fprintf(s.out, "  └─ 卡片%s（%s，%d 次更新）%s\n\n", state, s.elapsed(), len(c.Updates), blankNote(c.Blank(s.cardKey)))
		view.final = true
	}
	s.seen[id] = view
	s.showButtons(c)
}

// end finishes the screen once the robot's work for the message is over.
func (s *screen) end() {
	s.endLine()
	for _, id := range s.order {
		if !s.seen[id].final {
			fmt.Fprintf(s.out, "  ✗ 卡片 %s 停在了“输入中”，没有完成。\n\n", id)
		}
	}
}

// blankNote says that DingTalk shows a message or card as blank: it took
// one longer than it renders.
func blankNote(blank bool) string {
	if blank {
		return "，钉钉里显示为空白：太长了"
	}
	return ""
}

// oneRow reports whether a card's text, indented, surely fits one row of a
// terminal (at least 80 columns; a CJK character takes two): only then can
// "\r\033[K" clear all of it.
func oneRow(text string) bool {
	if strings.Contains(text, "\n") {
		return false
	}
	width := 2
	for _, r := range text {
		width++
		if r >= 0x1100 {
			width++ // wide, or to be safe counted so
		}
	}
	return width < 80
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
