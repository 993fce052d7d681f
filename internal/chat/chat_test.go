package chat

import "testing"

func TestStateOwnersKeepConversationsApart(t *testing.T) {
	group := Message{ConversationID: "cid1", ConversationType: GroupChat, SenderID: "s1"}
	single := group
	single.ConversationType = SingleChat
	if group.SettingsOwner() == single.SettingsOwner() || group.HistoryOwner() == single.HistoryOwner() {
		t.Errorf("one id of two types shares an owner: %q %q, %q %q",
			group.SettingsOwner(), single.SettingsOwner(), group.HistoryOwner(), single.HistoryOwner())
	}
	// An id holding the separator cannot name another's state.
	a := Message{ConversationID: "A\x00X", ConversationType: GroupChat, SenderID: "S"}
	b := Message{ConversationID: "A", ConversationType: GroupChat, SenderID: "X\x00S"}
	if a.HistoryOwner() == b.HistoryOwner() {
		t.Errorf("%q and %q share the history %q", a.ConversationID, b.ConversationID, a.HistoryOwner())
	}
	// DingTalk's ids are kept as they are: the owners stored so far stay.
	if got := group.HistoryOwner(); got != "group\x00cid1\x00s1" {
		t.Errorf("a group member's history owner changed: %q", got)
	}
	if got := single.HistoryOwner(); got != "single\x00cid1" {
		t.Errorf("a single chat's history owner changed: %q", got)
	}
	if got := group.GroupHistoryOwner(); got != "groupshared\x00cid1" {
		t.Errorf("a group's shared history owner changed: %q", got)
	}
}
