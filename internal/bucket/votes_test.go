package bucket

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// voteClock is noon in Shanghai on 2026-11-23, the day of the answers
// voted on.
var voteClock = time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)

const voteDay = "20261123"

func newVotes(objects Objects, now *time.Time) *Votes {
	return NewVotes(objects, Config{Now: func() time.Time { return *now }})
}

type tally struct{ likes, dislikes int }

func tallyOf(t *testing.T, v *Votes, day, messageID string) tally {
	t.Helper()
	likes, dislikes, err := v.Tally(t.Context(), day, messageID)
	if err != nil {
		t.Fatal(err)
	}
	return tally{likes, dislikes}
}

func countOf(t *testing.T, v *Votes, day string) tally {
	t.Helper()
	likes, dislikes, err := v.Count(t.Context(), day)
	if err != nil {
		t.Fatal(err)
	}
	return tally{likes, dislikes}
}

func TestEachPersonVotesOnceOnAnAnswer(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		now := voteClock
		v := newVotes(objects, &now)
		ctx := t.Context()
		for _, c := range []struct {
			message, voter string
			like, counted  bool
		}{
			{"msg-1", "alice", true, true},
			{"msg-1", "alice", true, false},  // the same again
			{"msg-1", "alice", false, false}, // changing her mind
			{"msg-1", "bob", false, true},
			{"msg-2", "alice", true, true}, // another answer
			{"msg-2", "carol", true, true},
		} {
			if counted, err := v.Vote(ctx, voteDay, c.message, c.voter, c.like); err != nil || counted != c.counted {
				t.Errorf("%s votes like=%v on %s: counted %v, %v; want %v", c.voter, c.like, c.message, counted, err, c.counted)
			}
		}
		// Another instance counts the same.
		other := newVotes(objects, &now)
		for message, want := range map[string]tally{"msg-1": {1, 1}, "msg-2": {2, 0}, "msg-3": {0, 0}} {
			if got := tallyOf(t, other, voteDay, message); got != want {
				t.Errorf("%s: %+v; want %+v", message, got, want)
			}
		}
		if got := countOf(t, other, voteDay); got != (tally{3, 1}) {
			t.Errorf("the day's count %+v; want 3 likes and 1 dislike", got)
		}
		if got := countOf(t, other, "20261122"); got != (tally{}) {
			t.Errorf("another day's count %+v; want none", got)
		}
		// The same answer id on another day is another answer.
		if counted, err := v.Vote(ctx, "20261122", "msg-1", "alice", false); err != nil || !counted {
			t.Errorf("a vote on the same id another day: %v, %v", counted, err)
		}
	})
}

