package bucket

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestAStopEndsOnlyTheAnswersToEarlierQuestionsOfItsOwner(t *testing.T) {
	s := NewStops(MountAt(t, t.TempDir()))
	ctx := t.Context()
	asked := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	if stopped, err := s.StoppedSince(ctx, "alice", asked); err != nil || stopped {
		t.Fatalf("before any stop: %v %v", stopped, err)
	}
	if err := s.Stop(ctx, "alice", asked.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		owner string
		asked time.Time
		want  bool
	}{
		{"alice", asked, true},
		{"alice", asked.Add(3 * time.Second), false}, // the stop itself
		{"alice", asked.Add(time.Minute), false},     // a later question
		{"bob", asked, false},
	} {
		if got, err := s.StoppedSince(ctx, c.owner, c.asked); err != nil || got != c.want {
			t.Errorf("%s asked at %v: stopped %v, %v; want %v", c.owner, c.asked, got, err, c.want)
		}
	}
	// The same request delivered again is no error.
	if err := s.Stop(ctx, "alice", asked.Add(3*time.Second)); err != nil {
		t.Errorf("a stop written again: %v", err)
	}
}

func TestAStopRemovesTheRequestsOlderThanADay(t *testing.T) {
	root := t.TempDir()
	s := NewStops(MountAt(t, root))
	ctx := t.Context()
	first := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{first, first.Add(time.Hour), first.Add(StopsKept + 30*time.Minute)} {
		if err := s.Stop(ctx, "alice", at); err != nil {
			t.Fatal(err)
		}
	}
	names, err := os.ReadDir(filepath.Join(root, s.folder("alice")))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 {
		t.Errorf("%d requests kept; want the one older than %v gone and two left", len(names), StopsKept)
	}
}
