package bucket

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// askedIn is a question asked in a group, as the card that answers it
// keeps it.
func askedIn(conversation, sender string, at time.Time) chat.CardRecord {
	m := chat.Message{ID: "msg-" + conversation + "-" + sender, ConversationID: conversation, ConversationType: chat.GroupChat,
		SenderID: "sid-" + sender, SenderStaffID: "staff-" + sender, CreatedAt: at}
	return chat.CardRecord{
		MessageID: m.ID, ConversationID: m.ConversationID, ConversationType: m.ConversationType,
		Owner: m.HistoryOwner(), AskerStaffID: m.SenderStaffID, SenderID: m.SenderID, AskedAt: m.CreatedAt,
	}
}

func sameCard(a, b chat.CardRecord) bool {
	a.AskedAt, b.AskedAt = a.AskedAt.UTC(), b.AskedAt.UTC()
	return a.AskedAt.Equal(b.AskedAt) && a.MessageID == b.MessageID && a.ConversationID == b.ConversationID &&
		a.ConversationType == b.ConversationType && a.Owner == b.Owner && a.AskerStaffID == b.AskerStaffID && a.SenderID == b.SenderID
}

func TestAPressFindsItsCardsQuestionOnAnyDayTheCardIsKept(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		ctx := t.Context()
		kept := time.Date(2026, 11, 23, 0, 30, 0, 0, time.UTC) // early in its day: the oldest found is a week of days back
		rec := askedIn("cid-1", "alice", kept.Add(-10*time.Second))
		cards := NewCards(objects, Config{})
		if err := cards.Keep(ctx, "card-1", rec, kept); err != nil {
			t.Fatal(err)
		}
		// Another instance, whose clock runs 40 s ahead, keeps a card
		// just after its midnight.
		late := askedIn("cid-2", "bob", kept)
		if err := cards.Keep(ctx, "card-2", late, time.Date(2026, 11, 24, 0, 0, 20, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}

		other := NewCards(objects, Config{}) // a press reaches another instance
		for _, now := range []time.Time{kept, kept.Add(time.Hour), kept.Add(CardsKept - time.Minute)} {
			if got, err := other.Find(ctx, "card-1", now); err != nil || !sameCard(got, rec) {
				t.Errorf("found at %v: %+v, %v; want %+v", now, got, err, rec)
			}
		}
		if got, err := other.Find(ctx, "card-2", time.Date(2026, 11, 23, 23, 59, 40, 0, time.UTC)); err != nil || !sameCard(got, late) {
			t.Errorf("a card kept by a clock a little ahead, across midnight: %+v, %v", got, err)
		}
		for _, c := range []struct {
			id  string
			now time.Time
		}{
			{"card-1", kept.Add(CardsKept + 24*time.Hour)}, // past the days kept
			{"card-1", kept.Add(-24 * time.Hour)},          // a day before it was kept
			{"card-3", kept},                               // never kept
			{"CARD-1", kept},
			{"", kept},
		} {
			if got, err := other.Find(ctx, c.id, c.now); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("card %q at %v: %+v, %v; want an error matching fs.ErrNotExist", c.id, c.now, got, err)
			}
		}

		// A card kept again (a retry) keeps its first record.
		if err := cards.Keep(ctx, "card-1", askedIn("cid-9", "mallory", kept), kept.Add(time.Minute)); err != nil {
			t.Errorf("a card kept again: %v", err)
		}
		if got, err := other.Find(ctx, "card-1", kept); err != nil || !sameCard(got, rec) {
			t.Errorf("after a second Keep: %+v, %v; want the first record", got, err)
		}
	})
}

func TestFindReadsEachDayKeptOnceAndNothingElse(t *testing.T) {
	objects, srv := APIAt(t, t.TempDir())
	cards := NewCards(objects, Config{})
	ctx := t.Context()
	kept := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	if err := cards.Keep(ctx, "card-1", askedIn("cid-1", "alice", kept), kept); err != nil {
		t.Fatal(err)
	}
	// An unknown card reads every day, in parallel, and nothing else.
	srv.ResetRequests()
	if _, err := cards.Find(ctx, "card-unknown", kept.Add(3*24*time.Hour)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if got, want := srv.Requests(), map[string]int{"GetObject": 8}; !maps.Equal(got, want) {
		t.Errorf("Find of an unknown card made %v; want %v", got, want)
	}
	// A card kept returns once one day's read found it, and cancels the
	// others (which may reach the server later: this is the last Find).
	srv.ResetRequests()
	if _, err := cards.Find(ctx, "card-1", kept.Add(3*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := srv.Requests(); got["GetObject"] < 1 || got["GetObject"] > cardsDays || len(got) != 1 {
		t.Errorf("Find of a card kept made %v; want from 1 to %d GetObject and nothing else", got, cardsDays)
	}
}

func TestABrokenCardFileIsAnErrorThatSaysWhich(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		ctx := t.Context()
		now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		cards := NewCards(objects, Config{})
		if err := cards.Keep(ctx, "card-other", askedIn("cid-1", "alice", now), now); err != nil {
			t.Fatal(err)
		}
		other, err := objects.Read(ctx, path.Join(cardsDir, "20261123", cardName("card-other")))
		if err != nil {
			t.Fatal(err)
		}
		valid := strings.Replace(string(other), `"card-other"`, `"card-1"`, 1)
		for _, c := range []struct {
			what, content, why string
		}{
			{"oversized", `{"version":1,"outTrackId":"card-1","owner":"` + strings.Repeat("x", MaxCardRecordBytes) + `"}`, "larger than"},
			{"torn", valid[:len(valid)/2], "does not parse"},
			{"empty", "", "does not parse"},
			{"deeply nested", strings.Repeat("[", 20_000), "does not parse"},
			{"of another version", strings.Replace(valid, `"version":1`, `"version":2`, 1), "version 2"},
			{"another card's", string(other), "another card"},
			{"without an owner", strings.Replace(valid, `"owner":`, `"owner":"","x":`, 1), "no owner"},
			{"of a third conversation type", strings.Replace(valid, `"conversationType":"2"`, `"conversationType":"3"`, 1), "conversation type"},
		} {
			t.Run(c.what, func(t *testing.T) {
				day := fmt.Sprint(20261120 + len(c.what)%3) // a day Find reads
				p := path.Join(cardsDir, day, cardName("card-"+c.what))
				if err := objects.Create(ctx, p, []byte(strings.ReplaceAll(c.content, "card-1", "card-"+c.what))); err != nil {
					t.Fatal(err)
				}
				_, err := cards.Find(ctx, "card-"+c.what, now)
				if !errors.Is(err, ErrUnusableRecord) || errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.why) {
					t.Errorf("Find = %v; want an error wrapping ErrUnusableRecord naming %s and saying %q", err, p, c.why)
				}
			})
		}
		// The card's good record on another day wins over a broken one.
		if err := objects.Create(ctx, path.Join(cardsDir, "20261122", cardName("card-1")), []byte("{")); err != nil {
			t.Fatal(err)
		}
		if err := objects.Create(ctx, path.Join(cardsDir, "20261121", cardName("card-1")), []byte(valid)); err != nil {
			t.Fatal(err)
		}
		if got, err := cards.Find(ctx, "card-1", now); err != nil || got.MessageID != "msg-cid-1-alice" {
			t.Errorf("a good record beside a broken one: %+v, %v", got, err)
		}
	})
}

