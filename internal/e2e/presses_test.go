package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/mcp/mcptest"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// The buttons of the robot's cards end to end (issue 21): the reply
// function registers where DingTalk sends their presses, the fake DingTalk
// sends signed presses there, the conversation function checks each and
// hands it to a reply instance, which does what it asks; the card changes
// for everyone through the card API.

// cardEnv are the reply function's variables of an answer that streams
// into a card.
func cardEnv() map[string]string {
	return map[string]string{"CARD_TEMPLATE_ID": "fcrobot-test.schema", "CARD_CONTENT_KEY": "answer", "CARD_UPDATE_INTERVAL": "100ms"}
}

// buttonsStack runs cfg with cards that have buttons: the stack gives the
// functions a route key and a secret, and registers nothing itself.
func buttonsStack(t *testing.T, cfg devstack.Config) *devstack.Stack {
	t.Helper()
	cfg.DingTalkApp, cfg.CardButtons = true, true
	env := cardEnv()
	maps.Copy(env, cfg.ReplyEnv)
	cfg.ReplyEnv = env
	st := start(t, cfg)
	st.DingTalk.AddCardTemplate("fcrobot-test.schema", "answer")
	return st
}

// answerStack is a buttons stack whose model streams answer over a few
// hundred milliseconds.
func answerStack(t *testing.T, answer string, replyEnv map[string]string) *devstack.Stack {
	t.Helper()
	return buttonsStack(t, devstack.Config{
		Model:    openaitest.Fixed(openaitest.Response{Content: answer, Chunks: chunked(answer), ChunkDelay: 10 * time.Millisecond}),
		ReplyEnv: replyEnv,
	})
}

// press presses a button of a card as user, as DingTalk does, and checks
// that DingTalk got the conversation function's {} within its 2 s.
func press(t *testing.T, st *devstack.Stack, card dingtalktest.Card, user string, params map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := st.DingTalk.Press(ctx, card.OutTrackID, user, params)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Answered() || res.Body != "{}" || res.Took >= dingtalktest.PressAnswerWindow {
		t.Errorf("%s's press of %q: DingTalk got %d %q after %v; want 200 {} within %v",
			user, params["action"], res.Status, res.Body, res.Took, dingtalktest.PressAnswerWindow)
	}
}

func action(a string) map[string]string { return map[string]string{"action": a} }

// waitRegistered waits until the reply function has registered the
// callback URL, which it does beside the first message's answer.
func waitRegistered(t *testing.T, st *devstack.Stack) {
	t.Helper()
	waitFor(t, "the card callback registered", func() bool {
		_, ok := st.DingTalk.CardCallback(st.CardRouteKey)
		return ok
	})
}

// waitCard waits until the stack's first card satisfies cond, and returns
// it.
func waitCard(t *testing.T, st *devstack.Stack, what string, cond func(dingtalktest.Card) bool) dingtalktest.Card {
	t.Helper()
	var card dingtalktest.Card
	waitFor(t, what, func() bool {
		cards := st.DingTalk.Cards()
		if len(cards) == 0 {
			return false
		}
		card = cards[0]
		return cond(card)
	})
	return card
}

