package ossmount

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// testClock is the instant every receipts test starts at. Receipts judge
// claims and prune old days by their clock, so each test hands them one and
// builds every time it uses from it: no result depends on the day it runs.
var testClock = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// newReceipts returns receipts under a fresh root that read the time from
// *now.
func newReceipts(t *testing.T, now *time.Time) (*Receipts, string) {
	t.Helper()
	root := t.TempDir()
	r, err := NewReceipts(root, Config{Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return r, root
}

func TestReceiptsFollowAMessageToDelivery(t *testing.T) {
	now := testClock
	r, _ := newReceipts(t, &now)
	ctx := context.Background()
	m := chat.Message{ID: "msg-1", CreatedAt: now.Add(-time.Minute)}

	if rec, err := r.Get(ctx, m); err != nil || rec != (chat.Receipt{}) {
		t.Fatalf("new message: %+v %v", rec, err)
	}
	if err := r.SaveAnswer(ctx, m, "答案"); err != nil {
		t.Fatal(err)
	}
	if err := r.SaveAnswer(ctx, m, "another answer"); err != nil {
		t.Fatal(err)
	}
	for part := range 2 {
		if err := r.MarkSent(ctx, m, part); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := r.Get(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if want := (chat.Receipt{Answer: "答案", Answered: true, PartsSent: 2}); rec != want {
		t.Errorf("receipt %+v, want %+v (the first answer kept)", rec, want)
	}
	if err := r.MarkDelivered(ctx, m); err != nil {
		t.Fatal(err)
	}
	if rec, err := r.Get(ctx, m); err != nil || !rec.Delivered {
		t.Errorf("not delivered: %+v %v", rec, err)
	}
	// The same id on another day is another message.
	other := m
	other.CreatedAt = m.CreatedAt.Add(-48 * time.Hour)
	if rec, err := r.Get(ctx, other); err != nil || rec.Answered {
		t.Errorf("receipts leak across days: %+v %v", rec, err)
	}
}

func TestClaimsKeepOneInvocationAtATime(t *testing.T) {
	now := testClock
	r, _ := newReceipts(t, &now)
	ctx := context.Background()
	m := chat.Message{ID: "msg-1", CreatedAt: now}

	claim := func(holder string) bool {
		t.Helper()
		ok, err := r.Claim(ctx, m, holder, time.Minute)
		if err != nil {
			t.Fatalf("claim for %s: %v", holder, err)
		}
		return ok
	}
	if !claim("inv-a") {
		t.Fatal("the first claim was refused")
	}
	if !claim("inv-a") {
		t.Error("the holder's retry was refused")
	}
	if claim("inv-b") {
		t.Error("a second invocation took a fresh claim")
	}
	now = now.Add(2 * time.Minute)
	if !claim("inv-b") {
		t.Error("a stale claim was not taken over")
	}
	if err := r.Release(ctx, m, "inv-a"); err != nil {
		t.Fatal(err)
	}
	if claim("inv-c") {
		t.Error("a release by a former holder freed inv-b's claim")
	}
	if err := r.Release(ctx, m, "inv-b"); err != nil {
		t.Fatal(err)
	}
	if !claim("inv-c") {
		t.Error("a released claim could not be taken")
	}
}

func TestReceiptPathsAreSafeAndOldDaysPruned(t *testing.T) {
	now := testClock
	r, root := newReceipts(t, &now)
	ctx := context.Background()
	old := chat.Message{ID: "../../../etc/passwd\x00", CreatedAt: now.Add(-5 * 24 * time.Hour)}
	fresh := chat.Message{ID: strings.Repeat("界", 2000), CreatedAt: now}
	for _, m := range []chat.Message{old, fresh} {
		if err := r.SaveAnswer(ctx, m, "x"); err != nil {
			t.Fatal(err)
		}
	}
	err := filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(root, path); strings.HasPrefix(rel, "..") || len(info.Name()) > 64 {
			t.Errorf("unsafe path %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.MarkDelivered(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if rec, err := r.Get(ctx, old); err != nil || rec.Answered {
		t.Errorf("receipts older than the retention were kept: %+v %v", rec, err)
	}
	if rec, err := r.Get(ctx, fresh); err != nil || !rec.Answered || !rec.Delivered {
		t.Errorf("a fresh receipt was pruned: %+v %v", rec, err)
	}
}
