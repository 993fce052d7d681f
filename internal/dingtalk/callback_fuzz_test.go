package dingtalk_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
)

// hostileSeeds are bodies built to break a reader of the shapes seen in the
// field: deep nesting, JSON inside strings inside strings, huge arrays,
// wrong types, truncation, numbers as strings.
func hostileSeeds() []string {
	deepArrays := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	deepObjects := strings.Repeat(`{"children":[`, 2000) + `{"elementType":"TEXT","value":"x"}` + strings.Repeat(`]}`, 2000)
	cardTree := func(tree string) string {
		return body("2", "text", `"text": {"content": "?", "isReplyMsg": true, "repliedMsg": {"msgType": "interactiveCard", "content": {"cardContent": `+tree+`}}}`)
	}
	quoted := func(replied string) string {
		return body("2", "text", `"text": {"content": "?", "isReplyMsg": true, "repliedMsg": `+replied+`}`)
	}
	harmony := body("2", "richText", `"content": {"richText": [{"text": "@机器人"}, {"type": "at", "atName": "李四"}, {"text": "\\clear"}]}`)
	seeds := []string{
		harmony,
		harmony[:len(harmony)/2],
		body("1", "text", `"text": {"content": "`+strings.Repeat(`<\u0001&`, 10000)+`", "repliedMsg": {"content": "`+strings.Repeat(`>`, 9000)+`"}}`),
		body("2", "richText", `"content": {"richText": `+deepArrays+`}`),
		body("2", "richText", `"content": {"richText": [`+strings.Repeat(`{"text":"@"},`, 3000)+`{}]}`),
		body("2", "richText", `"content": {"richText": [{"type": "at", "atName": {"x": [1]}}, {"text": "@", "type": 5}]}`),
		body("1", "richText", `"content": `+nestInStrings(`{"richText": [{"text": "a"}]}`, 3)),
		body("1", "richText", `"content": `+nestInStrings(`{"richText": [{"text": "a"}]}`, 9)),
		body("1", "text", `"text": `+nestInStrings(`{"content": "a", "repliedMsg": `+nestInStrings(`{"content": "q"}`, 2)+`}`, 2)),
		cardTree(deepObjects),
		cardTree(deepArrays),
		cardTree(`[` + strings.Repeat(`{"elementType":"TEXT","value":"字字字字"},`, 3000) + `{}]`),
		cardTree(nestInStrings(`{"elementType":"MARKDOWN","value":"**x**"}`, 3)),
		cardTree(`{"elementType": ["TEXT"], "value": 1, "children": {"children": null}}`),
		quoted(`{"msgType": "audio", "content": {"duration": "1e400", "downloadCode": 1}}`),
		quoted(`{"msgType": "audio", "content": {"duration": "-5", "downloadCode": "a"}}`),
		quoted(`{"msgType": "video", "content": {"duration": 99999999999999999999, "videoType": "mp4"}}`),
		quoted(`{"msgType": "chatRecord", "content": {"summary": ["x"], "title": 1, "chatRecord": "[{\"senderName\":\"a\",\"content\":{\"text\":\"b\"}}]"}}`),
		quoted(`{"msgType": "chatRecord", "content": {"records": [` + strings.Repeat(`{"senderName":"a","text":"b"},`, 500) + `null]}}`),
		quoted(`{"msgType": "unknownMsgType", "msgId": "m", "createdAt": "1772817989679"}`),
		quoted(`{"msgType": "unknownMsgType", "content": null}`),
		quoted(`null`), quoted(`[]`), quoted(`"{"`), quoted(`{"content": ` + deepArrays + `}`),
		body("1", "markdown", `"content": {"text": {"text": "x"}}, "text": []`),
		body("1", "interactiveCard", `"content": "{\"biz_custom_action_url\": 5}"`),
		body("1", "chatRecord", `"content": {"summary": "[]", "messages": "[[[[[[`+"\"]]]]]]"+`}`),
		body("1", "chatRecord", `"content": `+nestInStrings(`{"title":"t","summary":"s"}`, 2)),
		strings.Replace(body("1", "text", `"text": {"content": "x"}`), `1684493344263`, `"00000001684493344263"`, 1),
		strings.Replace(body("1", "text", `"text": {"content": "x"}`), `1684493344263`, `"99999999999999999999999"`, 1),
		strings.Replace(body("1", "text", `"text": {"content": "x"}`), `"msgId": "msgAbC+/123=="`, `"msgId": "m", "msgId": 5`, 1),
	}
	return seeds
}

func FuzzParseCallbackHostile(f *testing.F) {
	for _, s := range hostileSeeds() {
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
		checkBounded(t, m)
		// The event that carries the message must be readable by the
		// reply function.
		payload, err := json.Marshal(chat.Event{Version: chat.EventVersion, Message: m})
		if err != nil {
			t.Fatalf("the event does not encode: %v", err)
		}
		var back chat.Event
		if err := json.Unmarshal(payload, &back); err != nil || back.Validate() != nil {
			t.Fatalf("the event does not decode: %v, %v", err, back.Validate())
		}
	})
}

