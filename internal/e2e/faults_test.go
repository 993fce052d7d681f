package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
	"github.com/dingtalk-llm/fcrobot/internal/oss/osstest"
)

// The fault-injection suite: each case drives a fault of the world through
// the real programs and reports what was sent and what came out.

func report(t *testing.T, messages, answers, duplicates, lostTurns int) {
	t.Helper()
	t.Logf("%s: %d messages, %d answers, %d duplicates, %d lost turns", t.Name(), messages, answers, duplicates, lostTurns)
	if answers != messages || duplicates != 0 || lostTurns != 0 {
		t.Errorf("want every message answered once and no turn lost")
	}
}

// answersPerQuestion counts, per question text, the answers the Echo model's
// "答：<question>" posts carry.
func answersPerQuestion(st *devstack.Stack) map[string]int {
	n := map[string]int{}
	for _, p := range st.DingTalk.Posts() {
		if p.Errcode == 0 {
			n[strings.TrimPrefix(p.Content(), "答：")]++
		}
	}
	return n
}

func TestFaultManyMessagesOfOneUserAtOnceOnSeveralInstances(t *testing.T) {
	t.Parallel()
	manyMessagesAtOnce(t, start(t, manyMessagesStack(false)))
}

// FC's at-least-once delivery, at its worst: every event delivered twice at
// the same instant, to two of the three instances.
func TestFaultEveryEventDeliveredTwiceAtOnceIsAnsweredOnce(t *testing.T) {
	t.Parallel()
	manyMessagesAtOnce(t, start(t, manyMessagesStack(true)))
}

// manyMessagesStack is three reply instances over one bucket, the local FC
// delivering every event twice at once when twice.
func manyMessagesStack(twice bool) devstack.Config {
	return devstack.Config{
		Model: openaitest.Echo("答："), ReplyInstances: 3, FCDuplicateDeliveries: twice,
		ReplyEnv: map[string]string{"HISTORY_LENGTH": "100"},
	}
}

// manyMessagesAtOnce sends 40 messages of one user at once to st's reply
// instances, and checks that each is answered once, the model asked once
// for each, and the history holds every turn once, in createAt order.
func manyMessagesAtOnce(t *testing.T, st *devstack.Stack) {
	const messages = 40
	alice := single(t, st, "alice")
	var cbs []dingtalktest.Callback
	for i := range messages {
		cbs = append(cbs, st.DingTalk.TextCallback(alice.conv, alice.from, fmt.Sprintf("第 %02d 问", i)))
		time.Sleep(2 * time.Millisecond) // distinct createAt: the history's order
	}
	rand.Shuffle(len(cbs), func(i, j int) { cbs[i], cbs[j] = cbs[j], cbs[i] })
	deliverAtOnce(t, st, cbs)
	alice.waitAnswer(messages)
	waitFC(t, st)

	counts := answersPerQuestion(st)
	duplicates := 0
	for _, n := range counts {
		duplicates += max(n-1, 0)
	}
	for q, n := range askedPerQuestion(st) {
		if n != 1 {
			t.Errorf("the model was asked %q %d times", q, n)
		}
	}
	// One more question shows what the history holds, in its order.
	alice.ask("最后一问")
	r := requestsFor(st, "最后一问")[0]
	var stored []string
	for _, m := range r.Messages {
		if m.Role == "user" && m.Content != "最后一问" {
			stored = append(stored, m.Content)
		}
	}
	lost := messages - len(stored)
	for i, q := range stored {
		if want := fmt.Sprintf("第 %02d 问", i); q != want && lost == 0 {
			t.Errorf("history out of createAt order at %d: %q, want %q", i, q, want)
			break
		}
	}
	report(t, messages, len(counts), duplicates, lost)
}

