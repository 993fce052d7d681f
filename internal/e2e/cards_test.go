package e2e

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// An answer longer than a card holds fills the card, which says the rest
// follows, and goes on in messages below it: a card over about 3,000
// characters would show blank.
func TestALongAnswerFillsTheCardAndGoesOnInMessages(t *testing.T) {
	t.Parallel()
	answer := strings.Repeat("函数计算按调用计费，空闲不收费。\n\n", 500) // 9,000 characters
	st := cardStack(t, answer)
	alice := single(t, st, "alice")
	cards := []dingtalktest.Card{alice.askCard("写一篇长文")}
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

// An instance that dies while its answer streams into a card leaves the
// card "typing"; FC's retry finishes that card, pointing below, and answers
// in a card of its own.
func TestACardADeadInstanceLeftOpenIsFinishedByFCsRetry(t *testing.T) {
	t.Parallel()
	answer := "函数计算按调用计费，空闲不收费，冷启动很快，适合钉钉机器人。"
	var calls atomic.Int32
	st := start(t, devstack.Config{
		ReplyInstances: 2, DingTalkApp: true,
		Model: func(ctx context.Context, r openaitest.Request) openaitest.Response {
			if calls.Add(1) == 1 {
				// The first attempt streams slowly: it dies on the way.
				return openaitest.Response{Content: answer, Chunks: chunked(answer), ChunkDelay: time.Second}
			}
			return openaitest.Response{Content: answer, Chunks: chunked(answer), ChunkDelay: 10 * time.Millisecond}
		},
		ReplyEnv: map[string]string{"CARD_TEMPLATE_ID": "fcrobot-test.schema", "CARD_CONTENT_KEY": "answer", "CARD_UPDATE_INTERVAL": "100ms"},
	})
	st.DingTalk.AddCardTemplate("fcrobot-test.schema", "answer")
	alice := single(t, st, "alice")
	if resp := alice.send("介绍一下函数计算"); resp.Status != 200 {
		t.Fatalf("callback answered %d", resp.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Once the first card shows some of the answer, its instance dies.
	for {
		cards, err := st.DingTalk.WaitCards(ctx, 1, false)
		if err != nil {
			t.Fatal(err)
		}
		if c := cards[0]; len(c.Updates) > 0 && c.Content("answer") != "思考中…" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	busyInstance(t, st).Kill()
	cards, err := st.DingTalk.WaitCards(ctx, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	waitFC(t, st)
	cards = st.DingTalk.Cards()
	if len(cards) != 2 {
		t.Fatalf("%d cards; want the dead attempt's and the retry's", len(cards))
	}
	if !cards[0].Finalized() || !strings.Contains(cards[0].Content("answer"), "完整的回答见下方") {
		t.Errorf("the dead attempt's card: finalized %v, showing %q; want it finished, pointing below", cards[0].Finalized(), cards[0].Content("answer"))
	}
	if !cards[1].Finalized() || cards[1].Content("answer") != answer {
		t.Errorf("the retry's card shows %q; want the whole answer", cards[1].Content("answer"))
	}
}

// With the month's OpenAPI budget nearly spent, answers go as messages,
// which cost no OpenAPI call, instead of cards.
func TestNearTheMonthsOpenAPIBudgetAnswersGoAsMessages(t *testing.T) {
	t.Parallel()
	answer := "函数计算按调用计费。"
	st := start(t, devstack.Config{
		Model: openaitest.Fixed(openaitest.Response{Content: answer, Chunks: chunked(answer), ChunkDelay: 20 * time.Millisecond}),
		ReplyEnv: map[string]string{
			"CARD_TEMPLATE_ID": "fcrobot-test.schema", "CARD_CONTENT_KEY": "answer", "CARD_UPDATE_INTERVAL": "100ms",
			// A card answer is allowed while 2 + CARD_MAX_UPDATES calls are left.
			"CARD_MAX_UPDATES": "5", "DINGTALK_MONTHLY_API_CALLS": "10",
		},
		DingTalkApp: true,
	})
	st.DingTalk.AddCardTemplate("fcrobot-test.schema", "answer")
	alice := single(t, st, "alice")
	alice.send("第一问")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := st.DingTalk.WaitCards(ctx, 1, true); err != nil {
		t.Fatal(err)
	}
	waitFC(t, st)
	if got := alice.ask("第二问"); got != answer {
		t.Errorf("the second answer came as %q; want a message with the answer", got)
	}
	if n := len(st.DingTalk.Cards()); n != 1 {
		t.Errorf("%d cards; the budget allowed one", n)
	}
	waitOutput(t, st.Reply, "DINGTALK_MONTHLY_API_CALLS are nearly spent")
}

// A card whose model fails before it writes anything is finished, its text
// replaced by the message that says so (as an answer, not as a failed
// card: the user reads why), never left "typing". (One that fails
// mid-answer keeps what was written, marked: longanswers_test.go.)
func TestACardWhoseModelFailedIsFinishedWithTheError(t *testing.T) {
	t.Parallel()
	st := start(t, devstack.Config{
		// The model's endpoint refuses the key.
		Model:       openaitest.Fixed(openaitest.Response{Status: 401}),
		ReplyEnv:    map[string]string{"CARD_TEMPLATE_ID": "fcrobot-test.schema", "CARD_CONTENT_KEY": "answer", "CARD_UPDATE_INTERVAL": "100ms"},
		DingTalkApp: true,
	})
	st.DingTalk.AddCardTemplate("fcrobot-test.schema", "answer")
	alice := single(t, st, "alice")
	if resp := alice.send("介绍一下函数计算"); resp.Status != 200 {
		t.Fatalf("callback answered %d", resp.Status)
	}
	waitFC(t, st)
	cards := st.DingTalk.Cards()
	if len(cards) != 1 {
		t.Fatalf("%d cards; want the answer's one", len(cards))
	}
	if !cards[0].Finalized() {
		t.Errorf("the card is left typing, showing %q", cards[0].Content("answer"))
	}
	if got := cards[0].Content("answer"); !strings.Contains(got, "API Key") {
		t.Errorf("the card shows %q; want the message that the model failed", got)
	}
}