// checkBounded checks what a parsed message keeps stays within the bounds
// the parser promises.
func checkBounded(t *testing.T, m chat.Message) {
	t.Helper()
	for _, s := range []struct {
		what string
		text string
		max  int
	}{{"text", m.Text, 64 << 10}, {"quote", quoteText(m), 24 << 10}} {
		if b, _ := json.Marshal(s.text); len(b) > s.max {
			t.Fatalf("the %s takes %d bytes in the event", s.what, len(b))
		}
	}
	if n := utf8.RuneCountInString(m.Text); n > 20001 {
		t.Fatalf("kept %d characters of text", n)
	}
	if len(m.Pictures) > 20 {
		t.Fatalf("kept %d pictures", len(m.Pictures))
	}
	if q := m.Quote; q != nil {
		if n := utf8.RuneCountInString(q.Text); n > 8001 {
			t.Fatalf("kept %d characters of the quote", n)
		}
		if len(q.Pictures) > 20 {
			t.Fatalf("kept %d quoted pictures", len(q.Pictures))
		}
		if q.Text != strings.TrimSpace(q.Text) {
			t.Fatalf("quote %q is not trimmed", q.Text)
		}
		if q.Media != nil && (q.Media.Seconds < 0 || q.Media.Seconds > 24*3600) {
			t.Fatalf("quoted media of %d seconds", q.Media.Seconds)
		}
		if q.Unseen && (q.Text != "" || q.File != nil || len(q.Pictures) > 0 || q.Media != nil) {
			t.Fatalf("a quote marked unseen holds %+v", q)
		}
	}
	if m.Text != strings.TrimSpace(m.Text) {
		t.Fatalf("text %q is not trimmed", m.Text)
	}
}

func quoteText(m chat.Message) string {
	if m.Quote == nil {
		return ""
	}
	return m.Quote.Text
}

// BenchmarkParseCallbackHostile measures the hostile seeds, the worst of
// them a deep or wide tree in the 64 KiB a callback may be.
func BenchmarkParseCallbackHostile(b *testing.B) {
	seeds := hostileSeeds()
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range seeds {
			dingtalk.ParseCallback([]byte(s))
		}
	}
}

// FuzzParseCallbackNested puts one JSON fragment where the callback shapes
// nest the most (a content, a rich text, a quote, a card's tree, a
// forwarded chat), as it is and inside a string, so that the fuzzer works
// on the fragment rather than on the common fields around it.
func FuzzParseCallbackNested(f *testing.F) {
	for _, s := range []string{
		`{"richText": [{"text": "@机器人"}, {"text": "\\clear"}]}`,
		`{"elementType": "TEXT", "value": "x", "children": [{"elementType": "MARKDOWN", "value": "y"}]}`,
		`{"summary": "[]", "title": "t", "records": "[{\"senderName\":\"a\",\"text\":\"b\"}]"}`,
		`{"duration": "12000", "downloadCode": "a", "videoType": "mp4", "fileName": "x"}`,
		`"{\"content\": \"{\\\"text\\\": 1}\"}"`,
		strings.Repeat(`[`, 300), strings.Repeat(`{"children":`, 100) + `1` + strings.Repeat(`}`, 100),
		`null`, `1e999`, `"\u2028<>&"`, `[{}, [], "", 0, true, null]`,
	} {
		f.Add(s)
	}
	slots := []struct{ msgType, field string }{
		{"richText", `"content": %s`},
		{"markdown", `"content": {"text": %s}`},
		{"chatRecord", `"content": %s`},
		{"interactiveCard", `"content": {"cardContent": %s}`},
		{"richText", `"content": {"richText": [{"text": "@机器人"}, %s]}`},
		{"text", `"text": {"content": "?", "isReplyMsg": true, "repliedMsg": %s}`},
		{"text", `"text": {"content": "?", "isReplyMsg": true, "repliedMsg": {"msgType": "interactiveCard", "content": {"cardContent": %s}}}`},
		{"text", `"text": {"content": "?", "isReplyMsg": true, "repliedMsg": {"msgType": "chatRecord", "content": %s}}`},
		{"text", `"text": {"content": "?", "isReplyMsg": true, "repliedMsg": {"msgType": "unknownMsgType", "content": %s}}`},
		{"text", `"text": {"content": "?", "isReplyMsg": true, "repliedMsg": {"msgType": "richText", "content": {"richText": %s}}}`},
	}
	f.Fuzz(func(t *testing.T, fragment string) {
		asString, _ := json.Marshal(fragment)
		for _, slot := range slots {
			for _, v := range []string{fragment, string(asString)} {
				b := body("2", slot.msgType, fmt.Sprintf(slot.field, v))
				m, err := dingtalk.ParseCallback([]byte(b))
				if err != nil {
					if !errors.Is(err, dingtalk.ErrMalformedCallback) {
						t.Fatalf("error %v does not wrap ErrMalformedCallback", err)
					}
					continue
				}
				checkBounded(t, m)
			}
		}
	})
}
