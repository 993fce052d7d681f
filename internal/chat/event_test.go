package chat_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// An event written before quotes knew voice, video, forwarded chats and
// unseen messages, as that build wrote it.
const olderEvent = `{"version":1,"message":{"id":"m1","type":"text","text":"这是什么","quote":{"messageId":"q1","type":"audio","sentAt":"2026-03-26T07:01:59.673Z","pictures":["AUDIO_DL_CODE"]},"conversationId":"c1","conversationType":"2","senderId":"s1","webhook":"https://oapi.dingtalk.com/robot/sendBySession?session=x","webhookExpiresAt":"0001-01-01T00:00:00Z","createdAt":"0001-01-01T00:00:00Z"},"receivedAt":"2026-03-26T07:02:00Z"}`

func TestAnOlderEventReadsAndWritesTheSame(t *testing.T) {
	var e chat.Event
	if err := json.Unmarshal([]byte(olderEvent), &e); err != nil {
		t.Fatal(err)
	}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	q := e.Message.Quote
	if q == nil || q.Media != nil || q.Unseen || q.Title != "" || len(q.Pictures) != 1 {
		t.Fatalf("quote read as %+v", q)
	}
	again, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != olderEvent {
		t.Errorf("written again as\n%s\nwant\n%s", again, olderEvent)
	}
}

// olderQuote is chat.Quote as a build before this one knew it.
type olderQuote struct {
	MessageID string           `json:"messageId,omitempty"`
	Type      string           `json:"type,omitempty"`
	FromRobot bool             `json:"fromRobot,omitempty"`
	SentAt    time.Time        `json:"sentAt,omitzero"`
	Text      string           `json:"text,omitempty"`
	Pictures  []string         `json:"pictures,omitempty"`
	File      *chat.Attachment `json:"file,omitempty"`
}

func TestANewerQuoteIsReadByAnOlderBuild(t *testing.T) {
	newer := chat.Quote{Type: "chatRecord", Title: "聊天记录", Text: "摘要", Media: &chat.Media{Kind: chat.MediaAudio, Seconds: 3}, Unseen: true}
	b, err := json.Marshal(newer)
	if err != nil {
		t.Fatal(err)
	}
	var older olderQuote
	if err := json.Unmarshal(b, &older); err != nil {
		t.Fatalf("an older build cannot read %s: %v", b, err)
	}
	if older.Type != "chatRecord" || older.Text != "摘要" || len(older.Pictures) != 0 {
		t.Errorf("an older build reads %+v", older)
	}
}
