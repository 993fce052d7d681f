package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// The end-to-end cases of conversation control: whose context, how much of
// it, who may ask.

func TestControlAGroupSharingOneContextIsSeenByASecondMember(t *testing.T) {
	t.Parallel()
	st := echoStack(t, map[string]string{"GROUP_CONTEXT": "group", "ADMIN_USERS": "staff-erin"})
	carol, dave, erin := group(t, st, "g1", "carol"), group(t, st, "g1", "dave"), group(t, st, "g1", "erin")
	carol.ask("我负责周报")
	dave.ask("谁负责周报？")
	r := requestsFor(st, "dave：谁负责周报？")
	if len(r) != 1 || r[0].EarlierTurns() != 1 || r[0].Messages[0].Content != "carol：我负责周报" {
		t.Fatalf("dave's question reached the model as %+v; want it after carol's turn, each named", r)
	}
	// In a shared context only an administrator clears it.
	if got := dave.ask(`\clear`); !strings.Contains(got, "只有管理员") {
		t.Errorf(`a member's \clear of the group's history answered %q`, got)
	}
	if got := erin.ask(`\clear`); !strings.Contains(got, "已清除本群") {
		t.Errorf(`an administrator's \clear answered %q`, got)
	}
	carol.ask("重新开始")
	if r := requestsFor(st, "carol：重新开始"); len(r) != 1 || r[0].EarlierTurns() != 0 {
		t.Errorf("after the administrator's \\clear the model saw %+v", r)
	}
}

func TestControlEachMemberOfAGroupKeepsTheirOwnContextByDefault(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	carol, dave := group(t, st, "g1", "carol"), group(t, st, "g1", "dave")
	carol.ask("我负责周报")
	dave.ask("谁负责周报？")
	if r := requestsFor(st, "谁负责周报？"); len(r) != 1 || r[0].EarlierTurns() != 0 {
		t.Errorf("dave's question reached the model with %+v; want no turn of carol's", r)
	}
}

func TestControlTheContextWindowDropsTheOldestTurnsFirst(t *testing.T) {
	t.Parallel()
	// Each turn below costs about 110 estimated tokens: a window of 300
	// keeps the newest two of four.
	st := echoStack(t, map[string]string{"MAX_CONTEXT_TOKENS": "300", "HISTORY_LENGTH": "10"})
	alice := single(t, st, "alice")
	long := strings.Repeat("长", 50)
	for _, q := range []string{"一" + long, "二" + long, "三" + long, "四" + long} {
		alice.ask(q)
	}
	alice.ask("现在呢")
	r := requestsFor(st, "现在呢")
	if len(r) != 1 || r[0].EarlierTurns() != 2 || r[0].Messages[0].Content != "三"+long {
		t.Fatalf("the model saw %d turns, starting %q; want the newest two", r[0].EarlierTurns(), r[0].Messages[0].Content)
	}
	// A question that alone exceeds the window is told how long one may be.
	before := len(st.Model.Requests())
	if got := alice.ask(strings.Repeat("太长", 200)); !strings.Contains(got, "你的问题太长了") || !strings.Contains(got, "最多能读约") {
		t.Errorf("an over-long question answered %q", got)
	}
	if n := len(st.Model.Requests()); n != before {
		t.Errorf("an over-long question reached the model")
	}
}

func TestControlALengthRefusalIsAskedAgainWithHalfTheHistory(t *testing.T) {
	t.Parallel()
	// English text is estimated at 3 bytes a token; this model counts a
	// token per character, so it refuses what the estimate let through.
	st := start(t, devstack.Config{
		Model:    openaitest.ContextWindow(900, openaitest.Echo("A: ")),
		ReplyEnv: map[string]string{"MAX_CONTEXT_TOKENS": "900", "HISTORY_LENGTH": "10"},
	})
	alice := single(t, st, "alice")
	long := strings.Repeat("word ", 40)
	for _, q := range []string{"one " + long, "two " + long, "three " + long, "four " + long} {
		alice.ask(q)
	}
	if got := alice.ask("and now?"); got != "A: and now?" {
		t.Fatalf("answer %q; want the model's answer after a second try", got)
	}
	r := requestsFor(st, "and now?")
	if len(r) != 2 || r[1].EarlierTurns() >= r[0].EarlierTurns() || r[1].EarlierTurns() == 0 {
		t.Errorf("requests for the question carried %v turns; want a refused one, then one with about half", turns(r))
	}
}

