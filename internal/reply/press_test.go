package reply

import (
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// Until presses are handled, a press event is dropped: no answer, no
// model, no retry.
func TestAPressIsDroppedForNow(t *testing.T) {
	f := newFixture(t, nil)
	p := chat.Press{CardID: "fcrobot-x_0123456789abcdef", UserID: "u1", Action: chat.PressStop, At: clock}
	if err := f.handle(t, "r1", chat.Event{Version: chat.EventVersion, Press: &p, ReceivedAt: clock}); err != nil {
		t.Fatalf("Handle = %v; want the press dropped without a retry", err)
	}
	if f.askedCount() != 0 || f.out.count(conversationID) != 0 {
		t.Errorf("a press asked the model %d times, answered %d times", f.askedCount(), f.out.count(conversationID))
	}
}