func TestPressesOfOneVoterAtOnceCountOnce(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		now := voteClock
		for round, mixed := range []bool{false, true, false, true, true} {
			message := fmt.Sprint("msg-", round)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var counted []bool // the vote of each press counted
			for i := range 6 {
				like := !mixed || i%2 == 0
				wg.Go(func() {
					// Each press on an instance of its own.
					ok, err := newVotes(objects, &now).Vote(t.Context(), voteDay, message, "alice", like)
					if err != nil {
						t.Error(err)
					}
					if ok {
						mu.Lock()
						counted = append(counted, like)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(counted) != 1 {
				t.Fatalf("round %d (mixed %v): %d presses at once counted; want one", round, mixed, len(counted))
			}
			want := tally{1, 0}
			if !counted[0] {
				want = tally{0, 1}
			}
			if got := tallyOf(t, newVotes(objects, &now), voteDay, message); got != want {
				t.Errorf("round %d: tally %+v; the press counted was like=%v", round, got, counted[0])
			}
		}
	})
}

func TestCountAndTallyAreOneListingEach(t *testing.T) {
	objects, srv := APIAt(t, t.TempDir())
	now := voteClock
	v := newVotes(objects, &now)
	for i := range 5 {
		if _, err := v.Vote(t.Context(), voteDay, "msg-1", fmt.Sprint("voter-", i), i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
	for name, count := range map[string]func() (int, int, error){
		"Count": func() (int, int, error) { return v.Count(t.Context(), voteDay) },
		"Tally": func() (int, int, error) { return v.Tally(t.Context(), voteDay, "msg-1") },
	} {
		srv.ResetRequests()
		if likes, dislikes, err := count(); err != nil || likes != 3 || dislikes != 2 {
			t.Errorf("%s = %d, %d, %v; want 3 and 2", name, likes, dislikes, err)
		}
		if got, want := srv.Requests(), map[string]int{"ListObjectsV2": 1}; !maps.Equal(got, want) {
			t.Errorf("%s made %v; want one listing and nothing else", name, got)
		}
	}
}

// failingCreates fails the creation of each object whose path ends in
// suffix, while failing is set.
type failingCreates struct {
	Objects
	suffix  string
	failing bool
}

func (f *failingCreates) Create(ctx context.Context, p string, data []byte) error {
	if f.failing && strings.HasSuffix(p, f.suffix) {
		return errors.New("HTTP 503: service unavailable")
	}
	return f.Objects.Create(ctx, p, data)
}

func TestAVoteIsNamedOnceWhateverFailsOnTheWay(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		now := voteClock
		ctx := t.Context()
		// The lock's create landed and its answer was lost: the retry
		// meets its own lock, and the vote counts.
		v := newVotes(lostAnswers{objects}, &now)
		if counted, err := v.Vote(ctx, voteDay, "msg-1", "alice", false); err != nil || !counted {
			t.Errorf("a vote whose lock's answer was lost: counted %v, %v; want counted", counted, err)
		}
		if got := tallyOf(t, v, voteDay, "msg-1"); got != (tally{0, 1}) {
			t.Errorf("tally %+v; want the dislike", got)
		}

		// The lock is made and naming the vote fails: the vote is decided,
		// and the voter's next press, whatever it is, names it.
		failing := &failingCreates{Objects: objects, suffix: "-L.json", failing: true}
		v = newVotes(failing, &now)
		if counted, err := v.Vote(ctx, voteDay, "msg-2", "bob", true); err == nil || counted {
			t.Errorf("naming the vote failed: counted %v, %v; want an error", counted, err)
		}
		if got := tallyOf(t, v, voteDay, "msg-2"); got != (tally{}) {
			t.Errorf("tally %+v before the next press; want none yet", got)
		}
		failing.failing = false
		if counted, err := v.Vote(ctx, voteDay, "msg-2", "bob", false); err != nil || counted {
			t.Errorf("the next press: counted %v, %v; want not counted, no error", counted, err)
		}
		if got := tallyOf(t, v, voteDay, "msg-2"); got != (tally{1, 0}) {
			t.Errorf("tally %+v after the next press; want the first press's like", got)
		}
	})
}

func TestBrokenAndStrayVoteFiles(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		now := voteClock
		ctx := t.Context()
		v := newVotes(objects, &now)
		dir := path.Join(votesDir, voteDay)
		put := func(name, content string) {
			t.Helper()
			if err := objects.Create(ctx, path.Join(dir, name), []byte(content)); err != nil {
				t.Fatal(err)
			}
		}
		// A lock that is not the store's is an error naming it.
		for i, c := range []struct{ content, why string }{
			{`{"version":1,"vote":"` + strings.Repeat("x", maxVoteLockBytes) + `"}`, "larger than"},
			{`{"vote":`, "does not parse"},
			{`{"version":2,"vote":"like"}`, "version 2"},
			{`{"version":1,"vote":"meh"}`, "meh"},
		} {
			voter := fmt.Sprint("voter-", i)
			lock, _, _ := voteNames("msg-1", voter)
			put(lock, c.content)
			_, err := v.Vote(ctx, voteDay, "msg-1", voter, true)
			if !errors.Is(err, ErrUnusableRecord) || !strings.Contains(err.Error(), path.Join(dir, lock)) || !strings.Contains(err.Error(), c.why) {
				t.Errorf("a lock holding %.40q: %v; want an error naming it and saying %q", c.content, err, c.why)
			}
		}
		// An empty lock is one being written on the mount: not counted,
		// no error.
		lock, _, _ := voteNames("msg-1", "empty")
		put(lock, "")
		if counted, err := v.Vote(ctx, voteDay, "msg-1", "empty", true); err != nil || counted {
			t.Errorf("an empty lock: counted %v, %v", counted, err)
		}

		// A voter's like and dislike that both stand (two instances at
		// once through FC's mount) count for neither; names that are not
		// the store's count for nothing.
		_, like, dislike := voteNames("msg-1", "both")
		put(like, `{"version":1}`)
		put(dislike, `{"version":1}`)
		_, like, _ = voteNames("msg-1", "one")
		put(like, `{"version":1}`)
		for _, name := range []string{
			strings.ToUpper(like), strings.Replace(like, "-L", "-X", 1), strings.Replace(like, "-L", "--", 1),
			like + ".tmp", "x" + like[1:len(like)-5] + ".json", "0" + like, "junk.json",
		} {
			put(name, `{"version":1}`)
		}
		if got := tallyOf(t, v, voteDay, "msg-1"); got != (tally{1, 0}) {
			t.Errorf("tally %+v; want only the one voter's like", got)
		}
		if got := countOf(t, v, voteDay); got != (tally{1, 0}) {
			t.Errorf("count %+v; want only the one voter's like", got)
		}
	})
}

func TestVotesRefuseDaysNotKeptAndPruneOldOnes(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		ctx := t.Context()
		then := voteClock.Add(-VotesKept - 24*time.Hour)
		oldDay := then.Add(8 * time.Hour).Format("20060102")
		past := newVotes(objects, &then)
		for i := range 3 {
			if counted, err := past.Vote(ctx, oldDay, "msg-old", fmt.Sprint("voter-", i), true); err != nil || !counted {
				t.Fatalf("a vote %v ago: %v, %v", VotesKept, counted, err)
			}
		}
		now := voteClock
		v := newVotes(objects, &now)
		cutoff := now.Add(8*time.Hour - VotesKept).Format("20060102")
		for _, day := range []string{oldDay, "20261125", "2026-11-23", "", "202611230", "../../x"} {
			if _, err := v.Vote(ctx, day, "msg-1", "alice", true); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("a vote on day %q: %v; want ErrInvalidArgument", day, err)
			}
		}
		for _, day := range []string{cutoff, "20261124"} {
			if counted, err := v.Vote(ctx, day, "msg-1", "alice", true); err != nil || !counted {
				t.Errorf("a vote on day %s, kept at %v: %v, %v", day, now, counted, err)
			}
		}
		// The three old votes are six files: the votes above removed four,
		// the next removes two, the next the emptied day.
		for i := range 2 {
			if _, err := v.Vote(ctx, voteDay, "msg-1", fmt.Sprint("voter-", i), false); err != nil {
				t.Fatal(err)
			}
		}
		days, err := objects.List(ctx, votesDir, 0)
		if want := []string{cutoff, voteDay, "20261124"}; err != nil || !slices.Equal(days, want) {
			t.Errorf("votes/v1 holds %v, %v; want %v", days, err, want)
		}
		if got := countOf(t, v, cutoff); got != (tally{1, 0}) {
			t.Errorf("the oldest day kept: %+v", got)
		}
	})
}
