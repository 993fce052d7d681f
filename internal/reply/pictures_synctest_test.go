package reply

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// gatedModel answers a question once its gate is opened, and counts the
// questions it was asked.
type gatedModel struct {
	mu    sync.Mutex
	asked map[string]bool
	gates map[string]chan struct{}
}

func (g *gatedModel) Complete(_ context.Context, p chat.Prompt) (chat.Completion, error) {
	g.mu.Lock()
	g.asked[p.Question] = true
	gate := g.gates[p.Question]
	g.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return chat.Completion{Text: "看到了：" + p.Question}, nil
}

func (g *gatedModel) Stream(ctx context.Context, p chat.Prompt, _ func(string) error) (chat.Completion, error) {
	return g.Complete(ctx, p)
}

func (g *gatedModel) wasAsked(q string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.asked[q]
}

// Pictures beyond the instance's room wait for those of the messages
// before them to be answered, then are answered in turn.
func TestPicturesBeyondTheInstancesRoomWaitTheirTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		g := &gatedModel{asked: map[string]bool{}, gates: map[string]chan struct{}{"第一张": gate}}
		f := newFixture(t, nil, func(c *testConfig) {
			c.Vision, c.MaxPictureBytes = g, 20<<20
			c.Files = fileStore{"12mb": picture(12<<20, false), "10mb": picture(10<<20, false)}
		})
		send := func(id, question, code string) chan error {
			done := make(chan error, 1)
			ev := event(id, question, clock)
			ev.Message.Type, ev.Message.Pictures = "picture", []string{code}
			ev.Message.SenderID = "sender-" + id
			go func() { done <- f.handle(t, "r-"+id, ev) }()
			return done
		}
		first := send("m1", "第一张", "12mb")
		synctest.Wait()
		if !g.wasAsked("第一张") {
			t.Fatal("the first picture did not reach the model")
		}
		second := send("m2", "第二张", "10mb")
		synctest.Wait()
		if g.wasAsked("第二张") {
			t.Fatal("12 and 10 MB of pictures were held at once, over the instance's 20 MB")
		}
		close(gate)
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		if err := <-second; err != nil {
			t.Fatal(err)
		}
		if !g.wasAsked("第二张") {
			t.Error("the second picture was not answered once the first was")
		}
	})
}
