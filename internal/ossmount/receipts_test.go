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

func newReceipts(t *testing.T, now func() time.Time) (*Receipts, string) {
	t.Helper()
	root := t.TempDir()
	r, err := NewReceipts(root, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return r, root
}

func TestReceiptsFollowAMessageToDelivery(t *testing.T) {
	r, _ := newReceipts(t, nil)
	ctx := context.Background()
	m := chat.Message{ID: "msg-1", CreatedAt: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}

	if rec, err := r.Get(ctx, m); err != nil || rec != (chat.Receipt{}) {
		t.Fatalf("new message: %+v %v", rec, err)
	}
	if err := r.SaveAnswer(ctx, m, "答案"); err != nil {
		t.Fatal(err)
	}
	if err := r.SaveAnswer(ctx, m, "another answer"); err != nil {
		t.Fatal(err)
	}
	r.MarkSent(ctx, m, 0)
	r.MarkSent(ctx, m, 1)
	rec, _ := r.Get(ctx, m)
	if want := (chat.Receipt{Answer: "答案", Answered: true, PartsSent: 2}); rec != want {
		t.Errorf("receipt %+v, want %+v (the first answer kept)", rec, want)
	}
	r.MarkDelivered(ctx, m)
	if rec, _ := r.Get(ctx, m); !rec.Delivered {
		t.Error("not delivered")
	}
	// The same id on another day is another message.
	other := m
	other.CreatedAt = m.CreatedAt.Add(48 * time.Hour)
	if rec, _ := r.Get(ctx, other); rec.Answered {
		t.Error("receipts leak across days")
	}
}

func TestClaimsKeepOneInvocationAtATime(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	r, _ := newReceipts(t, func() time.Time { return now })
	ctx := context.Background()
	m := chat.Message{ID: "msg-1", CreatedAt: now}

	if ok, err := r.Claim(ctx, m, "inv-a", time.Minute); !ok || err != nil {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if ok, _ := r.Claim(ctx, m, "inv-a", time.Minute); !ok {
		t.Error("the holder's retry was refused")
	}
	if ok, _ := r.Claim(ctx, m, "inv-b", time.Minute); ok {
		t.Error("a second invocation took a fresh claim")
	}
	now = now.Add(2 * time.Minute)
	if ok, _ := r.Claim(ctx, m, "inv-b", time.Minute); !ok {
		t.Error("a stale claim was not taken over")
	}
	if err := r.Release(ctx, m, "inv-a"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := r.Claim(ctx, m, "inv-c", time.Minute); ok {
		t.Error("a release by a former holder freed inv-b's claim")
	}
	r.Release(ctx, m, "inv-b")
	if ok, _ := r.Claim(ctx, m, "inv-c", time.Minute); !ok {
		t.Error("a released claim could not be taken")
	}
}

func TestReceiptPathsAreSafeAndOldDaysPruned(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	r, root := newReceipts(t, func() time.Time { return now })
	ctx := context.Background()
	old := chat.Message{ID: "../../../etc/passwd\x00", CreatedAt: now.Add(-5 * 24 * time.Hour)}
	r.SaveAnswer(ctx, old, "x")
	fresh := chat.Message{ID: strings.Repeat("界", 2000), CreatedAt: now}
	r.SaveAnswer(ctx, fresh, "y")
	filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if rel, _ := filepath.Rel(root, path); strings.HasPrefix(rel, "..") || len(info.Name()) > 64 {
			t.Errorf("unsafe path %s", path)
		}
		return nil
	})
	r.MarkDelivered(ctx, fresh)
	if rec, _ := r.Get(ctx, old); rec.Answered {
		t.Error("receipts older than the retention were kept")
	}
	if rec, _ := r.Get(ctx, fresh); !rec.Answered || !rec.Delivered {
		t.Error("a fresh receipt was pruned")
	}
}