func turns(rs []openaitest.Request) []int {
	var n []int
	for _, r := range rs {
		n = append(n, r.EarlierTurns())
	}
	return n
}

func TestControlAllowListsRefuseWithoutTheModelAndWhoamiAnswersAnyone(t *testing.T) {
	t.Parallel()
	st := echoStack(t, map[string]string{
		"ALLOW_USERS": "staff-alice, staff-carol", "ALLOW_GROUPS": "cid-group-g1", "ADMIN_USERS": "staff-root",
	})
	alice, bob := single(t, st, "alice"), single(t, st, "bob")
	carolInG1, carolInG2 := group(t, st, "g1", "carol"), group(t, st, "g2", "carol")
	rootInG2 := group(t, st, "g2", "root")
	for _, tt := range []struct {
		c        chat
		answered bool
	}{{alice, true}, {bob, false}, {carolInG1, true}, {carolInG2, false}, {rootInG2, true}} {
		got := tt.c.ask("问题 " + tt.c.from.Nick)
		if answered := strings.HasSuffix(got, "答：问题 "+tt.c.from.Nick); answered != tt.answered {
			t.Errorf("%s in %s: answered %q", tt.c.from.Nick, tt.c.conv.ID, got)
		}
		if !tt.answered && !strings.Contains(got, `\whoami`) {
			t.Errorf("%s's refusal does not name \\whoami: %q", tt.c.from.Nick, got)
		}
	}
	if n := len(requestsFor(st, "问题 bob")) + len(requestsFor(st, "问题 carol")); n != 1 {
		t.Errorf("the model was asked %d times for bob and carol; want once, for carol in g1", n)
	}
	if got := bob.ask(`\whoami`); !strings.Contains(got, "staff-bob") || !strings.Contains(got, bob.conv.ID) {
		t.Errorf(`\whoami to a sender who may not ask answered %q`, got)
	}
}

func TestControlEveryCommandPrefix(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	alice := single(t, st, "alice")
	for _, c := range []string{`\help`, `＼help`, `/help`, `、help`} {
		if got := alice.ask(c); !strings.HasPrefix(got, "可用命令") {
			t.Errorf("%s answered %q", c, got)
		}
	}
	if n := len(st.Model.Requests()); n != 0 {
		t.Errorf("commands reached the model %d times", n)
	}
	if got := alice.ask("/etc/hosts 是什么"); got != "答：/etc/hosts 是什么" {
		t.Errorf("a question that starts with a path answered %q", got)
	}
}

func TestControlTheDailyLimitStopsASenderButNotAnAdministrator(t *testing.T) {
	t.Parallel()
	// Every message is sent at one instant. They count in the day the
	// conversation function received them, which a run across midnight in
	// Shanghai splits: the test then says so and stops.
	sent := time.Now()
	dayBefore := shanghaiDay()
	defer func() {
		if shanghaiDay() != dayBefore && t.Failed() {
			t.Log("the questions were sent across midnight in Shanghai: two days, two limits")
		}
	}()
	st := start(t, devstack.Config{
		Model: openaitest.Echo("答："), DingTalkClock: func() time.Time { return sent },
		ReplyEnv: map[string]string{"DAILY_LIMIT": "2", "ADMIN_USERS": "staff-root"},
	})
	alice, root := single(t, st, "alice"), single(t, st, "root")
	for _, q := range []string{"第一问", "第二问"} {
		if got := alice.ask(q); got != "答："+q {
			t.Fatalf("%s answered %q", q, got)
		}
	}
	got := alice.ask("第三问")
	if !strings.Contains(got, "达到了每日 2 个的上限") || !strings.Contains(got, "0:00（北京时间）重置") {
		t.Errorf("over the limit: %q", got)
	}
	if n := len(requestsFor(st, "第三问")); n != 0 {
		t.Errorf("a question over the limit reached the model %d times", n)
	}
	if got := alice.ask(`\usage`); !strings.Contains(got, "你问了 2 个问题") || !strings.Contains(got, "还剩 0 个") || strings.Contains(got, "用了 0 个 token") {
		t.Errorf(`\usage answered %q`, got)
	}
	for _, q := range []string{"管理员一", "管理员二", "管理员三"} {
		if got := root.ask(q); got != "答："+q {
			t.Errorf("the administrator's %s answered %q", q, got)
		}
	}
	if got := root.ask(`\usage`); !strings.Contains(got, "你问了 3 个问题") || !strings.Contains(got, "不受每日上限限制") {
		t.Errorf(`the administrator's \usage answered %q`, got)
	}
	// Every answer's usage is on its log line.
	for _, l := range logLinesOfAll(t, st) {
		if l["msg"] == "answered" && (l["promptTokens"] == nil || l["completionTokens"] == nil) {
			t.Errorf("an answered line without its tokens: %v", l)
		}
	}
}

