package dingtalk

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// ErrMalformedCallback is wrapped by every error ParseCallback returns.
var ErrMalformedCallback = errors.New("malformed callback")

// The msgtype values of a callback.
const (
	MsgTypeText     = "text"
	MsgTypeRichText = "richText"
	MsgTypeAudio    = "audio"
	MsgTypePicture  = "picture"
	MsgTypeVideo    = "video"
	MsgTypeFile     = "file"
	MsgTypeUnknown  = "unknownMsgType"
	// Seen in the field, not documented (docs/protocols.md §1).
	MsgTypeMarkdown   = "markdown"
	MsgTypeCard       = "interactiveCard"
	MsgTypeChatRecord = "chatRecord"
)

// Bounds of what a message keeps of a callback, whatever its size: far
// more than a DingTalk message holds, far less than the event that carries
// it may (docs/protocols.md §1).
const (
	maxTextRunes = 20000
	maxPictures  = 20
	// maxRichTextItems bounds the items of a rich text that are read.
	maxRichTextItems = 500
)

// callbackBody is the part of a callback the robot reads. The fields whose
// shape depends on msgtype are kept raw and decoded only for the msgtypes
// that carry them; the millisecond times are kept raw because DingTalk's
// numbers have been seen as strings too.
type callbackBody struct {
	MsgType           string          `json:"msgtype"`
	MsgID             string          `json:"msgId"`
	ConversationID    string          `json:"conversationId"`
	ConversationType  string          `json:"conversationType"`
	ConversationTitle string          `json:"conversationTitle"`
	SenderID          string          `json:"senderId"`
	SenderStaffID     string          `json:"senderStaffId"`
	SenderNick        string          `json:"senderNick"`
	SenderCorpID      string          `json:"senderCorpId"`
	RobotCode         string          `json:"robotCode"`
	ChatbotUserID     string          `json:"chatbotUserId"`
	AtUsers           json.RawMessage `json:"atUsers"`
	SessionWebhook    string          `json:"sessionWebhook"`
	SessionExpiresAt  json.RawMessage `json:"sessionWebhookExpiredTime"`
	CreateAt          json.RawMessage `json:"createAt"`
	Text              json.RawMessage `json:"text"`
	Content           json.RawMessage `json:"content"`
}

type textPayload struct {
	Content string `json:"content"`
}

type richTextContent struct {
	RichText []richTextItem `json:"richText"`
}

// richTextItem is a text, a picture, or (HarmonyOS) an @-mention of
// someone; the mention's fields are read leniently, being undocumented.
type richTextItem struct {
	Text         string          `json:"text"`
	Type         string          `json:"type"`
	DownloadCode string          `json:"downloadCode"`
	PictureCode  json.RawMessage `json:"pictureDownloadCode"`
	AtName       json.RawMessage `json:"atName"`
	DingtalkID   json.RawMessage `json:"dingtalkId"`
	Content      json.RawMessage `json:"content"`
}

type audioContent struct {
	Recognition string `json:"recognition"`
}

// pictureContent's pictureDownloadCode has been seen beside downloadCode
// (docs/protocols.md §1.1); it stands in when downloadCode is missing.
type pictureContent struct {
	DownloadCode        string          `json:"downloadCode"`
	PictureDownloadCode json.RawMessage `json:"pictureDownloadCode"`
}

type fileContent struct {
	DownloadCode string `json:"downloadCode"`
	FileName     string `json:"fileName"`
}

