package dingtalk

import (
	"encoding/json"
	"strings"
	"unicode"
)

// robotMentionedFirst reports whether the first user a group message
// @-mentions (atUsers[0].dingtalkId) is the robot itself: then a rich-text
// message's leading "@name" is the robot's name, which DingTalk's HarmonyOS
// client leaves in the text where the other clients cut it out
// (docs/protocols.md §1, HarmonyOS group messages).
func robotMentionedFirst(atUsers json.RawMessage, chatbotUserID string) bool {
	if chatbotUserID == "" {
		return false
	}
	users := array(atUsers, 1)
	return len(users) == 1 && str(object(users[0])["dingtalkId"]) == chatbotUserID
}

// cutMention removes the @-mention a text starts with. alone says the
// mention is an item of its own (more items follow it): then the whole
// item is the mention, whatever spaces the robot's name holds; otherwise
// the mention ends at the first space.
func cutMention(text string, alone bool) string {
	t := strings.TrimSpace(text)
	if !strings.HasPrefix(t, "@") {
		return text
	}
	if alone {
		return ""
	}
	i := strings.IndexFunc(t, unicode.IsSpace)
	if i < 0 {
		return ""
	}
	return strings.TrimSpace(t[i:])
}
