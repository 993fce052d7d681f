package bucket

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// hostileIDs are ids a forged callback may carry, as a card's outTrackId,
// a message id, a presser or an owner.
var hostileIDs = []string{
	"../../../etc/passwd",
	"/",
	"..",
	".",
	"a/b\x00c",
	"\x00",
	"registered",
	"20261123",
	strings.Repeat("界", 3500), // 10 KB
	"card-1",
}

// cardStoreNames are the only names the card stores (Cards, Votes,
// Decisions, Registrations) create below the root, whatever the ids.
var cardStoreNames = regexp.MustCompile(`^(` +
	`cards/v1/[0-9]{8}/[0-9a-f]{64}\.json|` +
	`cards/v1/registered/[0-9a-f]{64}\.json|` +
	`votes/v1/[0-9]{8}/[0-9a-f]{16}-[0-9a-f]{16}(-[LD])?\.json|` +
	`decisions/v1/[0-9a-f]{64}/[0-9]{16}-[yn]-[0-9a-f]{16}\.json` +
	`)$`)

// useCardStores goes through each card store with id as every id it
// takes, and checks that what it wrote reads back as id's and no other's.
func useCardStores(t *testing.T, objects Objects, id string) {
	t.Helper()
	ctx := t.Context()
	now := voteClock
	rec := chat.CardRecord{MessageID: id, ConversationID: id, ConversationType: chat.SingleChat, Owner: id, AskerStaffID: id, SenderID: id, AskedAt: now}
	cards := NewCards(objects, Config{})
	err := cards.Keep(ctx, id, rec, now)
	switch {
	case id == "" || !utf8.ValidString(id):
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Keep(%.40q) = %v; want ErrInvalidArgument", id, err)
		}
	case err != nil:
		t.Errorf("Keep(%.40q) = %v", id, err)
	default:
		if got, err := cards.Find(ctx, id, now); err != nil || !sameCard(got, rec) {
			t.Errorf("Find(%.40q) = %+v, %v", id, got, err)
		}
		if _, err := cards.Find(ctx, id+"/", now); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Find(%.40q + \"/\") = %v; want no card", id, err)
		}
	}
	if id == "" {
		return
	}

	votes := newVotes(objects, &now)
	if counted, err := votes.Vote(ctx, voteDay, id, id, true); err != nil || !counted {
		t.Errorf("Vote(%.40q) = %v, %v", id, counted, err)
	}
	if likes, dislikes, err := votes.Tally(ctx, voteDay, id); err != nil || likes != 1 || dislikes != 0 {
		t.Errorf("Tally(%.40q) = %d, %d, %v; want the one like", id, likes, dislikes, err)
	}
	if counted, err := votes.Vote(ctx, voteDay, id, id+"\x00", false); err != nil || !counted {
		t.Errorf("another voter whose id extends %.40q: %v, %v", id, counted, err)
	}

	decisions := NewDecisions(objects)
	if err := decisions.Decide(ctx, id, id, now, true); err != nil {
		t.Fatal(err)
	}
	if decided, approve, err := decisions.DecidedSince(ctx, id, now.Add(-time.Second), []string{id}); err != nil || !decided || !approve {
		t.Errorf("DecidedSince(%.40q) = %v, %v, %v", id, decided, approve, err)
	}
	if decided, _, err := decisions.DecidedSince(ctx, id+"/..", now.Add(-time.Second), []string{id}); err != nil || decided {
		t.Errorf("another owner than %.40q decided: %v, %v", id, decided, err)
	}

	registrations := NewRegistrations(objects)
	if err := registrations.MarkRegistered(ctx, id); err != nil {
		t.Fatal(err)
	}
	if ok, err := registrations.Registered(ctx, id); err != nil || !ok {
		t.Errorf("Registered(%.40q) = %v, %v", id, ok, err)
	}
}

// checkCardStoreNames walks root and fails on any file the card stores
// would not name.
func checkCardStoreNames(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if !cardStoreNames.MatchString(filepath.ToSlash(rel)) {
			t.Errorf("a file named by an id: %q", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHostileIDsNameNoPathAndReachNoOtherState(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		for _, id := range append(hostileIDs, "", "\xff\xfe") {
			useCardStores(t, objects, id)
		}
	})
	root := t.TempDir()
	objects := MountAt(t, root)
	for _, id := range hostileIDs {
		useCardStores(t, objects, id)
	}
	checkCardStoreNames(t, root)
}

// FuzzCardStoreNames: whatever the ids, the card stores name only their
// own hashed names, below their own folders, and read back what they
// wrote for that id.
func FuzzCardStoreNames(f *testing.F) {
	for _, id := range hostileIDs {
		f.Add(id)
	}
	f.Add("\xff")
	f.Fuzz(func(t *testing.T, id string) {
		root := t.TempDir()
		useCardStores(t, MountAt(t, root), id)
		checkCardStoreNames(t, root)
	})
}
