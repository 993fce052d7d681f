package bucket

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// A group and a one-to-one chat; a forged callback can give either id
// either type.
var (
	groupMsg  = chat.Message{ConversationID: "cid-group==", ConversationType: chat.GroupChat, SenderID: "member"}
	singleMsg = chat.Message{ConversationID: "cid-single==", ConversationType: chat.SingleChat, SenderID: "user"}
)

// keyOf is the key package reply gives m, each member of a group with a
// history of their own.
func keyOf(m chat.Message) chat.SettingsKey {
	return chat.SettingsKey{Owner: m.SettingsOwner(), Conversation: m.ConversationID, Witness: m.HistoryOwner()}
}

// retyped is m as a forged callback of the other type would carry it.
func retyped(m chat.Message) chat.Message {
	if m.IsGroup() {
		m.ConversationType = chat.SingleChat
	} else {
		m.ConversationType = chat.GroupChat
	}
	return m
}

// movableClock is a clock a test moves.
type movableClock struct{ ns atomic.Int64 }

func newClock(at time.Time) *movableClock {
	c := &movableClock{}
	c.ns.Store(at.UnixNano())
	return c
}
func (c *movableClock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *movableClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

var upgradeDay = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func TestSettingsAreKeyedByTheConversationsType(t *testing.T) {
	ctx := t.Context()
	clock := newClock(upgradeDay)
	s := NewSettings(MountAt(t, t.TempDir()), Config{Now: clock.now})
	if err := s.SetSystem(ctx, keyOf(groupMsg), "你是群助手", false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetModel(ctx, keyOf(groupMsg), "model-g"); err != nil {
		t.Fatal(err)
	}
	forged := retyped(groupMsg)
	if set, err := s.Load(ctx, keyOf(forged)); err != nil || set != (chat.Settings{}) {
		t.Errorf("a one-to-one message with the group's id reads %+v, %v; want nothing", set, err)
	}
	clock.advance(time.Second)
	if err := s.SetSystem(ctx, keyOf(forged), "你是海盗", false); err != nil {
		t.Fatal(err)
	}
	if set, err := s.Load(ctx, keyOf(groupMsg)); err != nil || set.System != "你是群助手" || set.Model != "model-g" {
		t.Errorf("the group's settings after a forged change: %+v, %v", set, err)
	}
	if set, err := s.Load(ctx, keyOf(forged)); err != nil || set.System != "你是海盗" {
		t.Errorf("the forged conversation's own settings: %+v, %v", set, err)
	}
	if _, err := s.Load(ctx, chat.SettingsKey{}); err == nil {
		t.Error("settings without an owner were loaded")
	}
}

func TestAChangeRemovesTheGenerationsItSupersedes(t *testing.T) {
	ctx := t.Context()
	clock := newClock(upgradeDay)
	root := t.TempDir()
	s := NewSettings(MountAt(t, root), Config{Now: clock.now})
	key := keyOf(singleMsg)
	for i, p := range []string{"一", "二", "三"} {
		if err := s.SetSystem(ctx, key, p, false); err != nil {
			t.Fatal(err)
		}
		if err := s.SetModel(ctx, key, "model-"+p); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			continue // two changes within one millisecond
		}
		clock.advance(time.Minute)
	}
	names, err := s.objects.List(ctx, s.folder(key.Owner), 0)
	if err != nil || len(names) != 2 || settingKind(names[0]) == settingKind(names[1]) {
		t.Errorf("the folder holds %v, %v; want the newest system prompt and model", names, err)
	}
	if set, err := s.Load(ctx, key); err != nil || set.System != "三" || set.Model != "model-三" {
		t.Errorf("loaded %+v, %v", set, err)
	}
}

// upgrade is a bucket as an older build left it: settings under the
// conversation id alone, and the asker's histories, saved before.
type upgrade struct {
	root  string
	clock *movableClock
	hist  *History
}

func newUpgrade(t *testing.T) *upgrade {
	t.Helper()
	u := &upgrade{root: t.TempDir(), clock: newClock(upgradeDay.Add(-24 * time.Hour))}
	h, err := NewHistory(MountAt(t, u.root), Config{Now: u.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	u.hist = h
	old := NewSettings(MountAt(t, u.root), Config{Now: u.clock.now})
	for _, m := range []chat.Message{groupMsg, singleMsg} {
		// The older build's key: the conversation id alone.
		legacy := chat.SettingsKey{Owner: m.ConversationID}
		if err := old.SetSystem(t.Context(), legacy, "旧的提示词："+m.ConversationID, false); err != nil {
			t.Fatal(err)
		}
		if err := old.SetModel(t.Context(), legacy, "model-old"); err != nil {
			t.Fatal(err)
		}
		u.save(t, m, "before")
	}
	u.clock.ns.Store(upgradeDay.UnixNano())
	return u
}

// save keeps a turn of m's asker, now.
func (u *upgrade) save(t *testing.T, m chat.Message, id string) {
	t.Helper()
	turn := chat.Turn{MessageID: m.ConversationID + id, Question: "问", Answer: "答", AskedAt: u.clock.now(), AnsweredAt: u.clock.now()}
	if err := u.hist.Save(t.Context(), m.HistoryOwner(), turn); err != nil {
		t.Fatal(err)
	}
	u.hist.WaitPruning()
}

func (u *upgrade) settings(t *testing.T) *Settings {
	t.Helper()
	s := NewSettings(MountAt(t, u.root), Config{Now: u.clock.now})
	return s
}

func TestLegacySettingsAreFoundByTheConversationOfTheTypeThatWroteThem(t *testing.T) {
	ctx := t.Context()
	u := newUpgrade(t)
	s := u.settings(t)
	for _, m := range []chat.Message{groupMsg, singleMsg} {
		set, err := s.Load(ctx, keyOf(m))
		if err != nil || set.System != "旧的提示词："+m.ConversationID || set.Model != "model-old" {
			t.Errorf("%s after the upgrade: %+v, %v; want its settings kept", m.ConversationType, set, err)
		}
	}
	// Another instance, and a change: the adopted settings are the
	// conversation's own now.
	other := u.settings(t)
	u.clock.advance(time.Minute)
	if err := other.SetModel(ctx, keyOf(singleMsg), "model-new"); err != nil {
		t.Fatal(err)
	}
	if set, err := other.Load(ctx, keyOf(singleMsg)); err != nil || set.System != "旧的提示词："+singleMsg.ConversationID || set.Model != "model-new" {
		t.Errorf("after a change on another instance: %+v, %v", set, err)
	}
}

func TestAForgedCallbackOfTheOtherTypeNeverReachesLegacySettings(t *testing.T) {
	ctx := t.Context()
	u := newUpgrade(t)
	s := u.settings(t)
	for _, m := range []chat.Message{groupMsg, singleMsg} {
		forged := retyped(m)
		if set, err := s.Load(ctx, keyOf(forged)); err != nil || set != (chat.Settings{}) {
			t.Errorf("a %s callback with the id of the other type read %+v, %v; want the defaults", forged.ConversationType, set, err)
		}
		// Its questions are answered and kept after the upgrade: no
		// evidence, however many.
		u.clock.advance(time.Minute)
		u.save(t, forged, "forged")
		if set, err := u.settings(t).Load(ctx, keyOf(forged)); err != nil || set != (chat.Settings{}) {
			t.Errorf("after a forged turn, a %s callback read %+v, %v; want the defaults", forged.ConversationType, set, err)
		}
		// What it changes is its own.
		if err := s.SetSystem(ctx, keyOf(forged), "你是海盗", false); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []chat.Message{groupMsg, singleMsg} {
		if set, err := u.settings(t).Load(ctx, keyOf(m)); err != nil || set.System != "旧的提示词："+m.ConversationID {
			t.Errorf("the real %s conversation after the forgeries: %+v, %v", m.ConversationType, set, err)
		}
	}
}

func TestLegacySettingsWithoutEvidenceAreLeftAlone(t *testing.T) {
	ctx := t.Context()
	u := newUpgrade(t)
	// A member who never asked before the upgrade sees the defaults,
	// until one who did asks.
	newcomer := groupMsg
	newcomer.SenderID = "newcomer"
	s := u.settings(t)
	if set, err := s.Load(ctx, keyOf(newcomer)); err != nil || set != (chat.Settings{}) {
		t.Errorf("a member without a turn before the upgrade: %+v, %v", set, err)
	}
	if set, err := s.Load(ctx, keyOf(groupMsg)); err != nil || set.System == "" {
		t.Errorf("a member with a turn before the upgrade: %+v, %v", set, err)
	}
	if set, err := s.Load(ctx, keyOf(newcomer)); err != nil || set.System == "" {
		t.Errorf("the newcomer once the group adopted its settings: %+v, %v", set, err)
	}
}
