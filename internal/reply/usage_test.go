package reply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/bucket"
	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/fcruntime"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

func limitFixture(t *testing.T, model modelFunc, limit int) *fixture {
	t.Helper()
	questions := bucket.NewQuestions(mountAt(t, t.TempDir()))
	return newFixture(t, model, func(c *testConfig) {
		c.Questions, c.DailyLimit = questions, limit
		c.Access.Admins = []string{"staff-root"}
	})
}

// received is ev as the conversation function hands it over: stamped with
// when it came.
func received(ev chat.Event, at time.Time) chat.Event {
	ev.ReceivedAt = at
	return ev
}

func (f *fixture) answerTexts() []string {
	f.out.mu.Lock()
	defer f.out.mu.Unlock()
	var texts []string
	for _, a := range f.out.answers {
		texts = append(texts, a.Text)
	}
	return texts
}

func countContaining(texts []string, part string) int {
	n := 0
	for _, t := range texts {
		if strings.Contains(t, part) {
			n++
		}
	}
	return n
}

func TestTenQuestionsAtOnceWithALimitOfTwoReachTheModelTwice(t *testing.T) {
	f := limitFixture(t, nil, 2)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := received(event(fmt.Sprint("m", i), fmt.Sprint("问题", i), clock), clock)
			if err := f.handle(t, fmt.Sprint("r", i), ev); err != nil {
				t.Errorf("question %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	texts := f.answerTexts()
	if n := f.askedCount(); n != 2 {
		t.Errorf("the model was asked %d times; want 2", n)
	}
	if n := countContaining(texts, "达到了每日 2 个的上限"); n != 8 || len(texts) != 10 {
		t.Errorf("%d refusals among %d answers; want 8 of 10: %q", n, len(texts), texts)
	}
	// \usage counts the two.
	if err := f.handle(t, "r-usage", received(event("m-usage", `\usage`, clock), clock)); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); !strings.Contains(got, "你问了 2 个问题") || !strings.Contains(got, "还剩 0 个") {
		t.Errorf(`\usage answered %q`, got)
	}
}

func TestTheDayIsTheDayTheMessageWasReceivedNotItsCreateAt(t *testing.T) {
	f := limitFixture(t, nil, 2)
	// A forged body names a new createAt with each question, days apart;
	// the robot received them all on one day.
	for i := range 3 {
		forgedCreateAt := clock.AddDate(0, 0, -10*i)
		ev := received(event(fmt.Sprint("m", i), fmt.Sprint("问题", i), forgedCreateAt), clock.Add(time.Duration(i)*time.Minute))
		if err := f.handle(t, fmt.Sprint("r", i), ev); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.askedCount(); n != 2 {
		t.Errorf("the model was asked %d times; want 2, the third question past the limit", n)
	}
	if got := f.out.last(conversationID); !strings.Contains(got, "达到了每日 2 个的上限") || !strings.Contains(got, "11月24日 00:00") {
		t.Errorf("the third question answered %q", got)
	}
	// Received the next day (Asia/Shanghai: clock is 18:00 there), with
	// the same forged createAt as the first, it counts in that day.
	next := received(event("m-next", "第二天的问题", clock), clock.Add(6*time.Hour))
	if err := f.handle(t, "r-next", next); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); got != "答：第二天的问题" {
		t.Errorf("a question received the next day answered %q", got)
	}
}

func TestAFailedAnswerGivesItsSlotBack(t *testing.T) {
	fail := true
	var mu sync.Mutex
	f := limitFixture(t, func(_ context.Context, p chat.Prompt) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			fail = false
			return "", chat.ErrModelUnavailable
		}
		return "答：" + p.Question, nil
	}, 1)
	if err := f.handle(t, "r1", received(event("m1", "第一问", clock), clock)); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); !strings.Contains(got, "暂时不可用") {
		t.Fatalf("the failed answer: %q", got)
	}
	if err := f.handle(t, "r2", received(event("m2", "再问一次", clock), clock)); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); got != "答：再问一次" {
		t.Errorf("the question after a failed one, with a limit of 1: %q", got)
	}
	if err := f.handle(t, "r3", received(event("m3", "第三问", clock), clock)); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); !strings.Contains(got, "达到了每日 1 个的上限") {
		t.Errorf("the question past the limit: %q", got)
	}
}

func TestAnAdministratorTakesNoSlot(t *testing.T) {
	f := limitFixture(t, nil, 1)
	for i := range 3 {
		ev := received(event(fmt.Sprint("m", i), fmt.Sprint("管理员问题", i), clock), clock)
		ev.Message.SenderStaffID = "staff-root"
		if err := f.handle(t, fmt.Sprint("r", i), ev); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.askedCount(); n != 3 {
		t.Errorf("the administrator's questions reached the model %d times; want 3", n)
	}
}

func TestAnAnsweredMessageRemovesAnOldDaysQuestions(t *testing.T) {
	root := t.TempDir()
	questions := bucket.NewQuestions(mountAt(t, root))
	f := newFixture(t, nil, func(c *testConfig) { c.Questions, c.DailyLimit = questions, 5 })
	// A question of long ago (clock is 23 November).
	if _, err := questions.Take(t.Context(), "sender\x00u1", "20261101", "old", 5); err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // one for the sender's folder, one for the emptied day
		if err := f.handle(t, fmt.Sprint("r", i), received(event(fmt.Sprint("m", i), "问题", clock), clock)); err != nil {
			t.Fatal(err)
		}
	}
	if d, err := questions.Day(t.Context(), "sender\x00u1", "20261101"); err != nil || d.Taken != 0 {
		t.Errorf("the old day after two answers: %+v, %v; want removed", d, err)
	}
	if d, err := questions.Day(t.Context(), "sender\x00u1", "20261123"); err != nil || d.Questions != 2 {
		t.Errorf("today: %+v, %v; want the two questions", d, err)
	}
}

// A question whose attempt failed for FC to retry keeps its slot for the
// retry: another question asked meanwhile cannot take it, and the retry
// is answered, not refused as over the limit.
func TestAQuestionRetriedByFCKeepsItsSlot(t *testing.T) {
	f := limitFixture(t, nil, 1)
	flaky := &flakyHistory{History: f.history, failures: 1}
	f.cfg.History = flaky
	f.svc = assemble(f.cfg)
	first := received(event("m1", "第一问", clock), clock)
	if err := f.handle(t, "r1", first); !retry.Retryable(err) {
		t.Fatalf("a history that could not be read: %v; want FC to retry", err)
	}
	if err := f.handle(t, "r2", received(event("m2", "插队的问题", clock), clock)); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); !strings.Contains(got, "达到了每日 1 个的上限") {
		t.Errorf("a question asked while the first waits for its retry: %q; want it refused", got)
	}
	if err := f.deliver(t, f.svc, fcruntime.Invocation{RequestID: "r1", RetryCount: 1}, first); err != nil {
		t.Fatal(err)
	}
	if got := f.out.last(conversationID); got != "答：第一问" {
		t.Errorf("FC's retry of the first question: %q; want it answered", got)
	}
}

// flakyHistory fails its first loads, as a bucket that does not answer
// for a moment.
type flakyHistory struct {
	History
	mu       sync.Mutex
	failures int
}

func (h *flakyHistory) Load(ctx context.Context, owner string, n int) ([]chat.Turn, error) {
	h.mu.Lock()
	fail := h.failures > 0
	h.failures--
	h.mu.Unlock()
	if fail {
		return nil, errors.New("the bucket did not answer")
	}
	return h.History.Load(ctx, owner, n)
}
