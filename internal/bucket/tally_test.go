package bucket

import (
	"context"
	"testing"
	"time"
)

func TestTalliesOfTwoInstancesAddUpPerMonth(t *testing.T) {
	root := t.TempDir()
	// 2026-11-30 23:30 in Shanghai is still November there, but December
	// begins half an hour later.
	now := time.Date(2026, 11, 30, 15, 30, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	a, err := NewTally(MountAt(t, root), TallyConfig{Instance: "A", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewTally(MountAt(t, root), TallyConfig{Instance: "B", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a.Add(3)
	b.Add(4)
	if a.Used() != 3 || b.Used() != 4 {
		t.Errorf("before syncing each sees its own: %d, %d", a.Used(), b.Used())
	}
	for _, tl := range []*Tally{a, b, a} {
		if err := tl.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if a.Used() != 7 {
		t.Errorf("after both synced, A sees %d; want 7", a.Used())
	}
	a.Add(1)
	if a.Used() != 8 {
		t.Errorf("A's own call counts at once: %d, want 8", a.Used())
	}
	// December in Shanghai: a new month starts at nothing.
	now = now.Add(time.Hour)
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if a.Used() != 0 {
		t.Errorf("a new month begins at %d; want 0", a.Used())
	}
	b.Add(2)
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if a.Used() != 2 {
		t.Errorf("December's count %d; want B's 2", a.Used())
	}
	if _, err := NewTally(MountAt(t, root), TallyConfig{Instance: "a-b"}); err == nil {
		t.Error("an instance name with '-' was accepted")
	}
}
