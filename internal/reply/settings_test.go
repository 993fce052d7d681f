package reply

import (
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/bucket"
	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

func TestAOneToOneMessageWithAGroupsIDNeverReachesTheGroupsSettings(t *testing.T) {
	settings := bucket.NewSettings(mountAt(t, t.TempDir()), bucket.Config{Now: func() time.Time { return clock }})
	f := newFixture(t, nil, func(c *testConfig) {
		c.Settings, c.SystemPrompt = settings, "默认"
		c.Access.Admins = []string{"staff-root"}
	})
	inGroup := func(id, text, staff string) chat.Event {
		ev := event(id, text, clock)
		ev.Message.ConversationType, ev.Message.SenderStaffID = chat.GroupChat, staff
		return ev
	}
	if err := f.handle(t, "r1", inGroup("m1", `\system 群的提示词`, "staff-root")); err != nil {
		t.Fatal(err)
	}
	// The same conversation id, one-to-one: its own settings.
	if err := f.handle(t, "r2", event("m2", `\system`, clock)); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); strings.Contains(got, "群的提示词") || !strings.Contains(got, "默认") {
		t.Errorf(`a one-to-one \system with the group's id answered %q`, got)
	}
	if err := f.handle(t, "r3", event("m3", `\system 海盗`, clock)); err != nil {
		t.Fatal(err)
	}
	if err := f.handle(t, "r4", inGroup("m4", "群里的问题", "staff-carol")); err != nil {
		t.Fatal(err)
	}
	if p := f.lastAsked(); p.System != "群的提示词" {
		t.Errorf("the group's question was asked with the system prompt %q", p.System)
	}
}
