package dingtalktest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

var (
	single = dingtalktest.Conversation{ID: "cidSingleChat00001=="}
	group  = dingtalktest.Conversation{ID: "cidGroupChat000001==", Group: true, Title: "产品群"}
	alice  = dingtalktest.Sender{ID: "$:LWCP_v1:$alice==", StaffID: "manager4321", Nick: "Alice", CorpID: "dingcorp"}
)

func fixedClock(t time.Time) dingtalktest.Option {
	return dingtalktest.WithClock(func() time.Time { return t })
}

// TestCallbacksParse checks the builders against the production parser and,
// field by field, against docs/protocols.md §1.
func TestCallbacksParse(t *testing.T) {
	now := time.Date(2025, 3, 1, 8, 30, 0, 123456789, time.Local)
	s := dingtalktest.NewServer(fixedClock(now))
	defer s.Close()
	createdAt := now.Truncate(time.Millisecond).UTC()

	tests := []struct {
		name     string
		cb       dingtalktest.Callback
		conv     dingtalktest.Conversation
		msgtype  string
		text     string
		pictures []string
		file     *chat.Attachment
	}{
		{name: "single text", cb: s.TextCallback(single, alice, "你好"), conv: single, msgtype: "text", text: "你好"},
		{name: "group text", cb: s.TextCallback(group, alice, `\help`), conv: group, msgtype: "text", text: `\help`},
		{
			name: "richText",
			cb: s.RichTextCallback(group, alice,
				dingtalktest.RichTextItem{Text: "what is"},
				dingtalktest.RichTextItem{PictureDownloadCode: "pic1"},
				dingtalktest.RichTextItem{Text: "this?"}),
			conv: group, msgtype: "richText", text: "what is\nthis?", pictures: []string{"pic1"},
		},
		{name: "audio", cb: s.AudioCallback(single, alice, "明天天气"), conv: single, msgtype: "audio", text: "明天天气"},
		{name: "picture", cb: s.PictureCallback(single, alice, "pic2"), conv: single, msgtype: "picture", pictures: []string{"pic2"}},
		{name: "video", cb: s.VideoCallback(single, alice, "vid"), conv: single, msgtype: "video"},
		{name: "file", cb: s.FileCallback(single, alice, "f", "report.pdf"), conv: single, msgtype: "file", file: &chat.Attachment{Name: "report.pdf", DownloadCode: "f"}},
		{name: "unknownMsgType", cb: s.UnknownCallback(group, alice), conv: group, msgtype: "unknownMsgType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := dingtalk.ParseCallback(tt.cb.Body)
			if err != nil {
				t.Fatalf("ParseCallback: %v\n%s", err, tt.cb.Body)
			}
			convType, title := chat.SingleChat, ""
			if tt.conv.Group {
				convType, title = chat.GroupChat, tt.conv.Title
			}
			want := chat.Message{
				ID:                tt.cb.MsgID,
				Type:              tt.msgtype,
				Text:              tt.text,
				Pictures:          tt.pictures,
				File:              tt.file,
				ConversationID:    tt.conv.ID,
				ConversationType:  convType,
				ConversationTitle: title,
				SenderID:          alice.ID,
				SenderStaffID:     alice.StaffID,
				SenderNick:        alice.Nick,
				SenderCorpID:      alice.CorpID,
				RobotCode:         dingtalktest.RobotCode,
				Webhook:           s.WebhookURL(s.Session(tt.conv.ID)),
				WebhookExpiresAt:  createdAt.Add(90 * time.Minute),
				CreatedAt:         createdAt,
			}
			if !reflect.DeepEqual(m, want) {
				t.Fatalf("parsed\n%+v\nwant\n%+v", m, want)
			}
			if tt.cb.Session != s.Session(tt.conv.ID) || !tt.cb.CreatedAt.Equal(createdAt) {
				t.Errorf("Callback = {Session %q, CreatedAt %v}, want %q, %v", tt.cb.Session, tt.cb.CreatedAt, s.Session(tt.conv.ID), createdAt)
			}
			if !strings.HasPrefix(tt.cb.MsgID, "msg") {
				t.Errorf("msgId %q does not look like DingTalk's", tt.cb.MsgID)
			}
		})
	}
}

