package e2e

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// A model writes a long answer for minutes at its ordinary pace: TIMEOUT
// bounds its silence, not its answer, and an answer cut short by the
// function's time or a dropped connection is delivered and kept, marked.

// longAnswerStack is a stack whose model answers "长文" with respond, and
// anything else at once; card streams answers into an AI card.
func longAnswerStack(t *testing.T, env map[string]string, card bool, respond openaitest.Response) *devstack.Stack {
	t.Helper()
	env = maps.Clone(env)
	if card {
		env["CARD_TEMPLATE_ID"], env["CARD_CONTENT_KEY"], env["CARD_UPDATE_INTERVAL"] = "fcrobot-test.schema", "answer", "200ms"
	}
	st := start(t, devstack.Config{
		ReplyEnv:    env,
		DingTalkApp: card,
		Model: func(_ context.Context, r openaitest.Request) openaitest.Response {
			if r.LastUserMessage() == "长文" {
				return respond
			}
			return openaitest.Response{Content: "好"}
		},
	})
	if card {
		st.DingTalk.AddCardTemplate("fcrobot-test.schema", "answer")
	}
	return st
}

// pieces are n numbered pieces of an answer.
func pieces(n int) []string {
	p := make([]string, n)
	for i := range p {
		p[i] = "第" + strings.Repeat("一", i%4+1) + "段。"
	}
	return p
}

// shown is what the user was shown of the answer to "长文": the finished
// card's content, or the message.
func shown(t *testing.T, st *devstack.Stack, alice chat, card bool) string {
	t.Helper()
	if !card {
		return plain(alice.ask("长文"))
	}
	return alice.askCard("长文").Content("answer")
}

// kept is the answer to "长文" as the next question carries it in its
// history.
func kept(t *testing.T, st *devstack.Stack, alice chat) string {
	t.Helper()
	waitFC(t, st)
	if resp := alice.send("下一个"); resp.Status != 200 {
		t.Fatalf("callback answered %d", resp.Status)
	}
	waitFC(t, st)
	for _, m := range requestsFor(st, "下一个")[0].Messages {
		if m.Role == "assistant" {
			return m.Content
		}
	}
	return ""
}

func TestALongAnswerThatFlowsPastTIMEOUTIsDeliveredWhole(t *testing.T) {
	t.Parallel()
	for _, card := range []bool{false, true} {
		t.Run(map[bool]string{false: "message", true: "card"}[card], func(t *testing.T) {
			t.Parallel()
			// A reasoning model thinks, then writes for about eight
			// seconds, never silent for the three seconds TIMEOUT allows
			// (a pause ten times the model's leaves a loaded machine room).
			chunks := pieces(25)
			st := longAnswerStack(t, map[string]string{"TIMEOUT": "3"}, card, openaitest.Response{
				Reasoning: []string{"嗯，", "让我想想", "。"}, Chunks: chunks, ChunkDelay: 300 * time.Millisecond,
			})
			alice := single(t, st, "alice")
			want := strings.Join(chunks, "")
			if got := shown(t, st, alice, card); got != want {
				t.Errorf("the user was shown %q, want the whole answer %q", got, want)
			}
			if got := kept(t, st, alice); got != want {
				t.Errorf("the history keeps %q, want the whole answer", got)
			}
		})
	}
}

func TestAnAnswerCutShortIsDeliveredAndKeptMarked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		respond openaitest.Response
		mark    string
	}{
		{
			// 30 s of function leave 10 s for the answer, which would take
			// 50.
			name:    "the function's time",
			env:     map[string]string{"TIMEOUT": "5", "FUNCTION_TIMEOUT": "30"},
			respond: openaitest.Response{Chunks: pieces(100), ChunkDelay: 500 * time.Millisecond},
			mark:    "（回答超时，以上是已生成的部分）",
		},
		{
			name:    "the model's silence mid-answer",
			env:     map[string]string{"TIMEOUT": "2"},
			respond: openaitest.Response{Chunks: pieces(3), ChunkDelay: 10 * time.Second},
			mark:    "（回答超时，以上是已生成的部分）",
		},
		{
			name:    "a connection dropped mid-answer",
			env:     map[string]string{},
			respond: openaitest.Response{Chunks: pieces(10), DropAfterChunks: 4},
			mark:    "（与大模型的连接中断，以上是已生成的部分）",
		},
	}
	for _, tt := range tests {
		for _, card := range []bool{false, true} {
			t.Run(tt.name+"/"+map[bool]string{false: "message", true: "card"}[card], func(t *testing.T) {
				t.Parallel()
				st := longAnswerStack(t, tt.env, card, tt.respond)
				alice := single(t, st, "alice")
				got := shown(t, st, alice, card)
				if !strings.HasPrefix(got, "第一段。") || !strings.HasSuffix(got, "\n\n"+tt.mark) {
					t.Errorf("the user was shown %q, want what was written, marked %q", got, tt.mark)
				}
				if k := kept(t, st, alice); k != got {
					t.Errorf("the history keeps %q, want the cut answer as shown %q", k, got)
				}
			})
		}
	}
}
