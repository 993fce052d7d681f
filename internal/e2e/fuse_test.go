package e2e

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// The FUSE suite: each reply instance on its own s3fs mount of the local
// OSS API's bucket (devstack.Config.FUSE), as FC gives each instance its
// ossfs mount. Every case skips, saying why, where FUSE cannot be used.

func fuseStack(t *testing.T, o devstack.Config) *devstack.Stack {
	t.Helper()
	if err := devstack.FUSEAvailable(); err != nil {
		t.Skip(err)
	}
	o.FUSE = true
	st := start(t, o)
	if len(st.Mounts) != len(st.Replies) {
		t.Fatalf("%d mounts for %d reply instances", len(st.Mounts), len(st.Replies))
	}
	return st
}

// invokes counts, per reply instance, the invocations it has started.
func invokes(st *devstack.Stack) []int {
	n := make([]int, len(st.Replies))
	for i, p := range st.Replies {
		n[i] = strings.Count(p.Output(), "FC Invoke Start")
	}
	return n
}

// askOn asks text and returns the index of the reply instance that took it.
func askOn(t *testing.T, st *devstack.Stack, c chat, text string) (answer string, instance int) {
	t.Helper()
	before := invokes(st)
	answer = c.ask(text)
	deadline := time.Now().Add(10 * time.Second)
	for {
		after := invokes(st)
		instance = -1
		for i := range after {
			if after[i] > before[i] {
				if instance >= 0 {
					t.Fatalf("%q was delivered to more than one instance", text)
				}
				instance = i
			}
		}
		if instance >= 0 {
			return answer, instance
		}
		if time.Now().After(deadline) {
			t.Fatalf("no instance logged the invocation of %q", text)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Every event delivered twice at the same instant to two of three
// instances, each on its own mount: 40 messages of one user at once are
// each answered once, the model is asked once per question, and the
// history holds every turn once, in createAt order.
func TestFuseEveryEventDeliveredTwiceAtOnceOnOwnMounts(t *testing.T) {
	t.Parallel()
	st := fuseStack(t, manyMessagesStack(true))
	manyMessagesAtOnce(t, st)
	if busy := countBusy(invokes(st)); busy < 3 {
		t.Errorf("only %d of 3 instances worked: the case does not show what it means to", busy)
	}
}

func askedPerQuestion(st *devstack.Stack) map[string]int {
	asked := map[string]int{}
	for _, r := range st.Model.Requests() {
		asked[r.LastUserMessage()]++
	}
	return asked
}

func countBusy(n []int) int {
	busy := 0
	for _, v := range n {
		if v > 0 {
			busy++
		}
	}
	return busy
}

// A \clear taken by one instance holds for a question another instance
// takes, each on its own mount.
func TestFuseClearOnOneInstanceIsSeenByAnother(t *testing.T) {
	t.Parallel()
	st := fuseStack(t, devstack.Config{Model: openaitest.Echo("答："), ReplyInstances: 3})
	alice := single(t, st, "alice")
	alice.ask("第一问")
	alice.ask("第二问")
	got, cleared := askOn(t, st, alice, `\clear`)
	if !strings.Contains(got, "已清除") {
		t.Fatalf("\\clear answered %q", got)
	}
	// FC spreads invocations over the instances in turn: the next question
	// lands elsewhere; ask until it does, at most once round.
	var asked int
	for try := range len(st.Replies) {
		q := fmt.Sprintf("清除之后 %d", try)
		if _, asked = askOn(t, st, alice, q); asked != cleared {
			switch r := requestsFor(st, q); {
			case len(r) != 1:
				t.Errorf("the model was asked %q %d times", q, len(r))
			case r[0].EarlierTurns() != 0:
				t.Errorf("after \\clear on %s, %s asked the model with %d earlier turns; want none",
					st.Replies[cleared].Name, st.Replies[asked].Name, r[0].EarlierTurns())
			}
			t.Logf("%s: \\clear on %s (mount %s), the next question on %s (mount %s) saw no history",
				t.Name(), st.Replies[cleared].Name, st.Mounts[cleared], st.Replies[asked].Name, st.Mounts[asked])
			return
		}
	}
	t.Fatalf("every question after \\clear landed on %s", st.Replies[cleared].Name)
}

// A turn the robot wrote is a file that the other instances' mounts show.
func TestFuseTurnWrittenByOneInstanceIsAFileOnTheOthersMounts(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	st := fuseStack(t, devstack.Config{Model: openaitest.Echo("答："), ReplyInstances: 3, DataDir: data})
	alice := single(t, st, "alice")
	if got, _ := askOn(t, st, alice, "写下这一轮"); got != "答：写下这一轮" {
		t.Fatalf("answer %q", got)
	}
	_, writer := askOn(t, st, alice, "再写一轮")
	waitFC(t, st)

	// The turns, as the bucket folder holds them: the robot writes them
	// through the OSS API.
	turns := map[string][]byte{}
	err := filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(data, p); !d.IsDir() && strings.HasPrefix(rel, filepath.Join("history", "v1")) &&
			filepath.Base(filepath.Dir(p)) == "turns" {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			turns[rel] = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var latest string
	for rel, b := range turns {
		if bytes.Contains(b, []byte("再写一轮")) {
			latest = rel
		}
	}
	if len(turns) != 2 || latest == "" {
		t.Fatalf("the bucket holds turns %q, want the two of alice's", keys(turns))
	}
	for i, m := range st.Mounts {
		if i == writer {
			continue
		}
		p := filepath.Join(m, latest)
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, err := os.ReadFile(p)
			if err == nil && bytes.Equal(b, turns[latest]) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s's mount does not show the turn %s that %s wrote: %q, %v",
					st.Replies[i].Name, latest, st.Replies[writer].Name, b, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		entries, err := os.ReadDir(filepath.Dir(p))
		if err != nil || len(entries) != 2 {
			t.Errorf("%s lists %v, %v: want the two turns", filepath.Dir(p), entries, err)
		}
	}
	t.Logf("%s: the turn %s written by %s is a file on the %d other mounts", t.Name(), latest, st.Replies[writer].Name, len(st.Mounts)-1)
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
