package reply

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// badges records the badge calls, in order, beside what the outbox had
// delivered by then.
type badges struct {
	mu    sync.Mutex
	out   *outbox
	calls []string
	fail  bool
	// tried is closed once the badge was asked for.
	tried chan struct{}
}

func (b *badges) record(call string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.out.mu.Lock()
	delivered := len(b.out.answers)
	b.out.mu.Unlock()
	b.calls = append(b.calls, call+map[bool]string{true: " after delivery", false: " before delivery"}[delivered > 0])
	if b.fail {
		return errors.New("HTTP 500 system.err")
	}
	return nil
}

func (b *badges) Thinking(context.Context, chat.Message) error {
	defer close(b.tried)
	return b.record("on")
}
func (b *badges) Done(context.Context, chat.Message) error { return b.record("off") }

func TestAQuestionIsBadgedWhileTheModelAnswersIt(t *testing.T) {
	for _, fail := range []bool{false, true} {
		b := &badges{fail: fail, tried: make(chan struct{})}
		// The model answers once the badge was asked for: the badge goes
		// on beside the model, and a model that outran it would leave
		// nothing to see "while it works".
		model := func(ctx context.Context, p chat.Prompt) (string, error) {
			select {
			case <-b.tried:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			return "答：" + p.Question, nil
		}
		f := newFixture(t, model, func(c *testConfig) { c.Reactions = b })
		b.out = f.out
		if err := f.handle(t, "r1", event("m1", "你好", clock)); err != nil {
			t.Fatal(err)
		}
		if got := f.out.last(conversationID); got != "答：你好" {
			t.Errorf("badge failing %v: answered %q", fail, got)
		}
		want := []string{"on before delivery", "off after delivery"}
		if fail {
			want = want[:1] // a badge that did not go on is not taken off
		}
		if len(b.calls) != len(want) || b.calls[0] != want[0] || (len(want) > 1 && b.calls[1] != want[1]) {
			t.Errorf("badge failing %v: calls %v; want %v", fail, b.calls, want)
		}
		if err := f.handle(t, "r2", event("m2", `\help`, clock)); err != nil {
			t.Fatal(err)
		}
		if len(b.calls) != len(want) {
			t.Errorf("a command was badged: %v", b.calls)
		}
	}
}
