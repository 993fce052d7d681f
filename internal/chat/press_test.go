package chat_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

var pressedAt = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func validPress() chat.Press {
	return chat.Press{CardID: "fcrobot-0123_abcdef0123456789", UserID: "manager4321", CorpID: "dingcorp", Action: chat.PressApprove,
		Params: map[string]string{"call": "call-1"}, At: pressedAt}
}

func TestAPressEventCarriesThePressAndNoMessage(t *testing.T) {
	p := validPress()
	ev := chat.Event{Version: chat.EventVersion, Press: &p, ReceivedAt: pressedAt}
	if err := ev.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"message"`) {
		t.Errorf("a press event is written with a message: %s", b)
	}
	var back chat.Event
	if err := json.Unmarshal(b, &back); err != nil || back.Press == nil || back.Press.Action != chat.PressApprove ||
		back.Press.Params["call"] != "call-1" || !back.Press.At.Equal(pressedAt) {
		t.Fatalf("read back as %+v (%v)", back.Press, err)
	}
}

// olderEventShape is chat.Event as a reply function built before presses
// knew it: a press event must be refused by it, never answered.
type olderEventShape struct {
	Version int          `json:"version"`
	Message chat.Message `json:"message"`
}

func TestAnOlderBuildRefusesAPressEvent(t *testing.T) {
	p := validPress()
	b, err := json.Marshal(chat.Event{Version: chat.EventVersion, Press: &p, ReceivedAt: pressedAt})
	if err != nil {
		t.Fatal(err)
	}
	var older olderEventShape
	if err := json.Unmarshal(b, &older); err != nil {
		t.Fatal(err)
	}
	// What the older build's Validate checked: these fields, all missing.
	m := older.Message
	if older.Version != 1 || m.ID != "" || m.ConversationID != "" || m.SenderID != "" || m.Webhook != "" {
		t.Errorf("an older build reads a message %+v: it would answer it", m)
	}
}

func TestAnEventCarriesAMessageOrAPressNotBothNorNeither(t *testing.T) {
	msg := chat.Message{ID: "m1", ConversationID: "c1", ConversationType: chat.SingleChat, SenderID: "s1", Webhook: "https://oapi.dingtalk.com/x"}
	p := validPress()
	bad := p
	bad.Action = "launch"
	for _, tt := range []struct {
		name string
		ev   chat.Event
		want string // "" for valid
	}{
		{"a message", chat.Event{Version: 1, Message: msg}, ""},
		{"a message and its callback URL", chat.Event{Version: 1, Message: msg, CardCallbackURL: "https://x.fcapp.run/card"}, ""},
		{"a press", chat.Event{Version: 1, Press: &p}, ""},
		{"both", chat.Event{Version: 1, Message: msg, Press: &p}, "both a message and a press"},
		{"a press and a stray message id", chat.Event{Version: 1, Message: chat.Message{ID: "m1"}, Press: &p}, "both"},
		{"neither", chat.Event{Version: 1}, "neither a message nor a press"},
		{"an unknown action", chat.Event{Version: 1, Press: &bad}, "none of the robot's buttons"},
		{"a message missing its webhook", chat.Event{Version: 1, Message: chat.Message{ID: "m1", ConversationID: "c1", ConversationType: "1", SenderID: "s"}}, "message.webhook"},
		{"another version", chat.Event{Version: 2, Press: &p}, "version 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.ev.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, chat.ErrInvalidEvent)):
				t.Errorf("Validate = %v, want an invalid event saying %q", err, tt.want)
			}
		})
	}
}

func TestAPressIsBounded(t *testing.T) {
	long := strings.Repeat("x", chat.MaxPressIDBytes+1)
	for name, change := range map[string]func(*chat.Press){
		"no card":        func(p *chat.Press) { p.CardID = "" },
		"a long card id": func(p *chat.Press) { p.CardID = long },
		"no user":        func(p *chat.Press) { p.UserID = "" },
		"a long user id": func(p *chat.Press) { p.UserID = long },
		"a long corp id": func(p *chat.Press) { p.CorpID = long },
		"no action":      func(p *chat.Press) { p.Action = "" },
		"an empty name":  func(p *chat.Press) { p.Params = map[string]string{"": "v"} },
		"a long name":    func(p *chat.Press) { p.Params = map[string]string{strings.Repeat("k", chat.MaxPressParamKey+1): "v"} },
		"a long value": func(p *chat.Press) {
			p.Params = map[string]string{"call": strings.Repeat("v", chat.MaxPressParamValue+1)}
		},
		"invalid UTF-8":   func(p *chat.Press) { p.Params = map[string]string{"call": "\xff"} },
		"too many params": func(p *chat.Press) { p.Params = manyParams(chat.MaxPressParams + 1) },
	} {
		p := validPress()
		change(&p)
		if err := p.Validate(); !errors.Is(err, chat.ErrInvalidPress) {
			t.Errorf("%s: Validate = %v, want ErrInvalidPress", name, err)
		}
	}
	for _, a := range []chat.PressAction{chat.PressStop, chat.PressLike, chat.PressDislike, chat.PressApprove, chat.PressDeny} {
		p := validPress()
		p.Action = a
		if err := p.Validate(); err != nil {
			t.Errorf("%s refused: %v", a, err)
		}
	}
}

func manyParams(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[strings.Repeat("k", i+1)] = "v"
	}
	return m
}