// The reply function registers where DingTalk sends the presses: the
// conversation function's /card, which each message's event names, for
// the route key and with the secret it was given; once, however many
// messages and instances there are.
func TestButtonCallbackRegisteredOnceByTheReplyFunction(t *testing.T) {
	t.Parallel()
	st := buttonsStack(t, devstack.Config{ReplyInstances: 2, Model: openaitest.Echo("答：")})
	if regs := st.DingTalk.CardCallbackRegistrations(); len(regs) != 0 {
		t.Fatalf("registrations before any message: %+v; want the stack to register nothing itself", regs)
	}
	alice, carol := single(t, st, "alice"), group(t, st, "g1", "carol")
	// Each instance gets messages: the local FC hands them out in turn.
	for _, q := range []string{"第一问", "第二问", "第三问"} {
		alice.askCard(q)
		waitFC(t, st)
	}
	carol.send("群里问一句")
	waitFC(t, st)
	for _, p := range st.Replies {
		if !strings.Contains(p.Output(), "FC Invoke Start") {
			t.Errorf("%s got no message; the case needs both instances", p.Name)
		}
	}
	regs := st.DingTalk.CardCallbackRegistrations()
	if len(regs) != 1 {
		t.Fatalf("%d registrations: %+v; want one", len(regs), regs)
	}
	if r := regs[0]; r.RouteKey != st.CardRouteKey || r.URL != st.CardCallbackURL() || r.APISecret != st.CardSecret {
		t.Errorf("registered route key %q, URL %q, secret ok %v; want %q at %q with the stack's secret",
			r.RouteKey, r.URL, r.APISecret == st.CardSecret, st.CardRouteKey, st.CardCallbackURL())
	}
	// Each message's event names the callback URL the reply function
	// registered.
	waitOutput(t, st.Conversation, `"cardCallbackUrl":"`+st.CardCallbackURL()+`"`)
}

// A card with buttons shows Stop while the answer streams, then the votes;
// a press sent twice, as DingTalk's retry would, is answered {} within
// 2 s each time, handed to the reply function once, and counted once: the
// card shows the vote to everyone.
func TestAPressSentTwiceCountsOnce(t *testing.T) {
	t.Parallel()
	answer := "函数计算按调用计费，空闲不收费。"
	st := answerStack(t, answer, nil)
	alice := single(t, st, "alice")
	card := alice.askCard("介绍一下函数计算")
	waitFC(t, st)
	card = st.DingTalk.Cards()[0]
	if card.CallbackType != "HTTP" || card.CallbackRouteKey != st.CardRouteKey || card.Content("answer") != answer {
		t.Fatalf("card %+v; want the answer in a card for HTTP callbacks on the stack's route key", card)
	}
	if card.Data[dingtalk.CardVarStopVisible] != "true" || card.Var(dingtalk.CardVarStopVisible) != "false" || card.Var(dingtalk.CardVarFeedbackVisible) != "true" {
		t.Errorf("the card was created with stop %q and shows stop %q, votes %q; want Stop while it streamed, then the votes",
			card.Data[dingtalk.CardVarStopVisible], card.Var(dingtalk.CardVarStopVisible), card.Var(dingtalk.CardVarFeedbackVisible))
	}
	waitRegistered(t, st)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	like := dingtalktest.PressRequest{OutTrackID: card.OutTrackID, UserID: "staff-alice", Params: action("like"), Timestamp: time.Now()}
	for range 2 {
		res, err := st.DingTalk.PressWith(ctx, like)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Answered() || res.Body != "{}" || res.Took >= dingtalktest.PressAnswerWindow {
			t.Errorf("DingTalk got %d %q after %v; want 200 {} within %v", res.Status, res.Body, res.Took, dingtalktest.PressAnswerWindow)
		}
	}
	waitFC(t, st)
	if n := pressTasks(st); n != 1 {
		t.Errorf("%d FC tasks of presses; want the press sent twice handed over once", n)
	}
	card = st.DingTalk.Cards()[0]
	if card.Var(dingtalk.CardVarLikes) != "1" || card.Var(dingtalk.CardVarDislikes) != "0" {
		t.Errorf("the card shows 👍 %q 👎 %q; want the one like", card.Var(dingtalk.CardVarLikes), card.Var(dingtalk.CardVarDislikes))
	}
	out := waitOutput(t, st.Reply, `"msg":"vote"`)
	for _, want := range []string{`"action":"like"`, `"outTrackId":"` + card.OutTrackID + `"`, `"counted":true`} {
		if !strings.Contains(out, want) {
			t.Errorf("the reply function's log of the vote lacks %s", want)
		}
	}
	if n := len(st.DingTalk.Cards()); n != 1 || len(alice.posts()) != 0 {
		t.Errorf("after the press: %d cards, %d messages; want the card changed, nothing sent", n, len(alice.posts()))
	}
}

