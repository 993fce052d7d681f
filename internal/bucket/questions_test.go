package bucket

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"sync"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

func TestQuestionsCountEachAnsweredMessageOncePerSenderAndDay(t *testing.T) {
	q := NewQuestions(MountAt(t, t.TempDir()))
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

// takeAtOnce has ten messages of one sender take a slot of one day at
// once, limit 2, and returns the messages that got one.
func takeAtOnce(t *testing.T, q *Questions, sender, day string) []string {
	t.Helper()
	var mu sync.Mutex
	var won []string
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := fmt.Sprintf("m%d", i)
			taken, err := q.Take(t.Context(), sender, day, msg, 2)
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
	slices.Sort(won)
	return won
}

func TestSlotsLetExactlyTheLimitThroughWhenQuestionsComeAtOnce(t *testing.T) {
	q := NewQuestions(MountAt(t, t.TempDir()))
	ctx := t.Context()
	won := takeAtOnce(t, q, "alice", "20261201")
	if len(won) != 2 {
		t.Fatalf("%d of 10 questions took a slot with a limit of 2: %v", len(won), won)
	}
	if d, err := q.Day(ctx, "alice", "20261201"); err != nil || d.Taken != 2 || d.Questions != 0 {
		t.Errorf("the day: %+v, %v; want 2 taken, none answered yet", d, err)
	}
	// A redelivered winner finds its own slot; a loser still finds none.
	for _, msg := range won {
		if taken, err := q.Take(ctx, "alice", "20261201", msg, 2); err != nil || !taken {
			t.Errorf("redelivered %s: taken %v, %v; want its own slot", msg, taken, err)
		}
	}
	if taken, err := q.Take(ctx, "alice", "20261201", "late", 2); err != nil || taken {
		t.Errorf("an 11th question: taken %v, %v; want refused", taken, err)
	}
	// Another sender, and another day, have slots of their own.
	if taken, err := q.Take(ctx, "bob", "20261201", "b1", 2); err != nil || !taken {
		t.Errorf("bob: taken %v, %v", taken, err)
	}
	if taken, err := q.Take(ctx, "alice", "20261202", "m9", 2); err != nil || !taken {
		t.Errorf("alice's next day: taken %v, %v", taken, err)
	}

	// A failed answer gives its slot back, once; then another question
	// takes it, and the winner that was answered keeps its own.
	if err := q.GiveBack(ctx, "alice", "20261201", won[0]); err != nil {
		t.Fatal(err)
	}
	if err := q.GiveBack(ctx, "alice", "20261201", won[0]); err != nil {
		t.Fatalf("giving back twice: %v", err)
	}
	if err := q.Record(ctx, "alice", "20261201", won[1], chat.Usage{Prompt: 3, Completion: 4}); err != nil {
		t.Fatal(err)
	}
	if taken, err := q.Take(ctx, "alice", "20261201", "retry", 2); err != nil || !taken {
		t.Errorf("a question after a slot was given back: taken %v, %v", taken, err)
	}
	if taken, err := q.Take(ctx, "alice", "20261201", won[0], 2); err != nil || taken {
		t.Errorf("the question that gave its slot back, asked again when none is free: taken %v, %v", taken, err)
	}
	if d, err := q.Day(ctx, "alice", "20261201"); err != nil || d.Taken != 2 || d.Questions != 1 || d.Prompt != 3 {
		t.Errorf("the day: %+v, %v; want 2 taken, 1 answered", d, err)
	}
}

func TestASlotWhoseMarkerWasNotWrittenIsFoundByItsMessage(t *testing.T) {
	root := t.TempDir()
	q := NewQuestions(MountAt(t, root))
	ctx := t.Context()
	dir, _ := questionsFolder("alice", "20261201")
	// The taker of slot 0 died before its marker.
	if err := q.objects.Create(ctx, path.Join(dir, slotName(0)), []byte(`{"version":1,"message":"`+messageKey("m1")+`"}`)); err != nil {
		t.Fatal(err)
	}
	if taken, err := q.Take(ctx, "alice", "20261201", "m1", 1); err != nil || !taken {
		t.Fatalf("the redelivered message: taken %v, %v; want its slot", taken, err)
	}
	if taken, err := q.Take(ctx, "alice", "20261201", "m2", 1); err != nil || taken {
		t.Errorf("another message: taken %v, %v; want refused", taken, err)
	}
	if err := q.GiveBack(ctx, "alice", "20261201", "m1"); err != nil {
		t.Fatal(err)
	}
	if d, err := q.Day(ctx, "alice", "20261201"); err != nil || d.Taken != 0 {
		t.Errorf("after the give-back: %+v, %v", d, err)
	}
}

func TestAnswersCountedBeforeSlotsHoldSlots(t *testing.T) {
	q := NewQuestions(MountAt(t, t.TempDir()))
	ctx := t.Context()
	// An older build recorded two answers today, and took no slot.
	for _, m := range []string{"old1", "old2"} {
		if err := q.Record(ctx, "alice", "20261201", m, chat.Usage{}); err != nil {
			t.Fatal(err)
		}
	}
	if taken, err := q.Take(ctx, "alice", "20261201", "new1", 3); err != nil || !taken {
		t.Fatalf("the third question: taken %v, %v", taken, err)
	}
	if taken, err := q.Take(ctx, "alice", "20261201", "new2", 3); err != nil || taken {
		t.Errorf("the fourth question with a limit of 3: taken %v, %v; want refused", taken, err)
	}
	if d, _ := q.Day(ctx, "alice", "20261201"); d.Taken != 3 {
		t.Errorf("taken %d, want 3", d.Taken)
	}
}

func TestOldDaysOfQuestionsArePrunedOneSenderPerAnswer(t *testing.T) {
	root := t.TempDir()
	q := NewQuestions(MountAt(t, root))
	ctx := t.Context()
	for _, s := range []string{"a", "b"} {
		for _, day := range []string{"20261125", "20261128", "20261129"} {
			if _, err := q.Take(ctx, s, day, "m-"+s+day, 5); err != nil {
				t.Fatal(err)
			}
		}
	}
	days := func() []string {
		names, err := q.objects.List(ctx, questionsDir, 0)
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	// Each message answered on the 30th removes one sender's folder of a
	// day before the 28th, then the emptied day.
	for i, want := range [][]string{
		{"20261125", "20261128", "20261129", "20261130"},
		{"20261125", "20261128", "20261129", "20261130"},
		{"20261128", "20261129", "20261130"},
		{"20261128", "20261129", "20261130"},
	} {
		if err := q.Record(ctx, "c", "20261130", fmt.Sprint("m", i), chat.Usage{}); err != nil {
			t.Fatal(err)
		}
		if err := q.Prune(ctx, "20261130"); err != nil {
			t.Fatal(err)
		}
		if got := days(); !slices.Equal(got, want) {
			t.Fatalf("after answer %d the days are %v, want %v", i+1, got, want)
		}
	}
	if d, err := q.Day(ctx, "a", "20261128"); err != nil || d.Taken != 1 {
		t.Errorf("a day within the two kept was touched: %+v, %v", d, err)
	}
}
