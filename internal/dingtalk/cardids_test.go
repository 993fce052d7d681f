package dingtalk_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
)

const cardSecret = "card-callback-secret-for-test"

// A base as the outbox makes one: "fcrobot-" and 32 hex digits.
const cardBase = "fcrobot-0123456789abcdef0123456789abcdef"

func TestCardIDsAreTheRobotsAndWithinDingTalksLimits(t *testing.T) {
	ids := dingtalk.CardIDs{Secret: cardSecret}
	id := ids.New(cardBase)
	if !ids.Check(id) {
		t.Fatalf("Check(%q) = false for an id New made", id)
	}
	if !strings.HasPrefix(id, cardBase+"_") || len(id) > dingtalk.MaxOutTrackIDLen {
		t.Errorf("New(%q) = %q (%d characters): want the base, a tag, at most %d", cardBase, id, len(id), dingtalk.MaxOutTrackIDLen)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(id) {
		t.Errorf("New = %q: characters beyond DingTalk's examples' letters, digits, - and _", id)
	}
	if ids.New(cardBase) != id || ids.New(cardBase+"x") == id {
		t.Error("New is not a function of the base")
	}
}

func TestCardIDsRefuseForgedOnes(t *testing.T) {
	ids := dingtalk.CardIDs{Secret: cardSecret}
	id := ids.New(cardBase)
	tag := id[strings.LastIndex(id, "_")+1:]
	other := dingtalk.CardIDs{Secret: "another-secret-of-another-robot"}
	for name, forged := range map[string]string{
		"the base alone":              cardBase,
		"another base with this tag":  "fcrobot-ffffffffffffffffffffffffffffffff_" + tag,
		"a truncated tag":             id[:len(id)-1],
		"a longer tag":                id + "0",
		"an upper-case tag":           cardBase + "_" + strings.ToUpper(tag),
		"a tag of zeros":              cardBase + "_0000000000000000",
		"another secret's id":         other.New(cardBase),
		"no base":                     "_" + tag,
		"an empty id":                 "",
		"an id over DingTalk's limit": ids.New(strings.Repeat("a", 90)),
		"a separator alone":           "_",
		"the tag twice":               id + "_" + tag,
	} {
		if ids.Check(forged) {
			t.Errorf("%s: Check(%q) = true", name, forged)
		}
	}
	if (dingtalk.CardIDs{}).Check(id) || (dingtalk.CardIDs{}).New(cardBase) != cardBase {
		t.Error("without a secret an id is checked or tagged")
	}
}

func FuzzCardIDsCheck(f *testing.F) {
	ids := dingtalk.CardIDs{Secret: cardSecret}
	for _, seed := range []string{ids.New(cardBase), cardBase, "_", "a_b", strings.Repeat("_", 200), "fcrobot-x_" + strings.Repeat("f", 16), "\xff_\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if !ids.Check(id) {
			return
		}
		// Only what New made passes: its base, tagged again, is the id.
		base := id[:strings.LastIndex(id, "_")]
		if ids.New(base) != id {
			t.Errorf("Check(%q) = true, but New(%q) = %q", id, base, ids.New(base))
		}
	})
}