func logLinesOfAll(t *testing.T, st *devstack.Stack) []map[string]any {
	var lines []map[string]any
	for _, p := range st.Replies {
		lines = append(lines, logLines(t, p)...)
	}
	return lines
}

func TestControlSystemPromptSetShownResetAndGuardedInAGroup(t *testing.T) {
	t.Parallel()
	st := echoStack(t, map[string]string{"SYSTEM_PROMPT": "你是公司的助手。", "ADMIN_USERS": "staff-root"})
	alice := single(t, st, "alice")
	if got := plain(alice.ask(`\system`)); got != "当前的系统提示词：\n你是公司的助手。" {
		t.Errorf(`\system answered %q`, got)
	}
	if got := alice.ask(`\system 你是一只猫，只会说喵。`); got != "已设置本会话的系统提示词。" {
		t.Errorf(`setting answered %q`, got)
	}
	alice.ask("你是谁")
	if r := requestsFor(st, "你是谁"); len(r) != 1 || r[0].Messages[0].Role != "system" || r[0].Messages[0].Content != "你是一只猫，只会说喵。" {
		t.Errorf("the next question reached the model as %+v", r)
	}
	if got := alice.ask(`\system`); !strings.Contains(got, "你是一只猫") {
		t.Errorf(`\system after setting answered %q`, got)
	}
	alice.ask(`\system reset`)
	alice.ask("现在你是谁")
	if r := requestsFor(st, "现在你是谁"); len(r) != 1 || r[0].Messages[0].Content != "你是公司的助手。" {
		t.Errorf("after reset the model saw %+v", r)
	}
	// In a group anyone may read it; only an administrator may change it.
	carol, root := group(t, st, "g1", "carol"), group(t, st, "g1", "root")
	if got := carol.ask(`\system 你是海盗`); !strings.Contains(got, "只有管理员") {
		t.Errorf(`a member's \system in a group answered %q`, got)
	}
	if got := root.ask(`\system 你是海盗`); !strings.Contains(got, "已设置") {
		t.Errorf(`an administrator's \system in a group answered %q`, got)
	}
	if got := carol.ask(`\system`); !strings.Contains(got, "你是海盗") {
		t.Errorf(`a member reading the group's prompt got %q`, got)
	}
}

func TestControlModelListedSwitchedAndRefused(t *testing.T) {
	t.Parallel()
	st := echoStack(t, map[string]string{"MODEL": "model-a", "MODELS": "model-a,model-b", "ADMIN_USERS": "staff-root"})
	alice := single(t, st, "alice")
	if got := plain(alice.ask(`\model`)); got != "可用的模型（✓ 为当前使用的）：\n✓ model-a\n  model-b" {
		t.Errorf(`\model answered %q`, got)
	}
	if got := alice.ask(`\model model-z`); !strings.Contains(got, "没有名为 model-z 的模型") || !strings.Contains(got, "model-b") {
		t.Errorf(`an unknown model answered %q`, got)
	}
	if got := alice.ask(`\model model-b`); got != "本会话已切换到模型 model-b。" {
		t.Errorf(`switching answered %q`, got)
	}
	alice.ask("用哪个模型")
	if r := requestsFor(st, "用哪个模型"); len(r) != 1 || r[0].Model != "model-b" {
		t.Errorf("the next request named %+v; want model-b", r)
	}
	carol := group(t, st, "g1", "carol")
	if got := carol.ask(`\model model-b`); !strings.Contains(got, "只有管理员") {
		t.Errorf(`a member's \model in a group answered %q`, got)
	}
	carol.ask("群里用哪个")
	if r := requestsFor(st, "群里用哪个"); len(r) != 1 || r[0].Model != "model-a" {
		t.Errorf("the group's request named %+v; want model-a, untouched", r)
	}
	if got := alice.ask(`\help`); !strings.Contains(got, `\model`) || !strings.Contains(got, `\system`) {
		t.Errorf(`\help does not list \model and \system: %q`, got)
	}
}

