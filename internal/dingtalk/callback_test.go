package dingtalk_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
)

// secretSession is the session of every webhook below: no error may show it.
const secretSession = "c0ffee5e55105ecret"

// body builds a callback body the way DingTalk sends it, with the
// msgtype-specific part appended.
func body(convType, msgType, specific string) string {
	common := `{
		"conversationId": "cidGroupOrSingle00==",
		"atUsers": [{"dingtalkId": "$:LWCP_v1:$robot"}],
		"chatbotCorpId": "dingcorp",
		"chatbotUserId": "$:LWCP_v1:$robot",
		"msgId": "msgAbC+/123==",
		"senderNick": "张三",
		"isAdmin": true,
		"senderStaffId": "manager4321",
		"sessionWebhookExpiredTime": 1684498744416,
		"createAt": 1684493344263,
		"senderCorpId": "dingcorp",
		"conversationType": "` + convType + `",
		"senderId": "$:LWCP_v1:$sender==",
		"isInAtList": true,
		"sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=` + secretSession + `",
		"robotCode": "dingrobot",
		"msgtype": "` + msgType + `"`
	if convType == "2" {
		common += `, "conversationTitle": "产品群"`
	}
	if specific != "" {
		common += ", " + specific
	}
	return common + "}"
}

// message is what body() parses to, before the msgtype-specific fields.
func message(convType, msgType string) chat.Message {
	m := chat.Message{
		ID:               "msgAbC+/123==",
		Type:             msgType,
		ConversationID:   "cidGroupOrSingle00==",
		ConversationType: chat.ConversationType(convType),
		SenderID:         "$:LWCP_v1:$sender==",
		SenderStaffID:    "manager4321",
		SenderNick:       "张三",
		SenderCorpID:     "dingcorp",
		RobotCode:        "dingrobot",
		Webhook:          "https://oapi.dingtalk.com/robot/sendBySession?session=" + secretSession,
		WebhookExpiresAt: time.UnixMilli(1684498744416).UTC(),
		CreatedAt:        time.UnixMilli(1684493344263).UTC(),
	}
	if convType == "2" {
		m.ConversationTitle = "产品群"
	}
	return m
}

