package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/conversation"
	"github.com/dingtalk-llm/fcrobot/internal/devstack"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/fc"
)

// modelAnswer is what the fake model answers at once: an answer of a
// typical length.
func modelAnswer() string {
	return strings.Repeat("会议的三个要点：一、下季度的目标定为用户数翻倍；二、性能优化优先于新功能；三、每周五复盘一次进度。", 6)
}

// webhookClock stands between the reply function and the fake DingTalk: it
// notes when each answer arrives, then passes it on unchanged.
type webhookClock struct {
	srv      *httptest.Server
	armed    atomic.Bool
	arrivals chan time.Time
}

func newWebhookClock(dingtalkURL string) (*webhookClock, error) {
	target, err := url.Parse(dingtalkURL)
	if err != nil {
		return nil, err
	}
	c := &webhookClock{arrivals: make(chan time.Time, 16)}
	proxy := httputil.NewSingleHostReverseProxy(target)
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.armed.Load() && r.URL.Path == dingtalktest.WebhookPath {
			select {
			case c.arrivals <- time.Now():
			default:
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	return c, nil
}

func (c *webhookClock) Close() { c.srv.Close() }

// replyMessages makes the events FC would deliver to the reply function,
// with their webhooks pointed at the clock.
type replyMessages struct {
	st      *devstack.Stack
	webhook *webhookClock
}

// event builds the event of a new text message from user, as the
// conversation function would have built it, and its FC task id.
func (m replyMessages) event(user, text string) (payload []byte, taskID string, err error) {
	cb := m.st.DingTalk.TextCallback(dingtalktest.Conversation{ID: "cid-" + user},
		dingtalktest.Sender{ID: "sender-" + user, StaffID: "staff-" + user, Nick: user}, text)
	msg, err := dingtalk.ParseCallback(cb.Body)
	if err != nil {
		return nil, "", err
	}
	msg.Webhook = strings.Replace(msg.Webhook, m.st.DingTalk.URL(), m.webhook.srv.URL, 1)
	payload, err = json.Marshal(chat.Event{Version: chat.EventVersion, Message: msg, ReceivedAt: time.Now().UTC()})
	return payload, conversation.TaskID(msg.ID), err
}

// invokeReply delivers an event to a reply instance as FC's async
// invocation does (POST /invoke, FC's headers) and returns the status.
func invokeReply(ctx context.Context, client *http.Client, replyURL string, payload []byte, taskID string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, replyURL+"/invoke", bytes.NewReader(payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(fc.HeaderRequestID, "bench-"+rand.Text())
	req.Header.Set("x-fc-function-name", devstack.ReplyFunction)
	req.Header.Set(fc.HeaderAsyncTaskID, taskID)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// replyOverhead is the reply path's own time with a model that answers at
// once, one message at a time.
type replyOverhead struct {
	Messages int
	// ToWebhook is from /invoke sent to the answer arriving at DingTalk;
	// RoundTrip from /invoke sent to its 200 (after the answer is posted,
	// the receipt of delivery is written). Both sorted.
	ToWebhook []time.Duration
	RoundTrip []time.Duration
	// CPU is the reply process's CPU time per message.
	CPU time.Duration
}

func measureReplyOverhead(ctx context.Context, st *devstack.Stack, clock *webhookClock, warmup, n int, progress io.Writer) (replyOverhead, error) {
	msgs := replyMessages{st: st, webhook: clock}
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	const users = 10 // each history grows past HISTORY_LENGTH, as a chat does
	one := func(i int) (toWebhook, roundTrip time.Duration, err error) {
		payload, taskID, err := msgs.event(fmt.Sprint("reply-user-", i%users), fmt.Sprint("第 ", i, " 个问题：帮我总结一下今天的会议"))
		if err != nil {
			return 0, 0, err
		}
		clock.armed.Store(true)
		defer clock.armed.Store(false)
		start := time.Now()
		status, err := invokeReply(ctx, client, st.Reply.URL, payload, taskID)
		roundTrip = time.Since(start)
		if err != nil {
			return 0, 0, err
		}
		if status != http.StatusOK {
			return 0, 0, fmt.Errorf("reply answered /invoke with %d", status)
		}
		select {
		case at := <-clock.arrivals:
			return at.Sub(start), roundTrip, nil
		case <-time.After(5 * time.Second):
			return 0, 0, fmt.Errorf("message %d: no answer reached DingTalk", i)
		}
	}
	for i := range warmup {
		if _, _, err := one(i); err != nil {
			return replyOverhead{}, err
		}
	}
	cpuBefore, err := st.Reply.CPUTime()
	if err != nil {
		return replyOverhead{}, err
	}
	res := replyOverhead{Messages: n}
	for i := range n {
		if i > 0 && i%(n/4) == 0 {
			fmt.Fprintf(progress, "  %d of %d messages\n", i, n)
		}
		toWebhook, roundTrip, err := one(warmup + i)
		if err != nil {
			return replyOverhead{}, err
		}
		res.ToWebhook = append(res.ToWebhook, toWebhook)
		res.RoundTrip = append(res.RoundTrip, roundTrip)
	}
	cpuAfter, err := st.Reply.CPUTime()
	if err != nil {
		return replyOverhead{}, err
	}
	res.CPU = (cpuAfter - cpuBefore) / time.Duration(n)
	slices.Sort(res.ToWebhook)
	slices.Sort(res.RoundTrip)
	return res, nil
}

// replyLoad is a run of the reply function at its instanceConcurrency.
type replyLoad struct {
	Concurrency int
	OK, Failed  int
	Elapsed     time.Duration
	FirstError  string
	CPU         time.Duration // per message
}

// runReplyLoad keeps concurrency messages in flight at one reply instance
// for d: what the instance holds at once in FC with s.yaml's
// instanceConcurrency.
func runReplyLoad(ctx context.Context, st *devstack.Stack, clock *webhookClock, concurrency int, d time.Duration) (replyLoad, error) {
	msgs := replyMessages{st: st, webhook: clock}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = concurrency
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	defer transport.CloseIdleConnections()
	cpuBefore, err := st.Reply.CPUTime()
	if err != nil {
		return replyLoad{}, err
	}
	res := replyLoad{Concurrency: concurrency}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && time.Since(start) < d; i++ {
				payload, taskID, err := msgs.event("load-user-"+strconv.Itoa(w), fmt.Sprint("问题 ", i))
				var status int
				if err == nil {
					status, err = invokeReply(ctx, client, st.Reply.URL, payload, taskID)
				}
				mu.Lock()
				switch {
				case err == nil && status == http.StatusOK:
					res.OK++
				default:
					res.Failed++
					if res.FirstError == "" {
						res.FirstError = fmt.Sprintf("status %d, %v", status, err)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	cpuAfter, err := st.Reply.CPUTime()
	if err != nil {
		return replyLoad{}, err
	}
	if total := res.OK + res.Failed; total > 0 {
		res.CPU = (cpuAfter - cpuBefore) / time.Duration(total)
	}
	return res, ctx.Err()
}