// plain is a markdown answer's text as it reads: the two spaces that keep
// each line break in DingTalk's markdown taken out.
func plain(markdown string) string { return strings.ReplaceAll(markdown, "  \n", "\n") }

// \stop reaches another reply instance than the one writing the answer
// (the local FC gives invocations to its instances in turn, and the first
// is busy): the writer sees the request on the bucket, stops asking the
// model, shows what it wrote marked as stopped, and keeps no turn.
func TestControlStopEndsAStreamedCardAndAPlainAnswerOnAnotherInstance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		card bool
	}{{"card", true}, {"message", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := devstack.Config{
				ReplyInstances: 2,
				// The model writes one piece, then would write for ten
				// minutes more: only \stop ends it in time.
				Model: openaitest.Fixed(openaitest.Response{Chunks: []string{"第一段。", "第二段。"}, ChunkDelay: 10 * time.Minute}),
			}
			if tc.card {
				cfg.ReplyEnv = map[string]string{"CARD_TEMPLATE_ID": "fcrobot-test.schema", "CARD_CONTENT_KEY": "answer", "CARD_UPDATE_INTERVAL": "200ms"}
				cfg.DingTalkApp = true
			}
			st := start(t, cfg)
			if tc.card {
				st.DingTalk.AddCardTemplate("fcrobot-test.schema", "answer")
			}
			alice := single(t, st, "alice")
			alice.send("写一篇很长的文章")
			writer := busyInstance(t, st)
			waitFor(t, "the model asked", func() bool { return len(st.Model.Requests()) == 1 })

			alice.send(`\stop`)
			want := "第一段。\n\n（已停止）"
			// The stop's confirmation, and in a message the stopped
			// answer, arrive in either order.
			messages := 1
			if !tc.card {
				messages = 2
			}
			alice.waitAnswer(messages)
			var texts []string
			for _, p := range alice.posts() {
				texts = append(texts, plain(p.Content()))
			}
			if !slices.ContainsFunc(texts, func(s string) bool { return strings.Contains(s, "停下") }) {
				t.Errorf(`no post confirms the \stop: %q`, texts)
			}
			if tc.card {
				ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
				defer cancel()
				cards, err := st.DingTalk.WaitCards(ctx, 1, true)
				if err != nil {
					t.Fatal(err)
				}
				if got := cards[0].Content("answer"); got != want {
					t.Errorf("the stopped card shows %q; want %q", got, want)
				}
			} else if !slices.Contains(texts, want) {
				t.Errorf("the posts read %q; want the stopped answer %q among them", texts, want)
			}
			waitFor(t, "the model's request given up", func() bool { return st.Model.Abandoned() == 1 })
			if stopper := instanceLogging(t, st, "stop requested"); stopper == writer {
				t.Errorf("one instance both wrote the answer and took the \\stop; the case needs two")
			}
			if w := instanceLogging(t, st, "stopped by the asker"); w != writer {
				t.Errorf("the answer was stopped by another instance than the one writing it")
			}
			waitFC(t, st)

			// No turn was kept: the next question goes alone.
			st.Model.SetResponder(openaitest.Echo("答："))
			alice.send("下一个问题")
			waitFor(t, "the next question asked", func() bool { return len(requestsFor(st, "下一个问题")) > 0 })
			if r := requestsFor(st, "下一个问题"); len(r) != 1 || r[0].EarlierTurns() != 0 {
				t.Errorf("after a stopped answer the model saw %+v; want no earlier turn", r)
			}
		})
	}
}

// waitFor waits up to a minute for cond, and fails the test if it never
// holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