// ParseCallback turns the body of a DingTalk callback into a message. It is
// strict about the fields the robot relies on and the documented ones (a
// wrong JSON type or a missing required field is an error naming the
// field) and lenient where DingTalk's payloads vary (docs/protocols.md
// §1.1): the millisecond times may be numbers or decimal strings, a text or
// content may be JSON inside a string, the undocumented msgtypes and every
// quote are read for what they hold, and a msgtype the robot cannot read
// (video, unknownMsgType, a new one) yields a message with its Type and no
// Text, for the reply to answer politely. What it keeps is bounded whatever
// the body's size or depth. Errors never quote the body, which holds the
// session webhook.
func ParseCallback(body []byte) (chat.Message, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return chat.Message{}, fmt.Errorf("%w: empty body", ErrMalformedCallback)
	}
	var b callbackBody
	if err := json.Unmarshal(body, &b); err != nil {
		return chat.Message{}, decodeError("", err)
	}

	var missing []string
	if b.MsgType == "" {
		missing = append(missing, "msgtype")
	}
	if b.MsgID == "" {
		missing = append(missing, "msgId")
	}
	if b.ConversationID == "" {
		missing = append(missing, "conversationId")
	}
	if b.ConversationType == "" {
		missing = append(missing, "conversationType")
	}
	senderID := b.SenderID
	if senderID == "" {
		senderID = b.SenderStaffID
	}
	if senderID == "" {
		missing = append(missing, "senderId")
	}
	if b.SessionWebhook == "" {
		missing = append(missing, "sessionWebhook")
	}
	if len(missing) > 0 {
		return chat.Message{}, fmt.Errorf("%w: missing %s", ErrMalformedCallback, strings.Join(missing, ", "))
	}
	convType := chat.ConversationType(b.ConversationType)
	if convType != chat.SingleChat && convType != chat.GroupChat {
		return chat.Message{}, fmt.Errorf("%w: conversationType must be %q or %q", ErrMalformedCallback, chat.SingleChat, chat.GroupChat)
	}
	createdAt, err := parseMillisField("createAt", b.CreateAt)
	if err != nil {
		return chat.Message{}, err
	}
	expiresAt, err := parseMillisField("sessionWebhookExpiredTime", b.SessionExpiresAt)
	if err != nil {
		return chat.Message{}, err
	}

	m := chat.Message{
		ID:                b.MsgID,
		Type:              b.MsgType,
		ConversationID:    b.ConversationID,
		ConversationType:  convType,
		ConversationTitle: b.ConversationTitle,
		SenderID:          senderID,
		SenderStaffID:     b.SenderStaffID,
		SenderNick:        b.SenderNick,
		SenderCorpID:      b.SenderCorpID,
		RobotCode:         b.RobotCode,
		Webhook:           b.SessionWebhook,
		WebhookExpiresAt:  expiresAt,
		CreatedAt:         createdAt,
	}
	if err := readContent(&m, b); err != nil {
		return chat.Message{}, err
	}
	return m, nil
}

// readContent fills Text, Pictures, File and Quote from the
// msgtype-specific part. A content or text that is JSON inside a string
// is read as that JSON.
func readContent(m *chat.Message, b callbackBody) error {
	text, content := unwrapJSON(b.Text), unwrapJSON(b.Content)
	switch b.MsgType {
	case MsgTypeText:
		if isString(text) { // the text itself, not in an object
			m.Text = str(text)
			break
		}
		var t textPayload
		if err := decodeOptional("text", text, &t); err != nil {
			return err
		}
		// In a group the @-mention is cut out but its space is kept.
		m.Text = strings.TrimSpace(t.Content)
	case MsgTypeRichText:
		if isString(content) { // the text itself, not in an object
			m.Text = str(content)
			break
		}
		var c richTextContent
		if err := decodeOptional("content", content, &c); err != nil {
			return err
		}
		mention := m.IsGroup() && robotMentionedFirst(b.AtUsers, b.ChatbotUserID)
		m.Text, m.Pictures = readRichText(c.RichText, mention, b.ChatbotUserID)
	case MsgTypeAudio:
		var c audioContent
		if err := decodeOptional("content", content, &c); err != nil {
			return err
		}
		m.Text = strings.TrimSpace(c.Recognition)
	case MsgTypePicture:
		var c pictureContent
		if err := decodeOptional("content", content, &c); err != nil {
			return err
		}
		if code := cmp.Or(c.DownloadCode, str(c.PictureDownloadCode)); code != "" {
			m.Pictures = []string{code}
		}
	case MsgTypeFile:
		var c fileContent
		if err := decodeOptional("content", content, &c); err != nil {
			return err
		}
		if c.DownloadCode != "" {
			m.File = &chat.Attachment{Name: strings.TrimSpace(c.FileName), DownloadCode: c.DownloadCode}
		}
	// The undocumented types are read leniently: a field of another shape
	// is a field without text.
	case MsgTypeMarkdown:
		m.Text = str(object(content)["text"])
		if m.Text == "" {
			m.Text = str(object(text)["content"])
		}
	case MsgTypeCard:
		// A shared document carries only its link, which the robot cannot
		// open; a card may carry words.
		m.Text = str(object(text)["content"])
		if m.Text == "" {
			m.Text = cardText(object(content)["cardContent"])
		}
	case MsgTypeChatRecord:
		title, record := chatRecord(object(content))
		if record != "" {
			m.Text = strings.TrimSpace(title + "\n" + record)
		}
	}
	// Video, unknownMsgType and types DingTalk adds later carry nothing
	// else the robot can read. A quote may come with any type.
	m.Text = truncateEncoded(truncateRunes(m.Text, maxTextRunes), maxTextEncoded)
	if m.Quote = readQuote(text, b.ChatbotUserID); m.Quote == nil {
		m.Quote = readQuote(content, b.ChatbotUserID)
	}
	return nil
}

