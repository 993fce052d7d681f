package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

// An answer longer than a card holds fills the card, which says the rest
// follows, and goes on in messages below it: a card over about 3,000
// characters would show blank.
func TestALongAnswerFillsTheCardAndGoesOnInMessages(t *testing.T) {
	t.Parallel()
	answer := strings.Repeat("函数计算按调用计费，空闲不收费。\n\n", 500) // 9,000 characters
	st := cardStack(t, answer)
	alice := single(t, st, "alice")
	if resp := alice.send("写一篇长文"); resp.Status != 200 {
		t.Fatalf("callback answered %d", resp.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cards, err := st.DingTalk.WaitCards(ctx, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	content := cards[0].Content("answer")
	if cards[0].Blank("answer") || !strings.Contains(content, "后续内容见下方消息") {
		t.Errorf("the card holds %d characters (blank above %d); want it full and saying the rest follows",
			utf8.RuneCountInString(content), dingtalktest.CardRenderChars)
	}
	for _, u := range cards[0].Updates {
		if n := utf8.RuneCountInString(u.Content); n > dingtalktest.CardRenderChars {
			t.Errorf("an update of %d characters", n)
		}
	}
	waitFC(t, st)
	var rest strings.Builder
	for _, p := range alice.posts() {
		if p.Blank {
			t.Errorf("a message of %d characters shows as nothing", utf8.RuneCountInString(p.Content()))
		}
		rest.WriteString(p.Content())
	}
	shown := strings.TrimSuffix(content, "\n\n（回答较长，后续内容见下方消息。）") + rest.String()
	// The model's answer, as the robot keeps it: without the blank space
	// it ends with.
	if shown != strings.TrimSpace(answer) {
		t.Errorf("the card and %d messages show %d characters; want the whole %d-character answer",
			len(alice.posts()), utf8.RuneCountInString(shown), utf8.RuneCountInString(answer))
	}
}