func TestFaultModelRateLimitsAndDropsThenAnswers(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	st := start(t, devstack.Config{Model: func(_ context.Context, r openaitest.Request) openaitest.Response {
		mu.Lock()
		defer mu.Unlock()
		q := r.LastUserMessage()
		seen[q]++
		switch {
		case strings.HasPrefix(q, "429") && seen[q] <= 2:
			return openaitest.Response{Status: 429, ErrorMessage: "Rate limit reached"}
		case strings.HasPrefix(q, "503") && seen[q] == 1:
			return openaitest.Response{Status: 503}
		case strings.HasPrefix(q, "drop") && seen[q] == 1:
			return openaitest.Response{DropConnection: true}
		}
		return openaitest.Response{Content: "答：" + q}
	}})
	alice := single(t, st, "alice")
	questions := []string{"429 twice", "503 once", "drop once"}
	answers := 0
	for _, q := range questions {
		if got := alice.ask(q); got == "答："+q {
			answers++
		} else {
			t.Errorf("%q answered %q", q, got)
		}
	}
	alice.ask("再问")
	lost := len(questions) - requestsFor(st, "再问")[0].EarlierTurns()
	report(t, len(questions), answers, len(alice.posts())-len(questions)-1, lost)
}

func TestFaultModelThatNeverAnswersLeavesHistoryClean(t *testing.T) {
	t.Parallel()
	st := start(t, devstack.Config{
		ReplyEnv: map[string]string{"TIMEOUT": "2"},
		Model: func(_ context.Context, r openaitest.Request) openaitest.Response {
			switch r.LastUserMessage() {
			case "坏钥匙":
				return openaitest.Response{Status: 401, ErrorMessage: "Incorrect API key provided: sk-live-1234"}
			case "未知模型":
				return openaitest.Response{Status: 404, ErrorMessage: "The model `gpt-9` does not exist"}
			case "一直出错":
				return openaitest.Response{Status: 500}
			}
			return openaitest.Response{Content: "好"}
		},
	})
	alice := single(t, st, "alice")
	for q, want := range map[string]string{"坏钥匙": "API Key", "未知模型": "不认识配置的模型名称", "一直出错": "暂时不可用"} {
		if got := alice.ask(q); !strings.Contains(got, want) {
			t.Errorf("%q: user read %q, want it to say %q", q, got, want)
		}
	}
	if strings.Contains(fmt.Sprint(st.DingTalk.Posts()), "sk-live-1234") {
		t.Error("a key echoed by the provider reached the user")
	}
	alice.ask("好问题")
	if n := requestsFor(st, "好问题")[0].EarlierTurns(); n != 0 {
		t.Errorf("failed turns reached history: %d", n)
	}
	t.Logf("%s: 3 failing model calls, 3 explained to the user, 0 turns stored", t.Name())
}

func TestFaultReplyInstanceDiesMidAnswer(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 4)
	release := make(chan struct{})
	st := start(t, devstack.Config{ReplyInstances: 2, Model: func(ctx context.Context, r openaitest.Request) openaitest.Response {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return openaitest.Response{Content: "答：" + r.LastUserMessage()}
	}})
	alice := single(t, st, "alice")
	alice.send("实例崩溃时的问题")
	<-started
	// The instance working on it dies; FC sees the connection fail and
	// retries, and the other instance takes the message over.
	victim := busyInstance(t, st)
	victim.Kill()
	<-started
	close(release)
	got := alice.waitAnswer(1)
	waitFC(t, st)
	if got != "答：实例崩溃时的问题" {
		t.Errorf("answer %q", got)
	}
	if n := st.FC.Stats().DeliveryAttempts; n < 2 {
		t.Errorf("FC delivered %d times; the dead instance's invocation should have been retried", n)
	}
	report(t, 1, len(alice.posts()), len(alice.posts())-1, 0)
}

