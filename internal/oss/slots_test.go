package oss_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/bucket"
)

// Through OSS's API (x-oss-forbid-overwrite), the slots of a daily limit
// hold across instances: ten stores, as ten instances would have, each
// take a slot for their own question at once.
func TestDailyLimitSlotsHoldAcrossInstancesThroughTheAPI(t *testing.T) {
	b := newBucket(t, role)
	ctx := t.Context()
	var won []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 10 {
		q := bucket.NewQuestions(b.api)
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := fmt.Sprintf("msg-%d", i)
			taken, err := q.Take(ctx, "staff\x00alice", "20261201", msg, 2)
			if err != nil {
				t.Errorf("Take(%s): %v", msg, err)
			}
			if taken {
				mu.Lock()
				won = append(won, msg)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(won) != 2 {
		t.Fatalf("%d of 10 questions took a slot with a limit of 2: %v", len(won), won)
	}
	slices.Sort(won)

	q := bucket.NewQuestions(b.api)
	if taken, err := q.Take(ctx, "staff\x00alice", "20261201", won[1], 2); err != nil || !taken {
		t.Errorf("a redelivered winner on another instance: taken %v, %v", taken, err)
	}
	if err := q.GiveBack(ctx, "staff\x00alice", "20261201", won[0]); err != nil {
		t.Fatal(err)
	}
	if taken, err := q.Take(ctx, "staff\x00alice", "20261201", "msg-again", 2); err != nil || !taken {
		t.Errorf("a question after a give-back: taken %v, %v", taken, err)
	}
	if taken, err := q.Take(ctx, "staff\x00alice", "20261201", "msg-late", 2); err != nil || taken {
		t.Errorf("a question with every slot held: taken %v, %v", taken, err)
	}
	if d, err := q.Day(ctx, "staff\x00alice", "20261201"); err != nil || d.Taken != 2 {
		t.Errorf("the day: %+v, %v; want 2 taken", d, err)
	}
}
