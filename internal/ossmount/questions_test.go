package ossmount

import (
	"errors"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

func TestQuestionsCountEachAnsweredMessageOncePerSenderAndDay(t *testing.T) {
	q, err := NewQuestions(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, r := range []struct {
		sender, day, msg string
		u                chat.Usage
	}{
		{"alice", "20261201", "m1", chat.Usage{Prompt: 100, Completion: 20}},
		{"alice", "20261201", "m2", chat.Usage{Prompt: 50, Completion: 5}},
		{"alice", "20261201", "m1", chat.Usage{Prompt: 999, Completion: 999}}, // m1 again, after a retry
		{"alice", "20261202", "m3", chat.Usage{Prompt: 7, Completion: 7}},
		{"bob", "20261201", "m4", chat.Usage{Prompt: 1, Completion: 1}},
	} {
		if err := q.Record(ctx, r.sender, r.day, r.msg, r.u); err != nil {
			t.Fatal(err)
		}
	}
	d, err := q.Day(ctx, "alice", "20261201")
	if err != nil {
		t.Fatal(err)
	}
	if d.Questions != 2 || d.Prompt+d.Completion < 175 || d.Prompt+d.Completion > 175+999*2 {
		t.Errorf("alice's day: %+v; want 2 questions", d)
	}
	if d, err := q.Day(ctx, "carol", "20261201"); err != nil || d != (chat.DayUsage{}) {
		t.Errorf("a sender without questions: %+v %v", d, err)
	}
	if _, err := q.Day(ctx, "alice", "../../x"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("a day that is not yyyymmdd: %v", err)
	}
}