// readRichText joins the texts of a rich text's items, one a line, and
// gathers its pictures. mention says the message's first @-mention is the
// robot's: then a first text item that starts with "@" holds the robot's
// name (HarmonyOS), cut out as DingTalk cuts it out of a text message, so
// that a command after it is seen as one. An "at" item is someone else
// mentioned, kept as "@name", unless its dingtalkId says it is the robot.
func readRichText(items []richTextItem, mention bool, chatbotUserID string) (string, []string) {
	if len(items) > maxRichTextItems {
		items = items[:maxRichTextItems]
	}
	var parts, pictures []string
	for i, item := range items {
		code := cmp.Or(item.DownloadCode, str(item.PictureCode))
		switch {
		case item.Type == MsgTypePicture, item.Type == "" && code != "" && strings.TrimSpace(item.Text) == "":
			if code != "" && len(pictures) < maxPictures {
				pictures = append(pictures, code)
			}
			continue
		case item.Type == "at" && chatbotUserID != "" && str(item.DingtalkID) == chatbotUserID:
			mention = false
			continue
		case item.Type == "at":
			name := strings.TrimPrefix(cmp.Or(str(item.AtName), strings.TrimSpace(item.Text), str(item.Content)), "@")
			if name != "" {
				parts = append(parts, "@"+name)
			}
			mention = false
			continue
		}
		t := strings.TrimSpace(item.Text)
		if t == "" {
			continue
		}
		if mention {
			t = strings.TrimSpace(cutMention(t, textFollows(items[i+1:])))
			mention = false
		}
		if t != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, "\n"), pictures
}

// textFollows reports whether any of items is a text.
func textFollows(items []richTextItem) bool {
	for _, item := range items {
		if item.Type != MsgTypePicture && item.Type != "at" && strings.TrimSpace(item.Text) != "" {
			return true
		}
	}
	return false
}

// isString reports whether raw is a JSON string.
func isString(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == '"' }

// decodeOptional decodes a msgtype-specific object; an absent or null one
// leaves v empty.
func decodeOptional(field string, raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return decodeError(field, err)
	}
	return nil
}

// decodeError names the field a decoding error is about. It keeps the JSON
// decoder's description of the wrong value (its kind, never its text).
func decodeError(prefix string, err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		switch {
		case field == "":
			field = prefix
		case prefix != "":
			field = prefix + "." + field
		}
		if field == "" {
			return fmt.Errorf("%w: body is a JSON %s, not an object", ErrMalformedCallback, typeErr.Value)
		}
		if typeErr.Type == nil {
			return fmt.Errorf("%w: field %s is a JSON %s of the wrong type", ErrMalformedCallback, field, typeErr.Value)
		}
		return fmt.Errorf("%w: field %s is a JSON %s, want %s", ErrMalformedCallback, field, typeErr.Value, jsonKind(typeErr.Type.Kind().String()))
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Errorf("%w: invalid JSON at byte %d", ErrMalformedCallback, syntaxErr.Offset)
	}
	if prefix == "" {
		return fmt.Errorf("%w: invalid JSON", ErrMalformedCallback)
	}
	return fmt.Errorf("%w: field %s: invalid JSON", ErrMalformedCallback, prefix)
}

// jsonKind names a Go kind the way a JSON user would.
func jsonKind(goKind string) string {
	switch goKind {
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	default:
		return goKind
	}
}

// parseMillisField reads a time in milliseconds since the epoch, sent as a
// JSON number or a decimal string. An absent, null or empty value is the zero
// time: the robot can work without these times.
func parseMillisField(field string, raw json.RawMessage) (time.Time, error) {
	s := string(raw)
	if s == "" || s == "null" || s == `""` {
		return time.Time{}, nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, fmt.Errorf("%w: field %s is not a time in milliseconds", ErrMalformedCallback, field)
		}
		s = strings.TrimSpace(s)
	}
	ms, err := parseMillis(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: field %s is not a time in milliseconds", ErrMalformedCallback, field)
	}
	return time.UnixMilli(ms).UTC(), nil
}
