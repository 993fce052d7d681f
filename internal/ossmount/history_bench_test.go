package ossmount_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

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