// FC delivers an event twice at once and the instance of the delivery
// that holds the message dies while the other waits; FC counts a success
// of either delivery for the attempt. The waiting one sees the dead
// holder's lease run out (reply.DefaultClaimLease, 30 s) and fails as the
// holder did, so FC retries, and the retry answers, once.
func TestFaultAHolderThatDiesWhileItsTwinWaitsIsAnsweredByFCsRetry(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 8)
	release := make(chan struct{})
	st := start(t, devstack.Config{
		ReplyInstances: 2, FCDuplicateDeliveries: true, FCDuplicateSuccessCounts: true,
		Model: func(ctx context.Context, r openaitest.Request) openaitest.Response {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return openaitest.Response{Content: "答：" + r.LastUserMessage()}
		},
	})
	alice := single(t, st, "alice")
	alice.send("持有者崩溃时的问题")
	<-started
	twin := waitingTwin(t, st)
	for _, p := range st.Replies {
		if p != twin {
			p.Kill() // the holder
		}
	}
	close(release)
	got := alice.waitAnswer(1)
	waitFC(t, st)
	if got != "答：持有者崩溃时的问题" || len(alice.posts()) != 1 {
		t.Errorf("%d answers, the last %q; want the one answer", len(alice.posts()), got)
	}
	if !strings.Contains(twin.Output(), "the first delivery of this attempt gave the message up or died") {
		t.Errorf("the waiting delivery did not fail for the dead holder:\n%s", twin.Output())
	}
	report(t, 1, len(alice.posts()), len(alice.posts())-1, 0)
}

// waitingTwin is the reply instance whose delivery waits for the other
// delivery of the same attempt.
func waitingTwin(t *testing.T, st *devstack.Stack) *devstack.Process {
	t.Helper()
	return instanceLogging(t, st, "a second delivery of this attempt")
}

func TestFaultSIGTERMFinishesTheAnswerInFlight(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	st := start(t, devstack.Config{Model: func(ctx context.Context, r openaitest.Request) openaitest.Response {
		started <- struct{}{}
		<-release
		return openaitest.Response{Content: "答完了"}
	}})
	alice := single(t, st, "alice")
	alice.send("缩容时的问题")
	<-started
	if err := st.Reply.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, st.Reply, "shutting down")
	close(release)
	if got := alice.waitAnswer(1); got != "答完了" {
		t.Errorf("answer %q", got)
	}
	select {
	case <-st.Reply.Done():
	case <-time.After(time.Minute):
		t.Fatal("reply did not exit after draining")
	}
	report(t, 1, len(alice.posts()), 0, 0)
}

func TestFaultWebhookRateLimitsThenAccepts(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	alice := single(t, st, "alice")
	st.DingTalk.FailNext(2, 410100, "send too fast")
	got := alice.ask("限流")
	waitFC(t, st)
	if got != "答：限流" {
		t.Errorf("answer %q", got)
	}
	if n := len(requestsFor(st, "限流")); n != 1 {
		t.Errorf("the model was asked %d times", n)
	}
	report(t, 1, len(alice.posts()), len(alice.posts())-1, 0)
}

