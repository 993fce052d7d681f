package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/conversation"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

// TestLoad sends a bounded burst of callbacks through the real programs and
// checks that every one is acknowledged, handed over exactly once and
// answered: nothing lost, nothing twice. It measures no time: timings belong
// to `make bench`.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load run")
	}
	const (
		callbacks   = 2000
		concurrency = 100
		users       = 50
	)
	st := echoStack(t, map[string]string{"VERBOSE": "30"})

	work := make(chan dingtalktest.Callback)
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cb := range work {
				resp, err := st.Deliver(context.Background(), cb.Body, time.Now())
				if err == nil && resp.Status == http.StatusOK {
					ok.Add(1)
				} else {
					refused.Add(1)
					t.Errorf("callback %s: %v %+v", cb.MsgID, err, resp)
				}
			}
		}()
	}
	want := map[string]bool{}
	for i := range callbacks {
		c := single(t, st, fmt.Sprint("user", i%users))
		cb := st.DingTalk.TextCallback(c.conv, c.from, fmt.Sprint("问题 ", i))
		want[conversation.TaskID(cb.MsgID)] = true
		work <- cb
	}
	close(work)
	wg.Wait()
	waitFC(t, st)

	invocations := map[string]int{}
	for _, inv := range st.FC.Invocations() {
		invocations[inv.TaskID]++
	}
	var twice, lost int
	for id := range want {
		switch invocations[id] {
		case 0:
			lost++
		case 1:
		default:
			twice++
		}
	}
	answers := 0
	for _, p := range st.DingTalk.Posts() {
		if p.Errcode == 0 {
			answers++
		}
	}
	stats := st.FC.Stats()
	t.Logf("load: %d callbacks (%d at a time): %d answered 200, %d refused; %d invoked, %d invoked twice, %d lost; %d answers posted; FC: %d delivered, %d failed",
		callbacks, concurrency, ok.Load(), refused.Load(), len(invocations), twice, lost, answers, stats.Succeeded, stats.FailedAfterRetries)
	if ok.Load() != callbacks || twice != 0 || lost != 0 || answers != callbacks || stats.FailedAfterRetries != 0 {
		t.Errorf("want every callback answered 200, invoked once and answered once")
	}
}
