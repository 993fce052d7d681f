package bucket

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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
	r := NewReceipts(MountAt(t, root), Config{Now: func() time.Time { return *now }})
	return r, root
}

func TestReceiptsFollowAMessageToDelivery(t *testing.T) {
	now := testClock
	r, _ := newReceipts(t, &now)
	ctx := context.Background()
	m := chat.Message{ID: "msg-1", CreatedAt: now.Add(-time.Minute)}

	if rec, err := r.get(ctx, m); err != nil || rec != (chat.Receipt{}) {
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
	rec, err := r.get(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if want := (chat.Receipt{Answer: "答案", Answered: true, PartsSent: 2}); rec != want {
		t.Errorf("receipt %+v, want %+v (the first answer kept)", rec, want)
	}
	if err := r.MarkDelivered(ctx, m); err != nil {
		t.Fatal(err)
	}
	if rec, err := r.get(ctx, m); err != nil || !rec.Delivered {
		t.Errorf("not delivered: %+v %v", rec, err)
	}
	// The same id on another day is another message.
	other := m
	other.CreatedAt = m.CreatedAt.Add(-48 * time.Hour)
	if rec, err := r.get(ctx, other); err != nil || rec.Answered {
		t.Errorf("receipts leak across days: %+v %v", rec, err)
	}
}

func TestClaimsKeepOneAttemptAtATime(t *testing.T) {
	now := testClock
	r, _ := newReceipts(t, &now)
	ctx := context.Background()
	m := chat.Message{ID: "msg-1", CreatedAt: now}
	first := chat.Attempt{RequestID: "req-1", Retry: 0, Instance: "i-a"}
	duplicate := chat.Attempt{RequestID: "req-1", Retry: 0, Instance: "i-b"}
	retry := chat.Attempt{RequestID: "req-1", Retry: 1, Instance: "i-b"}
	other := chat.Attempt{RequestID: "req-2", Instance: "i-c"}

	claim := func(a chat.Attempt) (chat.Attempt, bool) {
		t.Helper()
		_, holder, ok, err := r.Claim(ctx, m, a, time.Minute)
		if err != nil {
			t.Fatalf("claim for %v: %v", a, err)
		}
		return holder, ok
	}
	if _, ok := claim(first); !ok {
		t.Fatal("the first claim was refused")
	}
	if _, ok := claim(first); !ok {
		t.Error("the holder was refused its own claim")
	}
	if holder, ok := claim(duplicate); ok || holder != first {
		t.Errorf("a second delivery of the attempt at once: claimed %v, holder %v; want it left to %v", ok, holder, first)
	}
	if holder, ok := claim(other); ok || holder != first {
		t.Errorf("another invocation took a fresh claim (holder %v)", holder)
	}
	// FC retries only an attempt that has ended: its retry takes over at
	// once, without waiting for the claim to go stale.
	if _, ok := claim(retry); !ok {
		t.Error("FC's retry of a dead attempt was refused")
	}
	if _, ok := claim(first); ok {
		t.Error("the dead attempt took its claim back from its retry")
	}
	now = now.Add(2 * time.Minute)
	if _, ok := claim(other); !ok {
		t.Error("a stale claim was not taken over")
	}
	if err := r.Release(ctx, m, retry); err != nil {
		t.Fatal(err)
	}
	if _, ok := claim(first); ok {
		t.Error("a release by a former holder freed the claim")
	}
	if err := r.Release(ctx, m, other); err != nil {
		t.Fatal(err)
	}
	if _, ok := claim(duplicate); !ok {
		t.Error("a released claim could not be taken")
	}
}

func TestOfManyAttemptsClaimingAtOnceOneWins(t *testing.T) {
	now := testClock
	r, _ := newReceipts(t, &now)
	m := chat.Message{ID: "msg-1", CreatedAt: now}
	for round := range 20 {
		m.ID = fmt.Sprint("msg-", round)
		var wg sync.WaitGroup
		var won atomic.Int32
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, ok, err := r.Claim(t.Context(), m, chat.Attempt{RequestID: "req", Instance: fmt.Sprint("i-", i)}, time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					won.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := won.Load(); n != 1 {
			t.Fatalf("round %d: %d of 8 simultaneous deliveries hold the claim", round, n)
		}
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
	if rec, err := r.get(ctx, old); err != nil || rec.Answered {
		t.Errorf("receipts older than the retention were kept: %+v %v", rec, err)
	}
	if rec, err := r.get(ctx, fresh); err != nil || !rec.Answered || !rec.Delivered {
		t.Errorf("a fresh receipt was pruned: %+v %v", rec, err)
	}
	// The old day's folder goes once it is empty, at the next delivery.
	if err := r.MarkDelivered(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if days, err := os.ReadDir(filepath.Join(root, "messages", "v1")); err != nil || len(days) != 1 {
		t.Errorf("days left %v (%v); want only today's", days, err)
	}
}

func TestPruningRemovesOneOldMessagePerDeliveryUntilTheOldDaysAreGone(t *testing.T) {
	now := testClock
	r, root := newReceipts(t, &now)
	ctx := context.Background()
	const old = 13
	for i := range old {
		m := chat.Message{ID: fmt.Sprint("old-", i), CreatedAt: now.Add(-4 * 24 * time.Hour)}
		if err := r.SaveAnswer(ctx, m, "x"); err != nil {
			t.Fatal(err)
		}
	}
	// A message without a createAt: its age is not known, so it stays.
	undated := chat.Message{ID: "undated"}
	if err := r.SaveAnswer(ctx, undated, "x"); err != nil {
		t.Fatal(err)
	}
	oldDay := filepath.Join(root, "messages", "v1", now.Add(-4*24*time.Hour).Format("20060102"))
	left := func() int {
		entries, err := os.ReadDir(oldDay)
		if errors.Is(err, fs.ErrNotExist) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	fresh := chat.Message{ID: "fresh", CreatedAt: now}
	for delivery := 1; delivery <= old; delivery++ {
		before := left()
		if err := r.MarkDelivered(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		if removed := before - left(); removed != 1 {
			t.Fatalf("delivery %d removed %d old messages; want exactly one", delivery, removed)
		}
	}
	if err := r.MarkDelivered(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(oldDay); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the emptied day's folder stays: %v", err)
	}
	if rec, err := r.get(ctx, undated); err != nil || !rec.Answered {
		t.Errorf("the undated message was pruned: %+v %v", rec, err)
	}
}

// flakyObjects fails with a passing error every read of a path that holds
// failing, while failing is set.
type flakyObjects struct {
	Objects
	failing string
}

func (f *flakyObjects) Read(ctx context.Context, p string) ([]byte, error) {
	if f.failing != "" && strings.Contains(p, f.failing) {
		return nil, errors.New("HTTP 503: service unavailable")
	}
	return f.Objects.Read(ctx, p)
}

func TestAClaimThatCannotBeReadForNowIsNotTaken(t *testing.T) {
	now := testClock
	root := t.TempDir()
	objects := &flakyObjects{Objects: MountAt(t, root)}
	r := NewReceipts(objects, Config{Now: func() time.Time { return now }})
	ctx := context.Background()
	m := chat.Message{ID: "msg-1", CreatedAt: now}
	first := chat.Attempt{RequestID: "req-1", Instance: "i-a"}
	if _, _, ok, err := r.Claim(ctx, m, first, time.Minute); !ok || err != nil {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if err := r.SaveAnswer(ctx, m, "答"); err != nil {
		t.Fatal(err)
	}
	objects.failing = "/claim-"
	_, _, ok, err := r.Claim(ctx, m, chat.Attempt{RequestID: "req-2", Instance: "i-b"}, time.Minute)
	if ok || err == nil {
		t.Errorf("with the claim unreadable for now: claimed %v, err %v; want an error and the claim left alone", ok, err)
	}
	objects.failing = "/"
	if _, err := r.get(ctx, m); err == nil {
		t.Error("an answer unreadable for now was taken for none: the model would be asked again")
	}
	objects.failing = ""
	if _, holder, ok, err := r.Claim(ctx, m, chat.Attempt{RequestID: "req-2", Instance: "i-b"}, time.Minute); ok || err != nil || holder != first {
		t.Errorf("after the failure: claimed %v, holder %v, %v; want the first attempt still holding", ok, holder, err)
	}
}

func TestAClaimHoldsWhileRenewedAndRunsOutWhenNot(t *testing.T) {
	now := testClock
	r, root := newReceipts(t, &now)
	ctx := context.Background()
	m := chat.Message{ID: "msg-1", CreatedAt: now}
	first := chat.Attempt{RequestID: "req-1", Instance: "i-a"}
	other := chat.Attempt{RequestID: "req-2", Instance: "i-b"}
	const lease = 30 * time.Second
	held := func() chat.Attempt {
		t.Helper()
		_, holder, ok, err := r.Holder(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return chat.Attempt{}
		}
		return holder
	}
	if _, _, ok, err := r.Claim(ctx, m, first, lease); !ok || err != nil {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	now = now.Add(20 * time.Second)
	if err := r.Renew(ctx, m, first, lease); err != nil {
		t.Fatalf("renew: %v", err)
	}
	now = now.Add(29 * time.Second) // 49 s after the claim, 29 after the renewal
	if h := held(); h != first {
		t.Errorf("a renewed claim holds %v; want %v", h, first)
	}
	if _, holder, ok, err := r.Claim(ctx, m, other, lease); ok || err != nil || holder != first {
		t.Errorf("another invocation took a renewed claim: %v %v %v", ok, holder, err)
	}
	now = now.Add(time.Second)
	if h := held(); h != (chat.Attempt{}) {
		t.Errorf("a claim a lease past its last renewal still holds %v", h)
	}
	if _, _, ok, err := r.Claim(ctx, m, other, lease); !ok || err != nil {
		t.Fatalf("a claim whose lease ran out was not taken over: %v %v", ok, err)
	}
	if err := r.Renew(ctx, m, first, lease); !errors.Is(err, chat.ErrNotHeld) {
		t.Errorf("the holder whose claim was taken over renewed it: %v; want chat.ErrNotHeld", err)
	}

	// A renewal whose write landed though its answer was lost, tried
	// again, finds its own generation and holds.
	dir, _ := r.messageDir(m)
	gen, _ := newestClaim(mustList(t, r, dir))
	if err := r.writeClaim(ctx, dir, gen+1, claimRecord{Holder: other, LeaseMillis: lease.Milliseconds()}); err != nil {
		t.Fatal(err)
	}
	if err := r.Renew(ctx, m, other, lease); err != nil {
		t.Errorf("renewing after a write that landed unanswered: %v", err)
	}
	// Another process of the same holder (no memory of the generation)
	// renews from the listing.
	again := NewReceipts(MountAt(t, root), Config{Now: func() time.Time { return now }})
	if err := again.Renew(ctx, m, other, lease); err != nil {
		t.Errorf("renewing without the generation in memory: %v", err)
	}
	if err := again.Renew(ctx, m, first, lease); !errors.Is(err, chat.ErrNotHeld) {
		t.Errorf("a former holder renewed from the listing: %v", err)
	}
}

func TestAClaimWrittenBeforeLeasesHoldsFiveMinutes(t *testing.T) {
	now := testClock
	r, _ := newReceipts(t, &now)
	ctx := context.Background()
	m := chat.Message{ID: "msg-1", CreatedAt: now}
	old := chat.Attempt{RequestID: "req-1", Instance: "i-a"}
	dir, _ := r.messageDir(m)
	if err := r.writeClaim(ctx, dir, 0, claimRecord{Holder: old}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(4*time.Minute + 59*time.Second)
	if _, holder, ok, err := r.Claim(ctx, m, chat.Attempt{RequestID: "req-2"}, time.Second); ok || err != nil || holder != old {
		t.Errorf("an unleased claim was taken before five minutes: %v %v %v", ok, holder, err)
	}
	now = now.Add(time.Second)
	if _, _, ok, err := r.Claim(ctx, m, chat.Attempt{RequestID: "req-2"}, time.Second); !ok || err != nil {
		t.Errorf("an unleased claim five minutes old was not taken: %v %v", ok, err)
	}
}

func mustList(t *testing.T, r *Receipts, dir string) []string {
	t.Helper()
	names, err := r.objects.List(context.Background(), dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestAnAnswerKeptForOneConversationIsNotCarriedToAnother(t *testing.T) {
	now := testClock
	r, _ := newReceipts(t, &now)
	ctx := t.Context()
	genuine := chat.Message{ID: "msg-1", ConversationID: "cid-group", ConversationType: chat.GroupChat, CreatedAt: now}
	if err := r.SaveAnswer(ctx, genuine, "群里的回答"); err != nil {
		t.Fatal(err)
	}
	// A forged callback reuses the message id, in a one-to-one chat with
	// the group's id, before the answer went out.
	for _, forged := range []chat.Message{
		{ID: "msg-1", ConversationID: "cid-group", ConversationType: chat.SingleChat, CreatedAt: now},
		{ID: "msg-1", ConversationID: "cid-attacker", ConversationType: chat.SingleChat, CreatedAt: now},
	} {
		rec, _, claimed, err := r.Claim(ctx, forged, chat.Attempt{RequestID: "forged"}, time.Minute)
		if err != nil || claimed || rec.Answer != "" || !rec.Delivered {
			t.Errorf("a forged %+v: receipt %+v, claimed %v, %v; want it done, without the answer", forged, rec, claimed, err)
		}
	}
	rec, _, claimed, err := r.Claim(ctx, genuine, chat.Attempt{RequestID: "genuine"}, time.Minute)
	if err != nil || !claimed || rec.Answer != "群里的回答" {
		t.Errorf("the real message: receipt %+v, claimed %v, %v", rec, claimed, err)
	}
}