func TestFaultBadInput(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	st := start(t, devstack.Config{Model: openaitest.Echo("答："), DataDir: data})
	alice := single(t, st, "alice")
	dt := st.DingTalk

	type tc struct {
		name string
		cb   dingtalktest.Callback
		want string // in the answer; "" means no answer is posted
	}
	hostile := func(field, value string) dingtalktest.Callback {
		cb := dt.TextCallback(alice.conv, alice.from, "hostile "+field)
		var m map[string]any
		json.Unmarshal(cb.Body, &m)
		m[field] = value
		cb.Body, _ = json.Marshal(m)
		return cb
	}
	junk := strings.Repeat("../\x00/", 800)
	cases := []tc{
		{"empty text", dt.TextCallback(alice.conv, alice.from, "   "), "没有收到文字内容"},
		{"picture", dt.PictureCallback(alice.conv, alice.from, "dl-1"), "看不了图片"},
		{"video", dt.VideoCallback(alice.conv, alice.from, "dl-2"), "看不了视频"},
		{"file", dt.FileCallback(alice.conv, alice.from, "dl-3", "a.pdf"), "打不开文件"},
		{"unknownMsgType", dt.UnknownCallback(alice.conv, alice.from), "这类消息我还不能处理"},
		{"audio", dt.AudioCallback(alice.conv, alice.from, "语音转成的文字"), "答：语音转成的文字"},
		{"richText", dt.RichTextCallback(alice.conv, alice.from, dingtalktest.RichTextItem{Text: "图文里的字"}, dingtalktest.RichTextItem{PictureDownloadCode: "dl-4"}), "答：图文里的字"},
		{"msgId with ../ and NUL", hostile("msgId", "../../etc/passwd\x00"), "答：hostile msgId"},
		{"4 KB conversationId", hostile("senderId", junk), "答：hostile senderId"},
	}
	answered := 0
	for _, c := range cases {
		before := len(alice.posts())
		resp, err := st.Deliver(context.Background(), c.cb.Body, time.Now())
		if err != nil || resp.Status != http.StatusOK {
			t.Errorf("%s: %v %+v", c.name, err, resp)
			continue
		}
		if got := alice.waitAnswer(before + 1); !strings.Contains(got, c.want) {
			t.Errorf("%s: answered %q, want %q", c.name, got, c.want)
		} else {
			answered++
		}
	}

	// A webhook that is not a URL: refused, nothing crashes.
	notURL := hostile("sessionWebhook", "::not a url::")
	if resp, _ := st.Deliver(context.Background(), notURL.Body, time.Now()); resp.Status != http.StatusOK {
		t.Errorf("webhook not a URL: callback answered %d", resp.Status)
	}
	waitFC(t, st)
	if got := alice.ask("还活着吗"); got != "答：还活着吗" {
		t.Errorf("after bad input the robot answers %q", got)
	}

	// Nothing was written outside the mount, and every name in it is ours.
	safe := regexp.MustCompile(`^([0-9a-f]{64}|[0-9]{8}|[0-9]{16}(-[0-9a-f]{16})?\.json|[a-z]+(-[0-9]+)?\.json|` +
		`[0-9a-f]{16}\.[0-9]+\.[0-9]+\.json|[0-9]{16}-(system|model-[0-9a-f]+)\.json|history|messages|questions|settings|stops|turns|cleared|v1)$`)
	filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if d != nil && d.IsDir() && d.Name() == osstest.StagingDir {
			return filepath.SkipDir // the local OSS's own uploads in flight, not the bucket's
		}
		if path != data && !safe.MatchString(d.Name()) {
			t.Errorf("unexpected name on the mount: %q", path)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(data, "..", "etc")); err == nil {
		t.Error("a path escaped the mount")
	}
	t.Logf("%s: %d bad inputs, %d answered politely, robot still answering", t.Name(), len(cases), answered)
	if answered != len(cases) {
		t.Errorf("%d of %d bad inputs answered", answered, len(cases))
	}
}

// busyInstance is the reply instance that has started an invocation.
func busyInstance(t *testing.T, st *devstack.Stack) *devstack.Process {
	t.Helper()
	return instanceLogging(t, st, "FC Invoke Start")
}

