package dingtalk

import (
	"cmp"
	"encoding/json"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// maxQuoteRunes bounds the quoted text an event carries: a quote may be of
// a long answer, and the event that carries it to the reply function must
// stay far below FC's payload limit (docs/protocols.md §1, quoted messages).
const maxQuoteRunes = 8000

// maxIDRunes bounds a quoted message's id and type, short words.
const maxIDRunes = 200

// maxQuotedTitleRunes bounds the title of a quoted forwarded chat.
const maxQuotedTitleRunes = 200

// readQuote returns the message m's callback quotes, or nil, from the text
// or content object of a reply: isReplyMsg and repliedMsg
// {msgType, msgId, senderId, createdAt, content} (docs/protocols.md §1,
// quoted messages). The quoted content's shape follows its msgType and
// varies by client, so every field is read leniently. A quote is never a
// reason to refuse the message it comes with: one whose content cannot be
// read is a quote marked Unseen, for the model and the user to be told.
func readQuote(raw json.RawMessage, chatbotUserID string) *chat.Quote {
	// A message quotes another when it says so, or carries one: an empty
	// or broken repliedMsg on a message that does not say so is no quote,
	// lest every answer carry a note about a quote that is not there.
	f := object(raw)
	msg := object(f["repliedMsg"])
	if len(msg) == 0 {
		if flag(f["isReplyMsg"]) {
			return &chat.Quote{Unseen: true}
		}
		return nil
	}
	sender := str(msg["senderId"])
	q := &chat.Quote{
		MessageID: truncateRunes(str(msg["msgId"]), maxIDRunes), Type: truncateRunes(str(msg["msgType"]), maxIDRunes),
		FromRobot: sender != "" && sender == chatbotUserID,
	}
	q.SentAt, _ = parseMillisField("repliedMsg.createdAt", msg["createdAt"])
	readQuoted(q, msg["content"])
	q.Text = truncateEncoded(truncateRunes(q.Text, maxQuoteRunes), maxQuoteEncoded)
	q.Title = truncateEncoded(truncateRunes(q.Title, maxQuotedTitleRunes), maxQuotedTitleRunes*6)
	if q.Text == "" && len(q.Pictures) == 0 && q.File == nil && q.Media == nil {
		q.Unseen = true
	}
	return q
}

// readQuoted fills q from the quoted message's content, by its msgType.
func readQuoted(q *chat.Quote, raw json.RawMessage) {
	raw = unwrapJSON(raw)
	if isString(raw) { // a content that is the quoted text itself
		q.Text = str(raw)
		return
	}
	c := object(raw)
	switch q.Type {
	case MsgTypeAudio:
		q.Media = media(chat.MediaAudio, c)
		q.Text = str(c["recognition"])
	case MsgTypeVideo:
		q.Media = media(chat.MediaVideo, c)
	case MsgTypeChatRecord:
		q.Title, q.Text = chatRecord(c)
	case MsgTypeCard:
		// The element tree as the card shows it, else the template's
		// variables, else a text beside them.
		q.Text = cmp.Or(cardText(c["cardContent"]),
			first(object(object(c["cardData"])["cardParamMap"]), "content", "markdown", "text", "msgContent"),
			first(c, "text", "content", "markdown"))
	default:
		readQuotedText(q, c)
	}
}

// readQuotedText reads the content of a text, rich text, markdown, picture
// or file, and of a msgType the robot does not know, by the fields it has:
// a fileName makes a file, a videoType a video, a duration a voice message.
func readQuotedText(q *chat.Quote, c map[string]json.RawMessage) {
	var texts []string
	if t := first(c, "text", "content"); t != "" {
		texts = append(texts, t)
	}
	for _, raw := range array(c["richText"], maxRichTextItems) {
		item := object(raw)
		kind := cmp.Or(str(item["msgType"]), str(item["type"]))
		if kind == MsgTypePicture {
			if code := first(item, "downloadCode", "pictureDownloadCode"); code != "" && len(q.Pictures) < maxPictures {
				q.Pictures = append(q.Pictures, code)
			}
			continue
		}
		if t := first(item, "content", "text"); t != "" {
			texts = append(texts, t)
		}
	}
	q.Text = strings.Join(texts, "\n")
	code := str(c["downloadCode"])
	switch {
	case code == "":
	case q.Type == MsgTypeFile || str(c["fileName"]) != "":
		q.File = &chat.Attachment{Name: str(c["fileName"]), DownloadCode: code}
	case q.Type == MsgTypePicture || q.Type == "" || str(c["pictureDownloadCode"]) != "":
		if len(q.Pictures) < maxPictures {
			q.Pictures = append(q.Pictures, code)
		}
	case str(c["videoType"]) != "":
		q.Media = media(chat.MediaVideo, c)
	case str(c["duration"]) != "":
		q.Media = media(chat.MediaAudio, c)
	}
}

// media describes a quoted voice message or video: its duration is in
// milliseconds for a voice message (docs/protocols.md §1), of an unknown
// unit for a video, whose length is left out.
func media(kind string, c map[string]json.RawMessage) *chat.Media {
	m := &chat.Media{Kind: kind}
	if ms, ok := number(c["duration"]); ok && kind == chat.MediaAudio && ms < 24*3600*1000 {
		m.Seconds = int(math.Ceil(ms / 1000))
	}
	return m
}

// truncateRunes cuts s to at most n runes, marking the cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