// A press with a wrong signature, on a card the robot never made, or of a
// button the robot has not, is refused within DingTalk's 2 s and reaches
// nothing; one on a card the robot keeps no record of is taken, and does
// nothing: the card is as it was.
func TestForgedPressesAreRefusedAndReachNothing(t *testing.T) {
	t.Parallel()
	st := answerStack(t, "答。", nil)
	alice := single(t, st, "alice")
	card := alice.askCard("你好")
	waitFC(t, st)
	waitRegistered(t, st)
	card = st.DingTalk.Cards()[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	like := action("like")
	for _, tt := range []struct {
		name   string
		req    dingtalktest.PressRequest
		status int
	}{
		{"a wrong signature", dingtalktest.PressRequest{OutTrackID: card.OutTrackID, UserID: "staff-alice", Params: like, Secret: "a-forgers-secret-0123456789"}, http.StatusForbidden},
		{"an hour-old signature", dingtalktest.PressRequest{OutTrackID: card.OutTrackID, UserID: "staff-alice", Params: like, Timestamp: time.Now().Add(-2 * time.Hour)}, http.StatusForbidden},
		{"a card the robot never made", dingtalktest.PressRequest{RouteKey: st.CardRouteKey, OutTrackID: "fcrobot-0123456789abcdef0123456789abcdef_0123456789abcdef", UserID: "staff-alice", Params: like}, http.StatusForbidden},
		{"a button the robot has not", dingtalktest.PressRequest{OutTrackID: card.OutTrackID, UserID: "staff-alice", Params: map[string]string{"action": "delete_everything"}}, http.StatusBadRequest},
	} {
		res, err := st.DingTalk.PressWith(ctx, tt.req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if res.Status != tt.status || res.TimedOut || res.Took >= dingtalktest.PressAnswerWindow {
			t.Errorf("%s: DingTalk got %d after %v; want %d within %v", tt.name, res.Status, res.Took, tt.status, dingtalktest.PressAnswerWindow)
		}
	}
	waitFC(t, st)
	if n := pressTasks(st); n != 0 {
		t.Errorf("%d refused presses were handed to the reply function", n)
	}
	for _, want := range []string{"card callback refused", "signature mismatch", "too far from the current time", "not one of this robot's cards", "not one of the robot's buttons"} {
		waitOutput(t, st.Conversation, want)
	}
	// A card of the robot's own that it keeps no record of (older than a
	// week): its id passes the conversation function's check, and the
	// press is taken, but the reply function finds no question and does
	// nothing.
	oldCard := dingtalk.CardIDs{Secret: st.CardSecret}.New("fcrobot-0123456789abcdef0123456789abcdef")
	res, err := st.DingTalk.PressWith(ctx, dingtalktest.PressRequest{RouteKey: st.CardRouteKey, OutTrackID: oldCard, UserID: "staff-alice", Params: like})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Answered() || res.Took >= dingtalktest.PressAnswerWindow {
		t.Errorf("a press on a card without a record: DingTalk got %d after %v; want 200 within %v", res.Status, res.Took, dingtalktest.PressAnswerWindow)
	}
	waitFC(t, st)
	waitOutput(t, st.Reply, "a press on a card the robot has no record of")
	if n := len(alice.posts()); n != 0 {
		t.Errorf("%d messages after the presses; want none", n)
	}
	if after := st.DingTalk.Cards()[0]; len(after.DataUpdates) != len(card.DataUpdates) || after.Var(dingtalk.CardVarLikes) != "0" {
		t.Errorf("the card had %d updates for everyone and shows %q likes; after the forged presses %d and %q: want it unchanged",
			len(card.DataUpdates), card.Var(dingtalk.CardVarLikes), len(after.DataUpdates), after.Var(dingtalk.CardVarLikes))
	}
}

// Stop pressed on a streaming card reaches another reply instance than the
// one writing the answer: the writer sees the request on the bucket, stops
// asking the model, and the card keeps what was written, marked stopped,
// with the votes in place of Stop.
func TestPressStopEndsAStreamingCardFromAnotherInstance(t *testing.T) {
	t.Parallel()
	st := buttonsStack(t, devstack.Config{
		ReplyInstances: 2,
		// One piece, then ten minutes more: only Stop ends it in time.
		Model:    openaitest.Fixed(openaitest.Response{Chunks: []string{"第一段。", "第二段。"}, ChunkDelay: 10 * time.Minute}),
		ReplyEnv: map[string]string{"CARD_UPDATE_INTERVAL": "200ms"},
	})
	alice := single(t, st, "alice")
	alice.send("写一篇很长的文章")
	writer := busyInstance(t, st)
	card := waitCard(t, st, "the first piece on the card", func(c dingtalktest.Card) bool { return c.Content("answer") == "第一段。" })
	if card.Var(dingtalk.CardVarStopVisible) != "true" {
		t.Errorf("the streaming card shows stop %q; want Stop", card.Var(dingtalk.CardVarStopVisible))
	}
	waitRegistered(t, st)

	press(t, st, card, "staff-alice", action("stop"))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := st.DingTalk.WaitCards(ctx, 1, true); err != nil {
		t.Fatal(err)
	}
	waitFC(t, st)
	card = st.DingTalk.Cards()[0]
	if got, want := card.Content("answer"), "第一段。\n\n（已停止）"; got != want {
		t.Errorf("the stopped card shows %q; want %q", got, want)
	}
	if card.Failed() || card.Var(dingtalk.CardVarStopVisible) != "false" || card.Var(dingtalk.CardVarFeedbackVisible) != "true" {
		t.Errorf("the stopped card: failed %v, stop %q, votes %q; want it finished with the votes and no Stop",
			card.Failed(), card.Var(dingtalk.CardVarStopVisible), card.Var(dingtalk.CardVarFeedbackVisible))
	}
	waitFor(t, "the model's request given up", func() bool { return st.Model.Abandoned() == 1 })
	if stopper := instanceLogging(t, st, "stop requested by the card's button"); stopper == writer {
		t.Errorf("one instance both wrote the answer and took the press; the case needs two")
	}
	if w := instanceLogging(t, st, "stopped by the asker"); w != writer {
		t.Errorf("the answer was stopped by another instance than the one writing it")
	}
	if n := len(alice.posts()); n != 0 {
		t.Errorf("%d messages besides the card; want the card alone", n)
	}
}

// held is a model that streams its answer only once released, so that a
// test can press while the answer is being written.
type held struct {
	release chan struct{}
	answer  openaitest.Response
}

func hold(answer openaitest.Response) *held {
	return &held{release: make(chan struct{}), answer: answer}
}

func (h *held) respond(ctx context.Context, _ openaitest.Request) openaitest.Response {
	select {
	case <-h.release:
	case <-ctx.Done():
	}
	return h.answer
}

// Stop pressed by a member of the group who did not ask, and is no
// administrator, is answered within 2 s and changes nothing: the answer
// goes on to its end.
func TestPressStopBySomeoneElseChangesNothing(t *testing.T) {
	t.Parallel()
	answer := "第一段。第二段。第三段。第四段。"
	// Streamed over more than the writer's look for a stop (a second): a
	// stop kept by mistake would be seen.
	model := hold(openaitest.Response{Content: answer, Chunks: []string{"第一段。", "第二段。", "第三段。", "第四段。"}, ChunkDelay: 500 * time.Millisecond})
	data := t.TempDir()
	st := buttonsStack(t, devstack.Config{
		ReplyInstances: 2, Model: model.respond, DataDir: data,
		ReplyEnv: map[string]string{"ADMIN_USERS": "staff-root"},
	})
	carol := group(t, st, "g1", "carol")
	carol.send("写一篇文章")
	card := waitCard(t, st, "the card", func(c dingtalktest.Card) bool { return c.Delivered })
	waitFor(t, "the model asked", func() bool { return len(st.Model.Requests()) == 1 })
	// A person sees the card before they press it; the test presses at
	// once, so it waits for the card's record, kept as the card is made.
	waitCardKept(t, data, card.OutTrackID)
	waitRegistered(t, st)

	press(t, st, card, "staff-dave", action("stop"))
	instanceLogging(t, st, "a Stop pressed by someone other than the asker")
	close(model.release)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cards, err := st.DingTalk.WaitCards(ctx, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := cards[0].Content("answer"); got != answer {
		t.Errorf("the card shows %q; want the whole answer, not stopped", got)
	}
	waitFC(t, st)
	if n := st.Model.Abandoned(); n != 0 {
		t.Errorf("the model's request was given up %d times", n)
	}
	for _, p := range st.Replies {
		if strings.Contains(p.Output(), "stop requested") {
			t.Errorf("%s took the press as a stop", p.Name)
		}
	}
}

// 👍 and 👎 on a finished answer in a group: each member's vote counts
// once (pressed twice, or a like then a dislike), the card shows the
// counts to everyone, and \feedback shows an administrator the day's
// votes and refuses anyone else.
func TestPressVotesCountOncePerPersonAndFeedbackShowsThem(t *testing.T) {
	t.Parallel()
	// The question's day is the day its votes count in: every message is
	// sent at one instant.
	sent := time.Now()
	st := buttonsStack(t, devstack.Config{
		Model:         openaitest.Fixed(openaitest.Response{Content: "答。"}),
		DingTalkClock: func() time.Time { return sent },
		ReplyEnv:      map[string]string{"ADMIN_USERS": "staff-root"},
	})
	carol, dave := group(t, st, "g1", "carol"), group(t, st, "g1", "dave")
	root := group(t, st, "g1", "root")
	card := carol.askCard("函数计算怎么计费？")
	waitFC(t, st)
	waitRegistered(t, st)

	metered := st.DingTalk.MeteredCalls()
	for _, p := range []struct{ user, action string }{
		{"staff-carol", "like"}, {"staff-carol", "like"},
		{"staff-dave", "like"}, {"staff-dave", "dislike"},
		{"staff-erin", "dislike"},
	} {
		press(t, st, card, p.user, action(p.action))
		// One at a time: each press is done before the next.
		waitFC(t, st)
	}
	card = st.DingTalk.Cards()[0]
	if l, d := card.Var(dingtalk.CardVarLikes), card.Var(dingtalk.CardVarDislikes); l != "2" || d != "1" {
		t.Errorf("the card shows 👍 %s 👎 %s; want 2 and 1: carol's and dave's first votes, and erin's", l, d)
	}
	// A vote that counts changes the card for everyone with one metered
	// call; one that does not count, none.
	if n := st.DingTalk.MeteredCalls() - metered; n != 3 {
		t.Errorf("the presses cost %d metered calls; want 3, one per vote counted", n)
	}

	day := sent.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02")
	got := plain(root.ask(`\feedback`))
	if !strings.Contains(got, day+"：👍 2　👎 1") || !strings.Contains(got, "合计：👍 2　👎 1") {
		t.Errorf(`the administrator's \feedback answered %q; want %s's 2 likes and 1 dislike`, got, day)
	}
	if got := dave.ask(`\feedback`); !strings.Contains(got, "只有管理员") || strings.Contains(got, "👍 2") {
		t.Errorf(`a member's \feedback answered %q; want a refusal`, got)
	}
	if got := root.ask(`\help`); !strings.Contains(got, `\feedback`) {
		t.Errorf(`\help does not list \feedback: %q`, got)
	}
}

// confirmServers is an MCP server whose create_ticket waits for a person's
// yes (MCP_SERVERS' confirm), and the model that asks for it and then
// answers with what it got.
func confirmServers(t *testing.T) (*mcptest.Server, map[string]string, openaitest.Responder) {
	t.Helper()
	docs := mcptest.NewServer()
	docsHTTP := httptest.NewServer(docs)
	t.Cleanup(docsHTTP.Close)
	servers, _ := json.Marshal([]map[string]any{{"name": "docs", "url": docsHTTP.URL, "confirm": []string{mcptest.CreateTicket}}})
	model := openaitest.UseTools(func(_ openaitest.Request, results []openaitest.Message) string {
		if len(results) == 0 {
			return "没有工具结果"
		}
		return "工具结果：" + results[0].Content
	}, []openaitest.ToolCall{{Name: "docs__create_ticket", Arguments: `{"title":"部署失败"}`}})
	return docs, map[string]string{"MCP_SERVERS": string(servers)}, model
}

// A confirm-listed tool in a card: the card asks with Allow and Deny; the
// asker's approve makes the call, once; deny does not, and the model is
// told it was refused; no decision within CONFIRM_WAIT (10 s, its least)
// does not either.
func TestPressConfirmApproveDenyOrNoDecisionOnACard(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		press    string // "" presses nothing
		tickets  int
		answer   string
		outcome  string
		waitSecs string
	}{
		{"approve", "approve", 1, "工具结果：已创建工单 #1001：部署失败", "✅ 已允许", "60"},
		{"deny", "deny", 0, "工具结果：用户拒绝了这次工具调用", "❌ 已拒绝", "60"},
		{"no decision", "", 0, "工具结果：在规定时间内没有人允许这次工具调用", "⌛ 无人允许，未执行", "10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			docs, env, model := confirmServers(t)
			env["CONFIRM_WAIT"] = tc.waitSecs
			st := buttonsStack(t, devstack.Config{ReplyInstances: 2, Model: model, ReplyEnv: env})
			alice := single(t, st, "alice")
			alice.send("帮我建个工单：部署失败")
			card := waitCard(t, st, "the card's question", func(c dingtalktest.Card) bool {
				return c.Var(dingtalk.CardVarConfirmVisible) == "true"
			})
			q := card.Var(dingtalk.CardVarConfirmText)
			if !strings.Contains(q, "docs.create_ticket") || !strings.Contains(q, "部署失败") || !strings.Contains(q, "允许") {
				t.Errorf("the card asks %q; want the tool and its arguments, and how to allow it", q)
			}
			if call := card.Var(dingtalk.CardVarConfirmCall); call == "" {
				t.Errorf("the card names no call for its buttons to send back")
			}
			if n := docs.Calls(mcptest.CreateTicket); n != 0 {
				t.Fatalf("the ticket was made %d times before anyone allowed it", n)
			}
			if tc.press != "" {
				waitRegistered(t, st)
				press(t, st, card, "staff-alice", map[string]string{"action": tc.press, "call": card.Var(dingtalk.CardVarConfirmCall)})
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			if _, err := st.DingTalk.WaitCards(ctx, 1, true); err != nil {
				t.Fatal(err)
			}
			waitFC(t, st)
			card = st.DingTalk.Cards()[0]
			if got := card.Content("answer"); !strings.HasPrefix(got, tc.answer) {
				t.Errorf("the card's answer %q; want it to start %q", got, tc.answer)
			}
			if card.Var(dingtalk.CardVarConfirmVisible) != "false" || card.Var(dingtalk.CardVarConfirmText) != tc.outcome {
				t.Errorf("the card shows the question %q: %q; want it hidden, and %q", card.Var(dingtalk.CardVarConfirmVisible), card.Var(dingtalk.CardVarConfirmText), tc.outcome)
			}
			if n := docs.Calls(mcptest.CreateTicket); n != tc.tickets {
				t.Errorf("the ticket was made %d times; want %d", n, tc.tickets)
			}
			if n := len(alice.posts()); n != 0 {
				t.Errorf("%d messages besides the card; want the card alone", n)
			}
		})
	}
}

// Someone who may not decide (in a group with administrators, a member)
// approving on the card changes nothing: the call waits on, and an
// administrator's deny decides.
func TestPressApproveBySomeoneNotAllowedChangesNothing(t *testing.T) {
	t.Parallel()
	docs, env, model := confirmServers(t)
	env["ADMIN_USERS"] = "staff-root"
	st := buttonsStack(t, devstack.Config{ReplyInstances: 2, Model: model, ReplyEnv: env})
	carol := group(t, st, "g1", "carol")
	carol.send("帮我建个工单：部署失败")
	card := waitCard(t, st, "the card's question", func(c dingtalktest.Card) bool {
		return c.Var(dingtalk.CardVarConfirmVisible) == "true"
	})
	if q := card.Var(dingtalk.CardVarConfirmText); !strings.Contains(q, "需要管理员在") {
		t.Errorf("the card asks %q; want it to say an administrator decides", q)
	}
	waitRegistered(t, st)
	call := card.Var(dingtalk.CardVarConfirmCall)
	// The asker is no administrator: in this group, not theirs to decide.
	press(t, st, card, "staff-carol", map[string]string{"action": "approve", "call": call})
	instanceLogging(t, st, "decision on a tool call pressed")
	press(t, st, card, "staff-root", map[string]string{"action": "deny", "call": call})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cards, err := st.DingTalk.WaitCards(ctx, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := cards[0].Var(dingtalk.CardVarConfirmText); got != "❌ 已拒绝" {
		t.Errorf("the card shows %q; want the administrator's deny", got)
	}
	waitFC(t, st)
	if n := docs.Calls(mcptest.CreateTicket); n != 0 {
		t.Errorf("the ticket was made %d times; a member's approve made it", n)
	}
}

// Without a card the question comes as a message, and \yes from the
// asker decides: the call is made once and the answer holds its result.
func TestConfirmWithoutACardIsDecidedByYes(t *testing.T) {
	t.Parallel()
	docs, env, model := confirmServers(t)
	st := start(t, devstack.Config{ReplyInstances: 2, Model: model, ReplyEnv: env})
	alice := single(t, st, "alice")
	alice.send("帮我建个工单：部署失败")
	q := plain(alice.waitAnswer(1))
	code := regexp.MustCompile(`\\yes ([0-9a-f]{6})`).FindStringSubmatch(q)
	if !strings.Contains(q, "docs.create_ticket") || !strings.Contains(q, "部署失败") || code == nil || !strings.Contains(q, `\no `+code[1]) {
		t.Fatalf("the question reads %q; want the tool, its arguments, and \\yes or \\no with the question's code", q)
	}
	if n := docs.Calls(mcptest.CreateTicket); n != 0 {
		t.Fatalf("the ticket was made %d times before anyone allowed it", n)
	}
	alice.send(`\yes ` + code[1])
	// The \yes's reply and the answer arrive in either order.
	alice.waitAnswer(3)
	waitFC(t, st)
	var texts []string
	for _, p := range alice.posts() {
		texts = append(texts, plain(p.Content()))
	}
	if !slices.ContainsFunc(texts, func(s string) bool { return strings.Contains(s, "好的，允许编号 "+code[1]) }) {
		t.Errorf(`no message confirms the \yes: %q`, texts)
	}
	if !slices.Contains(texts, "工具结果：已创建工单 #1001：部署失败") {
		t.Errorf("the messages read %q; want the answer with the ticket", texts)
	}
	if n := docs.Calls(mcptest.CreateTicket); n != 1 {
		t.Errorf("the ticket was made %d times; want once", n)
	}
	if len(texts) != 3 {
		t.Errorf("%d messages: %q; want the question, the \\yes's reply and the answer", len(texts), texts)
	}
}

// pressTasks counts the presses the conversation function handed to FC.
func pressTasks(st *devstack.Stack) int {
	n := 0
	for _, inv := range st.FC.Invocations() {
		if strings.HasPrefix(inv.TaskID, "dingtalk-press-") {
			n++
		}
	}
	return n
}

// waitCardKept waits until the reply function has kept which question the
// card answers, in the bucket's folder data (bucket.Cards: a file named
// after the hex SHA-256 of the card's outTrackId).
func waitCardKept(t *testing.T, data, outTrackID string) {
	t.Helper()
	sum := sha256.Sum256([]byte(outTrackID))
	name := hex.EncodeToString(sum[:]) + ".json"
	waitFor(t, "the card's record kept", func() bool {
		found := false
		filepath.WalkDir(data, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Name() == name {
				found = true
				return filepath.SkipAll
			}
			return nil
		})
		return found
	})
}