// instanceLogging is the first reply instance whose output says line.
func instanceLogging(t *testing.T, st *devstack.Stack, line string) *devstack.Process {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, p := range st.Replies {
			if strings.Contains(p.Output(), line) {
				return p
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no reply instance logged %q", line)
	return nil
}

func TestFaultExpiredWebhookIsAnsweredThroughTheOpenAPI(t *testing.T) {
	t.Parallel()
	st := start(t, devstack.Config{Model: openaitest.Echo("答："), DingTalkApp: true})
	alice, carol := single(t, st, "alice"), group(t, st, "g1", "carol")
	for _, c := range []chat{alice, carol} {
		st.DingTalk.ExpireSession(c.session())
		if resp := c.send("过期了"); resp.Status != http.StatusOK {
			t.Fatalf("callback answered %d", resp.Status)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	posts, err := st.DingTalk.WaitOpenAPIPosts(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, p := range posts {
		kinds[p.Kind] = true
		// The OpenAPI cannot @: the asker in the group is named instead.
		want := map[string]string{"oToMessages": "答：过期了", "groupMessages": "@carol\n\n答：过期了"}[p.Kind]
		if p.Content != want {
			t.Errorf("OpenAPI post %+v", p)
		}
	}
	if !kinds["oToMessages"] || !kinds["groupMessages"] {
		t.Errorf("want one one-to-one and one group send, got %+v", posts)
	}
	report(t, 2, len(posts), len(posts)-2, 0)
}

func TestFaultExpiredWebhookWithoutAnAppIsLoggedClearly(t *testing.T) {
	t.Parallel()
	st := echoStack(t, nil)
	alice := single(t, st, "alice")
	st.DingTalk.ExpireSession(alice.session())
	alice.send("过期了")
	waitFC(t, st)
	waitOutput(t, st.Reply, "DINGTALK_APP_KEY")
}

func TestFaultAnAnswerLongerThanDingTalkTakesArrivesInPieces(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("这是一段很长的回答。", 1000) + "\n\n```go\n" + strings.Repeat("fmt.Println(\"代码\")\n", 1500) + "```\n"
	st := start(t, devstack.Config{Model: openaitest.Answer(long)})
	alice := single(t, st, "alice")
	alice.send("写一篇长文")
	alice.waitAnswer(1)
	waitFC(t, st)
	posts := alice.posts()
	var joined strings.Builder
	fences := 0
	for _, p := range posts {
		joined.WriteString(p.Content())
		fences += strings.Count(p.Content(), "```")
		if strings.Count(p.Content(), "```")%2 != 0 {
			t.Errorf("a piece leaves a code block open")
		}
	}
	for _, p := range st.DingTalk.Posts() {
		if p.Errcode != 0 {
			t.Errorf("DingTalk refused a piece: %d %s", p.Errcode, p.Errmsg)
		}
		if p.Blank {
			t.Errorf("DingTalk took a piece of %d characters and shows it as nothing", utf8.RuneCountInString(p.Content()))
		}
	}
	// Stripping the fences added at the cuts gives back the whole answer.
	text := joined.String()
	if len(posts) < 3 || !strings.HasPrefix(text, strings.Repeat("这是一段很长的回答。", 1000)) ||
		strings.Count(text, "fmt.Println(\"代码\")") != 1500 {
		t.Errorf("%d pieces do not carry the whole %d-byte answer", len(posts), len(long))
	}
	t.Logf("%s: 1 message, a %d-byte answer in %d pieces, %d fences, 0 refused", t.Name(), len(long), len(posts), fences)
}

// A \clear that one instance handles holds for every instance: the clear
// marker is in the bucket, not in a process.
func TestFaultClearOnOneInstanceIsSeenByAll(t *testing.T) {
	t.Parallel()
	st := start(t, devstack.Config{Model: openaitest.Echo("答："), ReplyInstances: 3})
	alice := single(t, st, "alice")
	// FC spreads the invocations over the instances in turn: the two
	// questions, the \clear and the last question land on different ones.
	alice.ask("第一问")
	alice.ask("第二问")
	if got := alice.ask(`\clear`); !strings.Contains(got, "已清除") {
		t.Fatalf("\\clear answered %q", got)
	}
	alice.ask("清除之后")
	r := requestsFor(st, "清除之后")
	if len(r) != 1 {
		t.Fatalf("the model was asked %d times", len(r))
	}
	if n := r[0].EarlierTurns(); n != 0 {
		t.Errorf("after \\clear on another instance the model saw %d earlier turns; want none", n)
	}
	busy := 0
	for _, p := range st.Replies {
		if strings.Contains(p.Output(), "FC Invoke Start") {
			busy++
		}
	}
	if busy < 3 {
		t.Errorf("only %d of 3 instances answered: the case does not show what it means to", busy)
	}
}