func TestParseCallback(t *testing.T) {
	with := func(m chat.Message, edit func(*chat.Message)) chat.Message { edit(&m); return m }
	tests := []struct {
		name string
		body string
		want chat.Message
	}{
		{
			name: "single chat text",
			body: body("1", "text", `"text": {"content": "你好"}`),
			want: with(message("1", "text"), func(m *chat.Message) { m.Text = "你好" }),
		},
		{
			name: "group text keeps no leading space of the removed mention",
			body: body("2", "text", `"text": {"content": " what is Go?  "}`),
			want: with(message("2", "text"), func(m *chat.Message) { m.Text = "what is Go?" }),
		},
		{
			name: "text without its text object",
			body: body("1", "text", ""),
			want: message("1", "text"),
		},
		{
			name: "richText",
			body: body("1", "richText", `"content": {"richText": [
				{"text": " look at this "},
				{"type": "picture", "downloadCode": "pic1", "pictureDownloadCode": "pic1"},
				{"text": "\n"},
				{"text": "and this"},
				{"type": "picture", "downloadCode": "pic2"}]}`),
			want: with(message("1", "richText"), func(m *chat.Message) {
				m.Text = "look at this\nand this"
				m.Pictures = []string{"pic1", "pic2"}
			}),
		},
		{
			name: "audio uses the recognition",
			body: body("1", "audio", `"content": {"recognition": "明天天气怎么样", "downloadCode": "aud", "duration": 3000}`),
			want: with(message("1", "audio"), func(m *chat.Message) { m.Text = "明天天气怎么样" }),
		},
		{
			name: "picture",
			body: body("1", "picture", `"content": {"downloadCode": "pic"}`),
			want: with(message("1", "picture"), func(m *chat.Message) { m.Pictures = []string{"pic"} }),
		},
		{
			name: "video keeps its type only",
			body: body("1", "video", `"content": {"downloadCode": "vid", "duration": 12000, "videoType": "mp4"}`),
			want: message("1", "video"),
		},
		{
			name: "file",
			body: body("1", "file", `"content": {"downloadCode": "f", "fileName": " 年报.pdf "}`),
			want: with(message("1", "file"), func(m *chat.Message) { m.File = &chat.Attachment{Name: "年报.pdf", DownloadCode: "f"} }),
		},
		{
			name: "a reply quoting a text, its text under content",
			body: body("2", "text", `"text": {"content": " 这是什么意思？", "isReplyMsg": true, "repliedMsg": {
				"msgType": "text", "msgId": "q1", "senderId": "$:LWCP_v1:$other", "createdAt": 1684493000000,
				"content": {"content": "明天下午三点开会"}}}`),
			want: with(message("2", "text"), func(m *chat.Message) {
				m.Text = "这是什么意思？"
				m.Quote = &chat.Quote{MessageID: "q1", Type: "text", SentAt: time.UnixMilli(1684493000000).UTC(), Text: "明天下午三点开会"}
			}),
		},
		{
			name: "a reply quoting the robot's answer, its text under text, the time a string",
			body: body("1", "text", `"text": {"content": "再详细点", "isReplyMsg": true, "repliedMsg": {
				"msgType": "text", "msgId": "q2", "senderId": "$:LWCP_v1:$robot", "createdAt": "1684493000000",
				"content": {"text": "Go 是一门编程语言"}}}`),
			want: with(message("1", "text"), func(m *chat.Message) {
				m.Text = "再详细点"
				m.Quote = &chat.Quote{MessageID: "q2", Type: "text", FromRobot: true, SentAt: time.UnixMilli(1684493000000).UTC(), Text: "Go 是一门编程语言"}
			}),
		},
		{
			name: "a rich-text reply quoting a file",
			body: body("2", "richText", `"content": {"richText": [{"text": "看看"}], "isReplyMsg": true, "repliedMsg": {
				"msgType": "file", "msgId": "q3", "senderId": "u", "content": {"downloadCode": "fc", "fileName": "a.docx", "spaceId": "1", "fileId": "2"}}}`),
			want: with(message("2", "richText"), func(m *chat.Message) {
				m.Text = "看看"
				m.Quote = &chat.Quote{MessageID: "q3", Type: "file", File: &chat.Attachment{Name: "a.docx", DownloadCode: "fc"}}
			}),
		},
		{
			name: "a reply quoting rich text with a picture",
			body: body("1", "text", `"text": {"content": "图里是什么", "isReplyMsg": true, "repliedMsg": {
				"msgType": "richText", "content": {"richText": [{"msgType": "text", "content": "这张图"}, {"msgType": "picture", "downloadCode": "p1"}]}}}`),
			want: with(message("1", "text"), func(m *chat.Message) {
				m.Text = "图里是什么"
				m.Quote = &chat.Quote{Type: "richText", Text: "这张图", Pictures: []string{"p1"}}
			}),
		},
		{
			name: "a quote that cannot be read is kept, as unseen",
			body: body("1", "text", `"text": {"content": "hi", "isReplyMsg": true, "repliedMsg": "junk"}`),
			want: with(message("1", "text"), func(m *chat.Message) { m.Text = "hi"; m.Quote = &chat.Quote{Unseen: true} }),
		},
		{
			name: "unknownMsgType",
			body: body("1", "unknownMsgType", `"content": {"unknownMsgType": "[不支持的消息]"}`),
			want: message("1", "unknownMsgType"),
		},
		{
			name: "a msgtype DingTalk adds later, with content of any shape",
			body: body("2", "interactiveCard", `"content": "whatever", "text": 42`),
			want: message("2", "interactiveCard"),
		},
		{
			name: "times as decimal strings",
			body: strings.Replace(strings.Replace(body("1", "text", `"text": {"content": "hi"}`),
				`1684498744416`, `"1684498744416"`, 1), `1684493344263`, `"1684493344263"`, 1),
			want: with(message("1", "text"), func(m *chat.Message) { m.Text = "hi" }),
		},
		{
			name: "times absent",
			body: `{"msgtype":"text","msgId":"m","conversationId":"c","conversationType":"1","senderId":"s","sessionWebhook":"w","text":{"content":"hi"}}`,
			want: chat.Message{ID: "m", Type: "text", Text: "hi", ConversationID: "c", ConversationType: "1", SenderID: "s", Webhook: "w"},
		},
		{
			name: "senderId empty falls back to senderStaffId",
			body: strings.Replace(body("1", "text", `"text": {"content": "hi"}`), `"$:LWCP_v1:$sender=="`, `""`, 1),
			want: with(message("1", "text"), func(m *chat.Message) { m.Text = "hi"; m.SenderID = "manager4321" }),
		},
		{
			name: "an external user has no staff id",
			body: strings.Replace(body("1", "text", `"text": {"content": "hi"}`), `"manager4321"`, `""`, 1),
			want: with(message("1", "text"), func(m *chat.Message) { m.Text = "hi"; m.SenderStaffID = "" }),
		},
		{
			name: "fields the robot does not read may have any type",
			body: strings.Replace(body("1", "text", `"text": {"content": "hi"}`), `"isAdmin": true`, `"isAdmin": "yes"`, 1),
			want: with(message("1", "text"), func(m *chat.Message) { m.Text = "hi" }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dingtalk.ParseCallback([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseCallback: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseCallback =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseCallbackRefuses(t *testing.T) {
	text := body("1", "text", `"text": {"content": "hi"}`)
	tests := []struct {
		name     string
		body     string
		mentions []string // what the error must name
	}{
		{name: "empty body", body: ``, mentions: []string{"empty body"}},
		{name: "blank body", body: " \n", mentions: []string{"empty body"}},
		{name: "not JSON", body: `msgtype=text`, mentions: []string{"invalid JSON"}},
		{name: "truncated", body: text[:len(text)/2], mentions: []string{"invalid JSON"}},
		{name: "trailing garbage", body: text + "x", mentions: []string{"invalid JSON"}},
		{name: "an array", body: `[]`, mentions: []string{"array"}},
		{name: "empty object", body: `{}`, mentions: []string{"msgtype", "msgId", "conversationId", "conversationType", "senderId", "sessionWebhook"}},
		{name: "msgId a number", body: strings.Replace(text, `"msgAbC+/123=="`, `123`, 1), mentions: []string{"msgId", "number"}},
		{name: "conversationType a number", body: strings.Replace(text, `"conversationType": "1"`, `"conversationType": 1`, 1), mentions: []string{"conversationType"}},
		{name: "conversationType 3", body: strings.Replace(text, `"conversationType": "1"`, `"conversationType": "3"`, 1), mentions: []string{"conversationType"}},
		{name: "sessionWebhook an object", body: strings.Replace(text, `"https://oapi.dingtalk.com/robot/sendBySession?session=`+secretSession+`"`, `{}`, 1), mentions: []string{"sessionWebhook"}},
		{name: "sessionWebhook empty", body: strings.Replace(text, `"https://oapi.dingtalk.com/robot/sendBySession?session=`+secretSession+`"`, `""`, 1), mentions: []string{"sessionWebhook"}},
		{name: "no sender at all", body: strings.Replace(strings.Replace(text, `"manager4321"`, `""`, 1), `"$:LWCP_v1:$sender=="`, `null`, 1), mentions: []string{"senderId"}},
		{name: "text.content a number", body: body("1", "text", `"text": {"content": 5}`), mentions: []string{"text.content"}},
		{name: "text an array", body: body("1", "text", `"text": ["hi"]`), mentions: []string{"text"}},
		{name: "content a string holding an array", body: body("1", "picture", `"content": "[1]"`), mentions: []string{"content", "array"}},
		{name: "richText not an array", body: body("1", "richText", `"content": {"richText": "hi"}`), mentions: []string{"content.richText"}},
		{name: "richText item text a number", body: body("1", "richText", `"content": {"richText": [{"text": 1}]}`), mentions: []string{"content.richText", "text"}},
		{name: "audio content an array", body: body("1", "audio", `"content": []`), mentions: []string{"content"}},
		{name: "picture downloadCode a bool", body: body("1", "picture", `"content": {"downloadCode": true}`), mentions: []string{"content.downloadCode"}},
		{name: "createAt a word", body: strings.Replace(text, `1684493344263`, `"yesterday"`, 1), mentions: []string{"createAt"}},
		{name: "createAt a float", body: strings.Replace(text, `1684493344263`, `1684493344263.5`, 1), mentions: []string{"createAt"}},
		{name: "createAt negative", body: strings.Replace(text, `1684493344263`, `-1`, 1), mentions: []string{"createAt"}},
		{name: "createAt a bool", body: strings.Replace(text, `1684493344263`, `true`, 1), mentions: []string{"createAt"}},
		{name: "expiry an object", body: strings.Replace(text, `1684498744416`, `{}`, 1), mentions: []string{"sessionWebhookExpiredTime"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dingtalk.ParseCallback([]byte(tt.body))
			if !errors.Is(err, dingtalk.ErrMalformedCallback) {
				t.Fatalf("ParseCallback = %v, want ErrMalformedCallback", err)
			}
			for _, m := range tt.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if strings.Contains(err.Error(), secretSession) {
				t.Errorf("error %q reveals the session", err)
			}
		})
	}
}

func FuzzParseCallback(f *testing.F) {
	seeds := []string{
		body("1", "text", `"text": {"content": "你好"}`),
		body("2", "text", `"text": {"content": " \\help"}`),
		body("1", "richText", `"content": {"richText": [{"text": "a"}, {"type": "picture", "downloadCode": "p"}]}`),
		body("1", "audio", `"content": {"recognition": "hello", "downloadCode": "a", "duration": 1000}`),
		body("1", "picture", `"content": {"downloadCode": "p"}`),
		body("1", "video", `"content": {"downloadCode": "v", "duration": 1000}`),
		body("1", "file", `"content": {"downloadCode": "f", "fileName": "x.pdf"}`),
		body("2", "unknownMsgType", ``),
		strings.Replace(body("1", "text", `"text": {"content": "x"}`), `1684493344263`, `"1684493344263"`, 1),
		`{"msgtype":"text","msgId":"m","conversationId":"c","conversationType":"2","senderStaffId":"s","sessionWebhook":"w"}`,
		`{"msgtype":"text","text":{"content":null},"createAt":null}`,
		`{}`, `[]`, `null`, `"text"`, `{"msgId":1}`, `{"content":{"richText":[null,1,"x"]},"msgtype":"richText"}`,
		"\x00\xff", ``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dingtalk.ParseCallback(b)
		if err != nil {
			if !errors.Is(err, dingtalk.ErrMalformedCallback) {
				t.Fatalf("error %v does not wrap ErrMalformedCallback", err)
			}
			return
		}
		if m.ID == "" || m.Type == "" || m.ConversationID == "" || m.SenderID == "" || m.Webhook == "" {
			t.Fatalf("accepted a message missing a required field: %+v", m)
		}
		if m.ConversationType != chat.SingleChat && m.ConversationType != chat.GroupChat {
			t.Fatalf("accepted conversationType %q", m.ConversationType)
		}
		if m.Text != strings.TrimSpace(m.Text) {
			t.Fatalf("text %q is not trimmed", m.Text)
		}
	})
}
