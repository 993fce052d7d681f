package dingtalktest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
)

// The robot the fake's callbacks are addressed to. RobotCode is the
// callbacks' robotCode until SetApp sets another AppKey: for an
// enterprise-internal app's robot, DingTalk's robotCode is the app's AppKey.
const (
	RobotCode     = "dingfakerobot0000001"
	ChatbotUserID = "$:LWCP_v1:$FakeRobotChatbotUserId0000=="
	ChatbotCorpID = "dingfakecorp00000001"
)

// SessionLifetime is how long after createAt a callback's sessionWebhook
// stays valid, as observed on DingTalk.
const SessionLifetime = 90 * time.Minute

// Conversation is where a callback comes from: a single chat with the robot
// or a group (Title is the group's name). ID is the callback's
// conversationId; for a group it is what the OpenAPI calls the group's
// openConversationId (DingTalk's ids look like "cid...==").
type Conversation struct {
	ID    string
	Group bool
	Title string
}

// Sender is who sends a callback. ID is DingTalk's senderId; StaffID is
// empty for a user outside the company. Fields are sent as given, empty ones
// included, so a test can build the odd cases.
type Sender struct {
	ID, StaffID, Nick, CorpID string
}

// Callback is a callback body built by the fake, with the values a test
// checks the robot's behaviour against.
type Callback struct {
	MsgID string
	// Session is the session of the body's sessionWebhook: the one the
	// robot's answer is posted to.
	Session   string
	CreatedAt time.Time
	Body      []byte
}

// RichTextItem is one item of a richText message: a text, or a picture when
// PictureDownloadCode is set.
type RichTextItem struct {
	Text                string
	PictureDownloadCode string
}

// TextCallback builds a text message. In a group the content starts with
// the space that followed the removed @-mention, as DingTalk sends it.
func (s *Server) TextCallback(conv Conversation, from Sender, text string) Callback {
	if conv.Group {
		text = " " + text
	}
	return s.callback(conv, from, dingtalk.MsgTypeText, "text", map[string]any{"content": text})
}

// RichTextCallback builds a richText message (text mixed with pictures).
func (s *Server) RichTextCallback(conv Conversation, from Sender, items ...RichTextItem) Callback {
	richText := make([]map[string]any, 0, len(items))
	for i, item := range items {
		if item.PictureDownloadCode != "" {
			richText = append(richText, map[string]any{"type": "picture", "downloadCode": item.PictureDownloadCode})
			continue
		}
		text := item.Text
		if conv.Group && i == 0 {
			text = " " + text
		}
		richText = append(richText, map[string]any{"text": text})
	}
	return s.callback(conv, from, dingtalk.MsgTypeRichText, "content", map[string]any{"richText": richText})
}

// AudioCallback builds a voice message with DingTalk's speech recognition.
// DingTalk delivers voice messages in single chats only.
func (s *Server) AudioCallback(conv Conversation, from Sender, recognition string) Callback {
	return s.callback(conv, from, dingtalk.MsgTypeAudio, "content", map[string]any{
		"recognition":  recognition,
		"downloadCode": downloadCode(),
		"duration":     4000,
	})
}

// PictureCallback builds a picture message.
func (s *Server) PictureCallback(conv Conversation, from Sender, downloadCode string) Callback {
	return s.callback(conv, from, dingtalk.MsgTypePicture, "content", map[string]any{"downloadCode": downloadCode})
}

// VideoCallback builds a video message. DingTalk delivers it in single chats
// only.
func (s *Server) VideoCallback(conv Conversation, from Sender, downloadCode string) Callback {
	return s.callback(conv, from, dingtalk.MsgTypeVideo, "content", map[string]any{
		"downloadCode": downloadCode,
		"duration":     12000,
	})
}

// FileCallback builds a file message. DingTalk delivers it in single chats
// only.
func (s *Server) FileCallback(conv Conversation, from Sender, downloadCode, fileName string) Callback {
	return s.callback(conv, from, dingtalk.MsgTypeFile, "content", map[string]any{
		"downloadCode": downloadCode,
		"fileName":     fileName,
	})
}

// UnknownCallback builds a message of a type the robot cannot receive.
// docs/protocols.md §1 describes no content for it, so it carries none.
func (s *Server) UnknownCallback(conv Conversation, from Sender) Callback {
	return s.callback(conv, from, dingtalk.MsgTypeUnknown, "", nil)
}

// callback builds the common fields of every callback plus the msgtype's
// own field (text, or content).
func (s *Server) callback(conv Conversation, from Sender, msgType, field string, payload any) Callback {
	createdAt := s.now().Truncate(time.Millisecond)
	session := s.Session(conv.ID)
	if from.StaffID != "" && from.Nick != "" {
		s.mu.Lock()
		s.members[from.StaffID] = from.Nick
		s.mu.Unlock()
	}
	msgID := newMsgID()
	s.mu.Lock()
	s.reactions.userMessages[msgID] = conv.ID
	s.mu.Unlock()
	body := map[string]any{
		"msgtype":                   msgType,
		"msgId":                     msgID,
		"conversationId":            conv.ID,
		"conversationType":          "1",
		"senderId":                  from.ID,
		"senderStaffId":             from.StaffID,
		"senderNick":                from.Nick,
		"senderCorpId":              from.CorpID,
		"senderPlatform":            "Mac",
		"chatbotUserId":             ChatbotUserID,
		"chatbotCorpId":             ChatbotCorpID,
		"robotCode":                 s.robotCode(),
		"isAdmin":                   false,
		"sessionWebhook":            s.WebhookURL(session),
		"sessionWebhookExpiredTime": createdAt.Add(SessionLifetime).UnixMilli(),
		"createAt":                  createdAt.UnixMilli(),
	}
	if conv.Group {
		body["conversationType"] = "2"
		body["conversationTitle"] = conv.Title
		body["isInAtList"] = true
		// Only messages that @ the robot reach it in a group.
		body["atUsers"] = []map[string]string{{"dingtalkId": ChatbotUserID}}
	}
	if field != "" {
		body[field] = payload
	}
	raw, err := json.Marshal(body)
	if err != nil {
		// Only strings, numbers, booleans, maps and slices of them.
		panic("dingtalktest: encode callback: " + err.Error())
	}
	return Callback{MsgID: msgID, Session: session, CreatedAt: createdAt.UTC(), Body: raw}
}