func TestACardThatCannotBeReadForNowIsNotTakenForUnknown(t *testing.T) {
	objects := &flakyObjects{Objects: MountAt(t, t.TempDir()), failing: cardsDir}
	cards := NewCards(objects, Config{})
	_, err := cards.Find(t.Context(), "card-1", time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	if err == nil || errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "503") {
		t.Errorf("with the bucket failing: %v; want its failure, not an unknown card", err)
	}
}

func TestKeepRefusesWhatItCouldNotReadBack(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		cards := NewCards(objects, Config{})
		now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		good := askedIn("cid-1", "alice", now)
		for what, c := range map[string]struct {
			id  string
			rec func(r *chat.CardRecord)
			at  time.Time
		}{
			"an empty outTrackId":     {"", nil, now},
			"no message":              {"card", func(r *chat.CardRecord) { r.MessageID = "" }, now},
			"no owner":                {"card", func(r *chat.CardRecord) { r.Owner = "" }, now},
			"no conversation type":    {"card", func(r *chat.CardRecord) { r.ConversationType = "" }, now},
			"an id that is not UTF-8": {"card", func(r *chat.CardRecord) { r.ConversationID = "cid-\xff" }, now},
			"a card id not UTF-8":     {"card-\xff", nil, now},
			"a zero time":             {"card", nil, time.Time{}},
			"a year of five digits":   {"card", nil, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
			"a record too large":      {"card", func(r *chat.CardRecord) { r.SenderID = strings.Repeat("x", MaxCardRecordBytes) }, now},
		} {
			rec := good
			if c.rec != nil {
				c.rec(&rec)
			}
			if err := cards.Keep(t.Context(), c.id, rec, c.at); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("%s: %v; want ErrInvalidArgument", what, err)
			}
		}
		if names, err := objects.List(t.Context(), cardsDir, 0); err != nil || len(names) != 0 {
			t.Errorf("refused cards left %v, %v", names, err)
		}
	})
}

func TestCardsOfDaysPastCardsKeptGoAFewFilesAKeep(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		ctx := t.Context()
		now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		cards := NewCards(objects, Config{})
		old, kept := now.Add(-CardsKept-24*time.Hour), now.Add(-CardsKept+time.Hour)
		for i := range 5 {
			if err := cards.Keep(ctx, fmt.Sprint("old-", i), askedIn("cid-1", "alice", old), old); err != nil {
				t.Fatal(err)
			}
		}
		if err := cards.Keep(ctx, "kept", askedIn("cid-1", "alice", kept), kept); err != nil {
			t.Fatal(err)
		}
		if err := NewRegistrations(objects).MarkRegistered(ctx, "route|url|secret-hash"); err != nil {
			t.Fatal(err)
		}
		oldDay := old.UTC().Format("20060102")
		left := func() int {
			names, err := objects.List(ctx, path.Join(cardsDir, oldDay), 0)
			if err != nil {
				t.Fatal(err)
			}
			return len(names)
		}
		// Each card kept now removes at most pruneBatch old cards, then
		// the emptied day.
		for i, want := range []int{3, 1, 0, 0} {
			if err := cards.Keep(ctx, fmt.Sprint("new-", i), askedIn("cid-1", "bob", now), now); err != nil {
				t.Fatal(err)
			}
			if got := left(); got != want {
				t.Fatalf("after the %d-th card kept now, %d old cards are left; want %d", i+1, got, want)
			}
		}
		days, err := objects.List(ctx, cardsDir, 0)
		if want := []string{kept.Format("20060102"), now.Format("20060102"), "registered"}; err != nil || !slices.Equal(days, want) {
			t.Errorf("cards/v1 holds %v, %v; want %v", days, err, want)
		}
		if _, err := cards.Find(ctx, "kept", now); err != nil {
			t.Errorf("a card within CardsKept was removed: %v", err)
		}
		if ok, err := NewRegistrations(objects).Registered(ctx, "route|url|secret-hash"); err != nil || !ok {
			t.Errorf("pruning the cards removed the registration: %v, %v", ok, err)
		}
	})
}
