// Package e2e drives the robot end to end: both functions built and run as
// real programs speaking FC's custom-runtime protocol, the local FC endpoint
// between them, a folder as the OSS mount, a fake DingTalk that signs
// callbacks and receives the answers, and a fake OpenAI-compatible model.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

// binDir holds the programs built once for the whole suite.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fcrobot-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := devstack.BuildFunctions(context.Background(), dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// start runs a stack for one test and stops it when the test ends, checking
// on the way out that the programs exited cleanly on SIGTERM and that no
// secret reached any log line.
func start(t *testing.T, o devstack.Config) *devstack.Stack {
	t.Helper()
	o.BinDir = binDir
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	// Debug level, so that the secrets check reads every line there is.
	for _, env := range []*map[string]string{&o.ConversationEnv, &o.ReplyEnv} {
		if *env == nil {
			*env = map[string]string{}
		}
		if _, ok := (*env)["VERBOSE"]; !ok {
			(*env)["VERBOSE"] = "10"
		}
	}
	if o.FCRetryDelay == nil {
		o.FCRetryDelay = func(int) time.Duration { return 10 * time.Millisecond }
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := devstack.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("stopping the stack: %v", err)
		}
		for _, p := range append([]*devstack.Process{st.Conversation}, st.Replies...) {
			out := p.Output()
			for _, secret := range st.Secrets {
				if secret != "" && strings.Contains(out, secret) {
					t.Errorf("the %s function logged a secret", p.Name)
				}
			}
			if t.Failed() {
				t.Logf("--- %s output ---\n%s", p.Name, out)
			}
		}
	})
	return st
}

// chat is one side of a conversation with the robot, as DingTalk delivers it.
type chat struct {
	t    *testing.T
	st   *devstack.Stack
	conv dingtalktest.Conversation
	from dingtalktest.Sender
}

func single(t *testing.T, st *devstack.Stack, user string) chat {
	return chat{t: t, st: st, conv: dingtalktest.Conversation{ID: "cid-single-" + user},
		from: dingtalktest.Sender{ID: "sender-" + user, StaffID: "staff-" + user, Nick: user}}
}

func group(t *testing.T, st *devstack.Stack, groupID, user string) chat {
	return chat{t: t, st: st, conv: dingtalktest.Conversation{ID: "cid-group-" + groupID, Group: true, Title: "group " + groupID},
		from: dingtalktest.Sender{ID: "sender-" + user, StaffID: "staff-" + user, Nick: user}}
}

func (c chat) session() string { return c.st.DingTalk.Session(c.conv.ID) }

// send delivers text as DingTalk would and returns DingTalk's view of the
// callback's answer.
func (c chat) send(text string) devstack.Callback {
	c.t.Helper()
	cb := c.st.DingTalk.TextCallback(c.conv, c.from, text)
	resp, err := c.st.Deliver(context.Background(), cb.Body, time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

// ask sends text and returns the robot's answer as the user sees it.
func (c chat) ask(text string) string {
	c.t.Helper()
	before := len(c.posts())
	if resp := c.send(text); resp.Status != 200 {
		c.t.Fatalf("DingTalk got %d %q for %q", resp.Status, resp.Body, text)
	}
	return c.waitAnswer(before + 1)
}

// deliverAtOnce delivers the callbacks all at once, as DingTalk does when
// users send messages together, and returns once each was acknowledged.
func deliverAtOnce(t *testing.T, st *devstack.Stack, cbs []dingtalktest.Callback) {
	t.Helper()
	var wg sync.WaitGroup
	for _, cb := range cbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := st.Deliver(context.Background(), cb.Body, time.Now()); err != nil || resp.Status != 200 {
				t.Errorf("callback: %v %+v", err, resp)
			}
		}()
	}
	wg.Wait()
}

// askCard sends text and returns the stack's first card once it is
// finished: the answer, where answers stream into cards.
func (c chat) askCard(text string) dingtalktest.Card {
	c.t.Helper()
	if resp := c.send(text); resp.Status != 200 {
		c.t.Fatalf("DingTalk got %d %q for %q", resp.Status, resp.Body, text)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cards, err := c.st.DingTalk.WaitCards(ctx, 1, true)
	if err != nil {
		c.t.Fatal(err)
	}
	return cards[0]
}

func (c chat) posts() []dingtalktest.Post {
	var out []dingtalktest.Post
	for _, p := range c.st.DingTalk.Posts() {
		if p.Session == c.session() && p.Errcode == 0 {
			out = append(out, p)
		}
	}
	return out
}

// waitAnswer waits for the n-th answer in this conversation.
func (c chat) waitAnswer(n int) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	posts, err := c.st.DingTalk.WaitPosts(ctx, c.session(), n)
	if err != nil {
		c.t.Fatalf("waiting for answer %d: %v", n, err)
	}
	return posts[n-1].Content()
}

// logLines returns a program's JSON log lines (FC's plain marker lines are
// left out).
func logLines(t *testing.T, p *devstack.Process) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.Output()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("%s wrote a line that is not JSON: %s", p.Name, sc.Text())
			continue
		}
		lines = append(lines, m)
	}
	return lines
}

// waitOutput waits until a program has written want, and returns all it
// wrote: its output reaches the test through a pipe, a little after the
// program has answered.
func waitOutput(t *testing.T, p *devstack.Process, want string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out := p.Output()
		if strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never wrote %q", p.Name, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFC waits until the local FC has no invocation in flight: every
// message handed to the reply function has been answered or given up on.
func waitFC(t *testing.T, st *devstack.Stack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.FC.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}