// TestCallbackWireShape checks what the parser does not read: the raw
// fields and their JSON types.
func TestCallbackWireShape(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	decode := func(cb dingtalktest.Callback) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(cb.Body, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}

	g := decode(s.TextCallback(group, alice, "hi"))
	if got := g["text"].(map[string]any)["content"]; got != " hi" {
		t.Errorf("group text.content = %q, want the mention's space kept: \" hi\"", got)
	}
	atUsers, _ := g["atUsers"].([]any)
	if len(atUsers) != 1 || atUsers[0].(map[string]any)["dingtalkId"] != dingtalktest.ChatbotUserID {
		t.Errorf("group atUsers = %v, want the robot", g["atUsers"])
	}
	if g["isInAtList"] != true || g["conversationType"] != "2" || g["conversationTitle"] != group.Title {
		t.Errorf("group body %v", g)
	}
	for _, field := range []string{"createAt", "sessionWebhookExpiredTime"} {
		if _, ok := g[field].(float64); !ok {
			t.Errorf("%s = %#v, want a JSON number", field, g[field])
		}
	}
	if g["sessionWebhookExpiredTime"].(float64)-g["createAt"].(float64) != float64(90*time.Minute/time.Millisecond) {
		t.Errorf("session lives %v ms, want 90 minutes", g["sessionWebhookExpiredTime"].(float64)-g["createAt"].(float64))
	}
	for _, field := range []string{"chatbotUserId", "chatbotCorpId", "robotCode", "senderPlatform", "msgId", "sessionWebhook"} {
		if v, _ := g[field].(string); v == "" {
			t.Errorf("%s missing", field)
		}
	}

	one := decode(s.TextCallback(single, alice, "hi"))
	if got := one["text"].(map[string]any)["content"]; got != "hi" {
		t.Errorf("single text.content = %q, want \"hi\"", got)
	}
	if _, ok := one["conversationTitle"]; ok {
		t.Error("a single chat has a conversationTitle")
	}

	audio := decode(s.AudioCallback(single, alice, "x"))["content"].(map[string]any)
	if audio["downloadCode"] == "" || audio["duration"] == nil {
		t.Errorf("audio content %v, want downloadCode and duration", audio)
	}
	file := decode(s.FileCallback(single, alice, "f", "a.pdf"))["content"].(map[string]any)
	if file["downloadCode"] != "f" || file["fileName"] != "a.pdf" {
		t.Errorf("file content %v", file)
	}
}

func TestCallbackIdentities(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	a1 := s.TextCallback(single, alice, "1")
	a2 := s.TextCallback(single, alice, "2")
	g1 := s.TextCallback(group, alice, "3")
	if a1.MsgID == a2.MsgID || a1.MsgID == g1.MsgID {
		t.Errorf("msgIds repeat: %q %q %q", a1.MsgID, a2.MsgID, g1.MsgID)
	}
	if a1.Session != a2.Session {
		t.Errorf("one conversation, two sessions: %q %q", a1.Session, a2.Session)
	}
	if a1.Session == g1.Session {
		t.Errorf("two conversations share session %q", a1.Session)
	}
	if len(a1.Session) < 20 {
		t.Errorf("session %q is short enough to match by chance in a log search", a1.Session)
	}
	other := dingtalktest.NewServer()
	defer other.Close()
	if other.Session(single.ID) == a1.Session {
		t.Error("two servers give the same session")
	}
}

func TestSignedRequest(t *testing.T) {
	const secret = "callback-secret"
	now := time.Now()
	type received struct {
		method, timestamp, sign, contentType string
		body                                 []byte
	}
	requests := make(chan received, 1)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		requests <- received{r.Method, r.Header.Get("timestamp"), r.Header.Get("sign"), r.Header.Get("Content-Type"), body}
	}))
	defer target.Close()

	s := dingtalktest.NewServer()
	defer s.Close()
	cb := s.TextCallback(single, alice, "hi")
	req, err := dingtalktest.SignedRequest(t.Context(), target.URL+"/x", secret, cb.Body, now)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := target.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := <-requests

	if got.method != http.MethodPost || !strings.HasPrefix(got.contentType, "application/json") || string(got.body) != string(cb.Body) {
		t.Fatalf("request: %s, Content-Type %q, body %q", got.method, got.contentType, got.body)
	}
	v := dingtalk.Verifier{AppSecret: secret, Now: func() time.Time { return now }}
	if err := v.Verify(got.timestamp, got.sign); err != nil {
		t.Fatalf("the production verifier refuses the fake's signature: %v", err)
	}
	if err := (dingtalk.Verifier{AppSecret: "other", Now: v.Now}).Verify(got.timestamp, got.sign); !errors.Is(err, dingtalk.ErrSignatureMismatch) {
		t.Errorf("verified with another secret: %v", err)
	}

	old, err := dingtalktest.SignedRequest(t.Context(), target.URL, secret, cb.Body, now.Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(old.Header.Get("timestamp"), old.Header.Get("sign")); !errors.Is(err, dingtalk.ErrTimestampStale) {
		t.Errorf("a request signed 2h ago: %v, want ErrTimestampStale", err)
	}

	if _, err := dingtalktest.SignedRequest(t.Context(), "::bad", secret, nil, now); err == nil {
		t.Error("SignedRequest accepted a bad URL")
	}
}
