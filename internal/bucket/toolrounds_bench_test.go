package bucket_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/bucket"
	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// BenchmarkRecordRound is what keeping a message's tool calls once costs
// through the OSS API (OSS_BUCKET set), against the local OSS-compatible
// server: a round of read-only tools (calls and results in one create), a
// round of other tools (the calls before they are made, then the round:
// two creates, one after the other), and a retry replaying three recorded
// rounds (ToolRounds: one listing, then the reads at once). Each op is a
// new message; the metrics are the requests of each kind per op, every one
// a bucket round trip, so that ns/op at a real bucket's round trip is
// about these counts times it (the writes serial, the replay's reads not).
// The round is a realistic one: two searches in one turn, their results
// cut to a few KB each.
func BenchmarkRecordRound(b *testing.B) {
	round := chat.ToolRound{
		Reasoning: "用户问的是今天的新闻，需要搜索两次。",
		Calls: []chat.ToolCall{
			{ID: "call_0", Name: "web_search", Arguments: `{"query":"杭州 今日新闻"}`},
			{ID: "call_1", Name: "mcp_docs__search", Arguments: `{"q":"报销流程"}`},
		},
		Results: []chat.ToolResult{
			{CallID: "call_0", Name: "web_search", Content: strings.Repeat("[某新闻标题](https://example.com/news/1) 摘要：今天杭州发生的事情。\n", 40)},
			{CallID: "call_1", Name: "mcp_docs__search", Content: strings.Repeat("报销需在三十日内提交发票与审批单。", 100)},
		},
	}
	for _, c := range []struct {
		name string
		// setup is done for each message before the measured op.
		setup func(ctx context.Context, r *bucket.Receipts, m chat.Message) error
		op    func(ctx context.Context, r *bucket.Receipts, m chat.Message) error
	}{
		{name: "read-only", op: func(ctx context.Context, r *bucket.Receipts, m chat.Message) error {
			_, err := r.RecordRound(ctx, m, 0, round)
			return err
		}},
		{name: "not-read-only", op: func(ctx context.Context, r *bucket.Receipts, m chat.Message) error {
			if _, ours, err := r.RecordIntent(ctx, m, 0, round.Calls); err != nil || !ours {
				return fmt.Errorf("intent: ours %v, %w", ours, err)
			}
			_, err := r.RecordRound(ctx, m, 0, round)
			return err
		}},
		{name: "replay-3", setup: func(ctx context.Context, r *bucket.Receipts, m chat.Message) error {
			for n := range 3 {
				if _, err := r.RecordRound(ctx, m, n, round); err != nil {
					return err
				}
			}
			return nil
		}, op: func(ctx context.Context, r *bucket.Receipts, m chat.Message) error {
			rounds, _, err := r.ToolRounds(ctx, m)
			if err == nil && len(rounds) != 3 {
				err = fmt.Errorf("%d rounds read back, want 3", len(rounds))
			}
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			objects, srv := bucket.APIAt(b, b.TempDir())
			// The receipts' clock is the messages' own, as in the tests.
			r := bucket.NewReceipts(objects, bucket.Config{Now: func() time.Time { return base }})
			ctx := context.Background()
			requests := map[string]int{}
			i := 0
			for b.Loop() {
				b.StopTimer()
				m := chat.Message{ID: fmt.Sprint("msg", i), ConversationID: "cid", CreatedAt: base}
				if c.setup != nil {
					if err := c.setup(ctx, r, m); err != nil {
						b.Fatal(err)
					}
				}
				srv.ResetRequests()
				b.StartTimer()
				if err := c.op(ctx, r, m); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				for op, n := range srv.Requests() {
					requests[op] += n
				}
				b.StartTimer()
				i++
			}
			for op, n := range requests {
				b.ReportMetric(float64(n)/float64(i), op+"/op")
			}
		})
	}
}