// SignedRequest builds a callback request as DingTalk sends it: a JSON POST
// with the timestamp and sign headers computed for now.
func SignedRequest(ctx context.Context, url, appSecret string, body []byte, now time.Time) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("dingtalktest: build callback request: %w", err)
	}
	timestamp := strconv.FormatInt(now.UnixMilli(), 10)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("timestamp", timestamp)
	req.Header.Set("sign", dingtalk.Sign(appSecret, timestamp))
	return req, nil
}

// newMsgID returns an id shaped like DingTalk's, "msg" and base64 (which may
// hold '/' and '+': a store must not use it as a path as it is).
func newMsgID() string { return "msg" + base64.StdEncoding.EncodeToString(randomBytes(16)) }

// newSession returns an unguessable session, long enough that a test
// searching for it in a log cannot match by chance.
func newSession() string { return rand.Text() }

func downloadCode() string { return base64.RawURLEncoding.EncodeToString(randomBytes(24)) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	// crypto/rand.Read never fails (it crashes the program rather).
	rand.Read(b)
	return b
}

// Quoted is the message a reply quotes, as DingTalk puts it in the reply's
// text.repliedMsg (docs/protocols.md §1, quoted messages). Build one with
// QuotedText, QuotedPicture, QuotedFile or QuotedCard.
type Quoted struct {
	MsgType   string
	MsgID     string
	SenderID  string
	CreatedAt time.Time
	// Content is the quoted message's content; nil sends none, as for a
	// quoted card.
	Content map[string]any
}

// QuotedText quotes a text message of sender, its words under
// content.content, as devices were seen to send in 2026.
func QuotedText(sender Sender, text string, at time.Time) Quoted {
	return Quoted{MsgType: dingtalk.MsgTypeText, MsgID: newMsgID(), SenderID: sender.ID, CreatedAt: at, Content: map[string]any{"content": text}}
}

// QuotedPicture quotes a picture of sender.
func QuotedPicture(sender Sender, downloadCode string, at time.Time) Quoted {
	return Quoted{MsgType: dingtalk.MsgTypePicture, MsgID: newMsgID(), SenderID: sender.ID, CreatedAt: at, Content: map[string]any{"downloadCode": downloadCode}}
}

// QuotedFile quotes a file of sender: how a file reaches a group's robot.
func QuotedFile(sender Sender, downloadCode, fileName string, at time.Time) Quoted {
	return Quoted{MsgType: dingtalk.MsgTypeFile, MsgID: newMsgID(), SenderID: sender.ID, CreatedAt: at, Content: map[string]any{
		"downloadCode": downloadCode, "fileName": fileName, "spaceId": "20000001", "fileId": "30000001",
	}}
}

// QuotedCard quotes one of the robot's AI cards, sent at: DingTalk sends
// no content for it.
func QuotedCard(at time.Time) Quoted {
	return Quoted{MsgType: "interactiveCard", MsgID: newMsgID(), SenderID: ChatbotUserID, CreatedAt: at}
}

// ReplyCallback builds a text message that replies to quoted.
func (s *Server) ReplyCallback(conv Conversation, from Sender, text string, quoted Quoted) Callback {
	if conv.Group {
		text = " " + text
	}
	replied := map[string]any{
		"msgType": quoted.MsgType, "msgId": quoted.MsgID, "senderId": quoted.SenderID,
		"createdAt": quoted.CreatedAt.UnixMilli(),
	}
	if quoted.Content != nil {
		replied["content"] = quoted.Content
	}
	return s.callback(conv, from, dingtalk.MsgTypeText, "text", map[string]any{
		"content": text, "isReplyMsg": true, "repliedMsg": replied,
	})
}

// RawCallback builds a message of msgType whose fields are the common ones
// overlaid with fields, sent as given: a shape DingTalk was seen to send
// beyond the documented ones (docs/protocols.md §1), or a broken one. A
// field's value may be a json.RawMessage, sent as it is (a content that is
// a string of JSON, a time as a string); a nil value removes the field.
func (s *Server) RawCallback(conv Conversation, from Sender, msgType string, fields map[string]any) Callback {
	cb := s.callback(conv, from, msgType, "", nil)
	var body map[string]any
	if err := json.Unmarshal(cb.Body, &body); err != nil {
		panic("dingtalktest: decode callback: " + err.Error())
	}
	for k, v := range fields {
		if v == nil {
			delete(body, k)
			continue
		}
		body[k] = v
	}
	raw, err := json.Marshal(body)
	if err != nil {
		panic("dingtalktest: encode callback: " + err.Error())
	}
	cb.Body = raw
	return cb
}
