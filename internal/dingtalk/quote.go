package dingtalk

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// maxQuoteRunes bounds the quoted text an event carries: a quote may be of
// a long answer, and the event that carries it to the reply function must
// stay far below FC's payload limit (docs/protocols.md §1, quoted messages).
const maxQuoteRunes = 8000

// repliedMsg is the message a reply quotes, as the callback carries it under
// text.repliedMsg (a text reply) or content.repliedMsg (a rich-text reply).
// Its content's shape follows its msgType and has been seen with the text
// under "text" and under "content", so it is decoded leniently.
type repliedMsg struct {
	MsgType   string          `json:"msgType"`
	MsgID     string          `json:"msgId"`
	SenderID  string          `json:"senderId"`
	CreatedAt json.RawMessage `json:"createdAt"`
	Content   json.RawMessage `json:"content"`
}

// quoteContent is every field a quoted message's content has been seen
// with.
type quoteContent struct {
	Text         string `json:"text"`
	Content      string `json:"content"`
	DownloadCode string `json:"downloadCode"`
	FileName     string `json:"fileName"`
	RichText     []struct {
		MsgType      string `json:"msgType"`
		Type         string `json:"type"`
		Content      string `json:"content"`
		Text         string `json:"text"`
		DownloadCode string `json:"downloadCode"`
	} `json:"richText"`
}

// replyFields are the fields that say a message replies to another, in
// text or in content. isReplyMsg goes with repliedMsg; the quote itself
// is what is read.
type replyFields struct {
	RepliedMsg json.RawMessage `json:"repliedMsg"`
}

// readQuote returns the message m's callback quotes, or nil. A quote is
// never a reason to refuse the message it comes with: one that cannot be
// read is left out, and the message answered from its own words.
func readQuote(raw json.RawMessage, chatbotUserID string) *chat.Quote {
	var r replyFields
	if len(raw) == 0 || json.Unmarshal(raw, &r) != nil || len(r.RepliedMsg) == 0 || string(r.RepliedMsg) == "null" {
		return nil
	}
	var msg repliedMsg
	if json.Unmarshal(r.RepliedMsg, &msg) != nil {
		return nil
	}
	q := &chat.Quote{
		MessageID: msg.MsgID, Type: msg.MsgType,
		FromRobot: msg.SenderID != "" && msg.SenderID == chatbotUserID,
	}
	q.SentAt, _ = parseMillisField("repliedMsg.createdAt", msg.CreatedAt)

	var c quoteContent
	var asString string
	switch {
	case json.Unmarshal(msg.Content, &asString) == nil:
		c.Text = asString // a content that is the quoted text itself
	case json.Unmarshal(msg.Content, &c) != nil:
		c = quoteContent{}
	}
	var texts []string
	add := func(ss ...string) {
		for _, s := range ss {
			if s = strings.TrimSpace(s); s != "" {
				texts = append(texts, s)
				return
			}
		}
	}
	add(c.Text, c.Content)
	for _, item := range c.RichText {
		kind := item.MsgType
		if kind == "" {
			kind = item.Type
		}
		if kind == MsgTypePicture {
			if item.DownloadCode != "" {
				q.Pictures = append(q.Pictures, item.DownloadCode)
			}
			continue
		}
		add(item.Content, item.Text)
	}
	switch {
	case c.DownloadCode == "":
	case msg.MsgType == MsgTypeFile || c.FileName != "":
		q.File = &chat.Attachment{Name: c.FileName, DownloadCode: c.DownloadCode}
	default:
		q.Pictures = append(q.Pictures, c.DownloadCode)
	}
	q.Text = truncateRunes(strings.Join(texts, "\n"), maxQuoteRunes)
	return q
}

// truncateRunes cuts s to at most n runes, marking the cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
