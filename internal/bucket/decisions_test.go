package bucket

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"sync"
	"testing"
	"time"
)

func TestTheFirstDecisionAfterTheQuestionWins(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		d := NewDecisions(objects)
		ctx := t.Context()
		asked := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		if decided, _, err := d.DecidedSince(ctx, "alice", asked, []string{"u1"}); err != nil || decided {
			t.Fatalf("before any decision: %v, %v", decided, err)
		}
		// A refusal of an earlier question, then an approval and a refusal
		// of this one.
		for _, c := range []struct {
			at      time.Duration
			approve bool
		}{{-time.Second, false}, {3 * time.Second, true}, {5 * time.Second, false}} {
			if err := d.Decide(ctx, "alice", "u1", asked.Add(c.at), c.approve); err != nil {
				t.Fatal(err)
			}
		}
		other := NewDecisions(objects) // the instance whose answer waits
		for _, c := range []struct {
			owner            string
			since            time.Time
			decided, approve bool
		}{
			{"alice", asked, true, true},
			{"alice", asked.Add(3 * time.Second), true, false}, // the approval itself is not after
			{"alice", asked.Add(5 * time.Second), false, false},
			{"bob", asked, false, false},
		} {
			decided, approve, err := other.DecidedSince(ctx, c.owner, c.since, []string{"u1"})
			if err != nil || decided != c.decided || approve != c.approve {
				t.Errorf("%s since %v: decided %v, approve %v, %v; want %v, %v", c.owner, c.since, decided, approve, err, c.decided, c.approve)
			}
		}
		// The same decision delivered again is no error; an approval and
		// a refusal in the same millisecond: the refusal wins.
		if err := d.Decide(ctx, "alice", "u1", asked.Add(3*time.Second), true); err != nil {
			t.Errorf("a decision written again: %v", err)
		}
		for _, approve := range []bool{true, false} {
			if err := d.Decide(ctx, "carol", "u1", asked.Add(time.Second), approve); err != nil {
				t.Fatal(err)
			}
		}
		if decided, approve, err := other.DecidedSince(ctx, "carol", asked, []string{"u1"}); err != nil || !decided || approve {
			t.Errorf("an approval and a refusal in one millisecond: decided %v, approve %v, %v; want refused", decided, approve, err)
		}
		for _, err := range []error{d.Decide(ctx, "", "u1", asked, true), func() error { _, _, err := d.DecidedSince(ctx, "", asked, []string{"u1"}); return err }()} {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("an empty owner: %v; want ErrInvalidArgument", err)
			}
		}
	})
}

func TestOfTwoDecisionsAtOnceTheEarliestWinsForEveryone(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		asked := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		for round := range 6 {
			owner := fmt.Sprint("owner-", round)
			first := round%2 == 0 // what the earlier press decides
			var wg sync.WaitGroup
			for i, approve := range []bool{first, !first, !first, first} {
				wg.Go(func() {
					// Each press on an instance of its own, the first one
					// pressed a millisecond before the others.
					if err := NewDecisions(objects).Decide(t.Context(), owner, "u1", asked.Add(time.Duration(1+min(i, 1))*time.Millisecond), approve); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			for reader := range 3 {
				decided, approve, err := NewDecisions(objects).DecidedSince(t.Context(), owner, asked, []string{"u1"})
				if err != nil || !decided || approve != first {
					t.Errorf("round %d, reader %d: decided %v, approve %v, %v; want the earliest, approve %v", round, reader, decided, approve, err, first)
				}
			}
		}
	})
}

func TestDecidedSinceIsOneListing(t *testing.T) {
	objects, srv := APIAt(t, t.TempDir())
	d := NewDecisions(objects)
	asked := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	if err := d.Decide(t.Context(), "alice", "u1", asked.Add(time.Second), true); err != nil {
		t.Fatal(err)
	}
	srv.ResetRequests()
	if decided, approve, err := d.DecidedSince(t.Context(), "alice", asked, []string{"u1"}); err != nil || !decided || !approve {
		t.Fatalf("decided %v, approve %v, %v", decided, approve, err)
	}
	if got, want := srv.Requests(), map[string]int{"ListObjectsV2": 1}; !maps.Equal(got, want) {
		t.Errorf("DecidedSince made %v; want one listing", got)
	}
}

func TestADecisionRemovesThoseOlderThanADayAndStrayNamesDecideNothing(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		d := NewDecisions(objects)
		ctx := t.Context()
		first := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		dir := d.folder("alice")
		for _, name := range []string{
			formatMillis(millis(first.Add(time.Minute))) + "-x.json",
			formatMillis(millis(first.Add(time.Minute))) + "-Y.json",
			formatMillis(millis(first.Add(time.Minute))) + "-y.json.tmp",
			formatMillis(millis(first.Add(time.Minute)))[1:] + "-y.json",
			"+" + formatMillis(millis(first.Add(time.Minute)))[1:] + "-n.json",
			"9999999999999999.json",
		} {
			if err := objects.Create(ctx, path.Join(dir, name), []byte(`{"version":1}`)); err != nil {
				t.Fatal(err)
			}
		}
		if decided, _, err := d.DecidedSince(ctx, "alice", first, []string{"u1"}); err != nil || decided {
			t.Errorf("names that are not decisions decided: %v, %v", decided, err)
		}
		for _, at := range []time.Time{first, first.Add(time.Hour), first.Add(DecisionsKept + 30*time.Minute)} {
			if err := d.Decide(ctx, "alice", "u1", at, true); err != nil {
				t.Fatal(err)
			}
		}
		names, err := objects.List(ctx, dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		decisions := 0
		for _, n := range names {
			if _, ok := decisionMillis(n); ok {
				decisions++
			}
		}
		if decisions != 2 || len(names) != 8 {
			t.Errorf("%d decisions and %d names kept; want the one older than %v gone, two left, and the stray names alone", decisions, len(names), DecisionsKept)
		}
	})
}

// Only the decisions of those who may decide count: another member's
// press or \yes decides nothing, and the one that may decide still does.
func TestOnlyTheDecidersDecisionsCount(t *testing.T) {
	eachWay(t, func(t *testing.T, objects Objects) {
		ctx := t.Context()
		d := NewDecisions(objects)
		asked := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		if err := d.Decide(ctx, "group-1", "bystander", asked.Add(time.Second), true); err != nil {
			t.Fatal(err)
		}
		if decided, _, err := d.DecidedSince(ctx, "group-1", asked, []string{"admin"}); err != nil || decided {
			t.Errorf("a bystander's yes decided for the admin: %v, %v", decided, err)
		}
		if err := d.Decide(ctx, "group-1", "admin", asked.Add(2*time.Second), false); err != nil {
			t.Fatal(err)
		}
		if decided, approve, err := d.DecidedSince(ctx, "group-1", asked, []string{"admin", "other-admin"}); err != nil || !decided || approve {
			t.Errorf("the admin's no: decided %v, approve %v, %v", decided, approve, err)
		}
	})
}
