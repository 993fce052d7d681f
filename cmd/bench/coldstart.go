package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

// coldStartPoll is how often a program that says it listens but has not
// yet answered successfully is asked again: the resolution of the
// measurement past the first attempt, and seldom enough that asking does
// not slow the start on two shared cores.
const coldStartPoll = 500 * time.Microsecond

// answerFunc asks a freshly started instance for one answer and reports
// whether it came, successful.
type answerFunc func(ctx context.Context, client *http.Client, p *devstack.Process) error

// coldStarts are the cold starts of one function, each sorted.
type coldStarts struct {
	// Wall is from the exec to the first successful answer.
	Wall []time.Duration
	// CPU is the CPU time the program had used by then: what a start costs
	// where the function gets a fraction of a core.
	CPU []time.Duration
}

// measureColdStarts starts a new instance of a function runs times, each
// time measuring from the exec to its first successful answer.
func measureColdStarts(ctx context.Context, binDir, function string, env map[string]string, runs int, answer answerFunc) (coldStarts, error) {
	var cs coldStarts
	for i := range runs {
		wall, cpu, err := coldStart(ctx, filepath.Join(binDir, function), fmt.Sprintf("%s-cold-%d", function, i), env, answer)
		if err != nil {
			return coldStarts{}, err
		}
		cs.Wall = append(cs.Wall, wall)
		cs.CPU = append(cs.CPU, cpu)
	}
	slices.Sort(cs.Wall)
	slices.Sort(cs.CPU)
	return cs, nil
}

// coldStart runs one cold start. Nothing asks the program anything before
// it logs that it listens (its port is the kernel's choice, read from that
// line); it is asked for an answer at once then, and again every
// coldStartPoll until one succeeds. The time still runs from the exec to
// that success.
func coldStart(ctx context.Context, bin, name string, env map[string]string, answer answerFunc) (wall, cpu time.Duration, err error) {
	// A new connection for every attempt, as for a new instance's first
	// request.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	p, err := devstack.Launch(name, bin, env, nil)
	if err != nil {
		return 0, 0, err
	}
	defer p.Stop(5 * time.Second)
	deadline := p.Started().Add(10 * time.Second)
	listenCtx, cancel := context.WithDeadline(ctx, deadline)
	err = p.WaitListening(listenCtx)
	cancel()
	if err != nil {
		return 0, 0, err
	}
	for {
		err := answer(ctx, client, p)
		if err == nil {
			wall = time.Since(p.Started())
			cpu, err = p.CPUTime()
			return wall, cpu, err
		}
		select {
		case <-p.Done():
			return 0, 0, fmt.Errorf("%s exited before answering\n%s", name, p.Output())
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(coldStartPoll):
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("%s gave no successful answer within 10 s: %w\n%s", name, err, p.Output())
		}
	}
}

// errNotYet is an answer that was not a success.
var errNotYet = errors.New("no successful answer")

// conversationAnswer sends a signed callback: the conversation function's
// first success is DingTalk's 200, given once FC accepted the invocation.
func conversationAnswer(st *devstack.Stack) answerFunc {
	return func(ctx context.Context, client *http.Client, p *devstack.Process) error {
		cb := st.DingTalk.TextCallback(dingtalktest.Conversation{ID: "cid-cold"},
			dingtalktest.Sender{ID: "sender-cold", StaffID: "staff-cold", Nick: "cold"}, "你好")
		req, err := dingtalktest.SignedRequest(ctx, p.URL+"/", st.AppSecret, cb.Body, time.Now())
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%w: %s", errNotYet, resp.Status)
		}
		return nil
	}
}

// replyAnswer delivers an event as FC does: the reply function's first
// success is its 200 to /invoke, given once the answer was posted.
func replyAnswer(msgs replyMessages) answerFunc {
	n := 0
	return func(ctx context.Context, client *http.Client, p *devstack.Process) error {
		n++
		payload, taskID, err := msgs.event(fmt.Sprint("cold-user-", n), "你好")
		if err != nil {
			return err
		}
		status, err := invokeReply(ctx, client, p.URL, payload, taskID)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("%w: status %d", errNotYet, status)
		}
		return nil
	}
}
