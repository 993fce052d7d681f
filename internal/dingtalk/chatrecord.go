package dingtalk

import (
	"encoding/json"
	"strings"
)

// maxRecordEntries bounds the messages of a forwarded chat that are read.
const maxRecordEntries = 50

// chatRecord is what a forwarded chat (msgtype chatRecord, or a quoted one)
// shows: its title, and its messages, one a line, or the summary DingTalk
// makes of them (docs/protocols.md §1). A summary of "[]" is an empty
// record.
func chatRecord(content map[string]json.RawMessage) (title, text string) {
	title = str(content["title"])
	var lines []string
	for _, key := range []string{"chatRecord", "records", "messages"} {
		for _, raw := range array(content[key], maxRecordEntries) {
			if line := recordEntry(raw); line != "" {
				lines = append(lines, line)
			}
		}
		if len(lines) > 0 {
			break
		}
	}
	if len(lines) == 0 {
		if s := str(content["summary"]); s != "[]" {
			return title, s
		}
		return title, ""
	}
	return title, strings.Join(lines, "\n")
}

// recordEntry is one message of a forwarded chat as "sender: text".
func recordEntry(raw json.RawMessage) string {
	e := object(raw)
	if e == nil {
		return str(raw)
	}
	body := first(e, "text", "content", "message", "body")
	if body == "" {
		body = str(object(e["content"])["text"])
	}
	if body == "" {
		return ""
	}
	if sender := first(e, "senderName", "senderNick", "sender"); sender != "" {
		return sender + ": " + body
	}
	return body
}
