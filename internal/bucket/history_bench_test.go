package bucket_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/bucket"
	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// BenchmarkHistoryRead is the history read of the reply path with the
// deployed settings: the default Keep, and the last 5 turns (HISTORY_LENGTH's
// default) of one owner whose turns are of a realistic size, after 10, 1,000
// and 100,000 turns were ever stored. `make bench` checks that the largest
// costs at most 1.5 times the smallest.
//
// Every Save prunes the owner down to Keep files, so after any number of
// saves beyond Keep the disk holds exactly the Keep newest turns: saving the
// last 4*Keep of 100,000 turns leaves the state saving all of them would
// (the files metric shows it), without minutes of synced writes.
func BenchmarkHistoryRead(b *testing.B) {
	const window = 5 // HISTORY_LENGTH's default
	question := strings.Repeat("请帮我看看这段代码为什么会在高并发下丢数据。", 4)
	answer := strings.Repeat("可能的原因是多个实例同时写同一个文件，而挂载的对象存储不提供锁。", 25)
	for _, stored := range []int{10, 1000, 100000} {
		b.Run(fmt.Sprint("stored=", stored), func(b *testing.B) {
			root := b.TempDir()
			h, _ := newHistory(b, root, 0)
			for i := max(stored-200, 0); i < stored; i++ {
				t := turn(fmt.Sprint("msg", i), at(i))
				t.Question, t.Answer = question, answer
				mustSave(b, h, "owner", t)
			}
			ctx := context.Background()
			var turns []chat.Turn
			for b.Loop() {
				var err error
				if turns, err = h.Load(ctx, "owner", window); err != nil {
					b.Fatal(err)
				}
			}
			if len(turns) != min(window, stored) {
				b.Fatalf("loaded %d turns, want %d", len(turns), min(window, stored))
			}
			b.ReportMetric(float64(len(dirNames(b, filepath.Join(ownerDir(root, "owner"), "turns")))), "files")
		})
	}
}

// BenchmarkMessageWrites is the cost of the files the reply function writes
// for one message on the mount, in its order, each a new file created,
// written and closed: before the answer is posted the claim (in a new
// folder for the message), the turn and the kept answer; after it a receipt
// for the part sent and one of delivery. ns/op is the whole; the metrics
// are each step's mean. On FC's OSS mount each file is an upload to OSS
// instead of a local write.
func BenchmarkMessageWrites(b *testing.B) {
	ctx := context.Background()
	root := b.TempDir()
	h, _ := newHistory(b, root, 0)
	// The receipts' clock is the messages' own, as in the tests: on the real
	// clock their day would be past the retention and pruned.
	r := bucket.NewReceipts(bucket.MountAt(b, root), bucket.Config{Now: func() time.Time { return base }})
	answer := strings.Repeat("可能的原因是多个实例同时写同一个文件，而挂载的对象存储不提供锁。", 25)
	steps := []string{"claim", "turn", "answer", "sent", "delivered"}
	spent := make([]time.Duration, len(steps))
	i := 0
	for b.Loop() {
		m := chat.Message{ID: fmt.Sprint("msg", i), CreatedAt: at(i)}
		t := turn(m.ID, m.CreatedAt)
		t.Answer = answer
		for s, write := range []func() error{
			func() error {
				_, _, _, err := r.Claim(ctx, m, chat.Attempt{RequestID: "req", Instance: "bench"}, time.Minute)
				return err
			},
			func() error { return h.Save(ctx, "owner", t) },
			func() error { return r.SaveAnswer(ctx, m, answer) },
			func() error { return r.MarkSent(ctx, m, 0) },
			func() error { return r.MarkDelivered(ctx, m) },
		} {
			start := time.Now()
			if err := write(); err != nil {
				b.Fatalf("%s: %v", steps[s], err)
			}
			spent[s] += time.Since(start)
		}
		i++
	}
	for s, name := range steps {
		b.ReportMetric(float64(spent[s].Nanoseconds())/float64(i), name+"-ns")
	}
}

// BenchmarkReceiptsPerMessage is the cost of one message's receipts (claim,
// answer, part sent, delivered) with a step of pruning each time, as the
// receipts of days past the retention grow from 10 to 100,000 messages: a
// bounded step costs the same whatever is stored.
func BenchmarkReceiptsPerMessage(b *testing.B) {
	for _, stored := range []int{10, 1_000, 100_000} {
		b.Run(fmt.Sprintf("stored=%d", stored), func(b *testing.B) {
			root := memoryDir(b)
			now := base
			old := now.Add(-4 * 24 * time.Hour).Format("20060102")
			for i := range stored {
				dir := filepath.Join(root, "messages", "v1", old, fmt.Sprintf("%064x", i))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					b.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "delivered.json"), []byte(`{"version":1}`), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			r := bucket.NewReceipts(bucket.MountAt(b, root), bucket.Config{Now: func() time.Time { return now }})
			ctx := context.Background()
			i := 0
			for b.Loop() {
				// Every message finds a step of pruning due.
				now = now.Add(10 * time.Second)
				m := chat.Message{ID: fmt.Sprint("msg", i), CreatedAt: now}
				if _, _, ok, err := r.Claim(ctx, m, chat.Attempt{RequestID: "req", Instance: "bench"}, time.Minute); err != nil || !ok {
					b.Fatalf("claim: %v %v", ok, err)
				}
				for _, write := range []func() error{
					func() error { return r.SaveAnswer(ctx, m, "答") },
					func() error { return r.MarkSent(ctx, m, 0) },
					func() error { return r.MarkDelivered(ctx, m) },
				} {
					if err := write(); err != nil {
						b.Fatal(err)
					}
				}
				i++
			}
		})
	}
}

// memoryDir is a fresh folder in memory where the machine has one
// (/dev/shm), else on disk: setting up 100,000 stored messages on a slow
// disk would take longer than what is measured.
func memoryDir(b *testing.B) string {
	b.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "bucket-bench-")
	if err != nil {
		return b.TempDir()
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
