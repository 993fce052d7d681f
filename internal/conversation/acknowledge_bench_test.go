package conversation_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
	"github.com/dingtalk-llm/fcrobot/internal/conversation"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/fc"
	"github.com/dingtalk-llm/fcrobot/internal/fc/fclocal"
	"github.com/dingtalk-llm/fcrobot/internal/fcruntime"
	"github.com/dingtalk-llm/fcrobot/internal/logging"
)

const benchSecret = "bench-app-secret"

// roleCreds are the temporary credentials FC hands the function with each
// request, in the x-fc-access-key-* headers.
var roleCreds = alicloud.Credentials{AccessKeyID: "STS.benchrole", AccessKeySecret: "bench-role-secret", SecurityToken: "bench-security-token"}

// A group text callback with every field DingTalk sends (docs/protocols.md §1),
// split where the msgId goes, so that each iteration can carry a new one
// without allocating.
const (
	callbackHead = `{"conversationId":"cidBenchGroup0000000000000000==","atUsers":[{"dingtalkId":"$:LWCP_v1:$BenchRobot"}],` +
		`"chatbotCorpId":"dingbenchcorp","chatbotUserId":"$:LWCP_v1:$BenchRobot","msgId":"msgbench`
	callbackTail = `","senderNick":"张三","isAdmin":false,"senderStaffId":"manager1234","sessionWebhookExpiredTime":1999999999000,` +
		`"createAt":1700000000000,"senderCorpId":"dingbenchcorp","conversationType":"2","senderId":"$:LWCP_v1:$BenchSender0000000000==",` +
		`"conversationTitle":"性能测试群","isInAtList":true,"sessionWebhook":"https://oapi.dingtalk.com/robot/sendBySession?session=benchsession0000000000000000000000",` +
		`"text":{"content":" 帮我总结一下今天的会议纪要，列出三个要点"},"robotCode":"dingbenchrobot","msgtype":"text"}`
)

// BenchmarkAcknowledge measures the whole acknowledge path of the
// conversation function in process, as FC's HTTP trigger drives it: the
// custom-runtime wrapper, the signature check, the callback parse, the
// event, the signed InvokeFunction call over loopback to a local endpoint
// and DingTalk's answer, with the function's own logger at the default
// verbosity. ns/op is the mean; p50-ns and p99-ns are the median and the
// 99th percentile of single callbacks. B/op and allocs/op count everything
// the process allocates for one callback, the endpoint's side included.
//
//   - fc=bare: an endpoint that reads the call and answers 202, so that the
//     figure is the function's own cost plus the loopback call.
//   - fc=fclocal: the local FC emulator, which also checks the ACS3
//     signature and delivers the event to a sink, on the same cores.
func BenchmarkAcknowledge(b *testing.B) {
	b.Run("fc=bare", func(b *testing.B) {
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set(fc.HeaderRequestID, "bench-request")
			w.WriteHeader(http.StatusAccepted)
		}))
		defer api.Close()
		benchmarkAcknowledge(b, api.URL)
	})
	b.Run("fc=fclocal", func(b *testing.B) {
		sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
		}))
		defer sink.Close()
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.MaxIdleConnsPerHost = 64
		emulator := fclocal.New(fclocal.Config{
			Functions:      map[string]string{"reply": sink.URL},
			AccessKeys:     map[string]string{roleCreds.AccessKeyID: roleCreds.AccessKeySecret},
			SecurityTokens: map[string]string{roleCreds.AccessKeyID: roleCreds.SecurityToken},
			Client:         &http.Client{Transport: transport},
		})
		api := httptest.NewServer(emulator)
		defer api.Close()
		benchmarkAcknowledge(b, api.URL)
		b.StopTimer()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := emulator.Close(ctx); err != nil {
			b.Fatal(err)
		}
	})
}

func benchmarkAcknowledge(b *testing.B, endpoint string) {
	invoker, err := fc.NewInvoker(fc.InvokerConfig{Endpoint: endpoint})
	if err != nil {
		b.Fatal(err)
	}
	logger := logging.New(io.Discard, logging.DefaultVerbosity)
	handler := conversation.NewHandler(conversation.Config{
		Verifier: dingtalk.Verifier{AppSecret: benchSecret},
		Invoker:  invoker,
		Function: "reply",
		Logger:   logger,
	})
	rt := fcruntime.New(handler, fcruntime.Config{Log: io.Discard, Logger: logger})

	// DingTalk's side of each callback, built without allocating so that
	// B/op and allocs/op are the function's.
	body := make([]byte, 0, len(callbackHead)+20+len(callbackTail))
	reader := bytes.NewReader(nil)
	req := httptest.NewRequest(http.MethodPost, "/", reader)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-fc-request-id", "bench-fc-request")
	req.Header.Set("x-fc-access-key-id", roleCreds.AccessKeyID)
	req.Header.Set("x-fc-access-key-secret", roleCreds.AccessKeySecret)
	req.Header.Set("x-fc-security-token", roleCreds.SecurityToken)
	rec := &discardResponse{header: http.Header{}}

	var signedAt string
	latencies := make([]time.Duration, 1<<16)
	n := 0
	for b.Loop() {
		body = append(strconv.AppendInt(append(body[:0], callbackHead...), int64(n), 10), callbackTail...)
		reader.Reset(body)
		req.Body = io.NopCloser(reader)
		// DingTalk signs each callback; the signature changes once a
		// millisecond.
		now := time.Now()
		if ts := strconv.FormatInt(now.UnixMilli(), 10); ts != signedAt {
			signedAt = ts
			req.Header.Set("timestamp", ts)
			req.Header.Set("sign", dingtalk.Sign(benchSecret, ts))
		}
		clear(rec.header)
		rec.status = 0
		rt.ServeHTTP(rec, req)
		latencies[n%len(latencies)] = time.Since(now)
		n++
		if rec.status != http.StatusOK {
			b.Fatalf("callback %d answered %d", n, rec.status)
		}
	}
	b.StopTimer()
	reportPercentiles(b, latencies[:min(n, len(latencies))])
}

// reportPercentiles adds the median and the 99th percentile of single
// operations to the benchmark's result.
func reportPercentiles(b *testing.B, latencies []time.Duration) {
	if len(latencies) == 0 {
		return
	}
	slices.Sort(latencies)
	at := func(q float64) float64 { return float64(latencies[int(q*float64(len(latencies)-1))].Nanoseconds()) }
	b.ReportMetric(at(0.50), "p50-ns")
	b.ReportMetric(at(0.99), "p99-ns")
}

// discardResponse is an http.ResponseWriter that keeps the status only:
// DingTalk's side of the answer, free of the recorder's allocations.
type discardResponse struct {
	header http.Header
	status int
}

func (d *discardResponse) Header() http.Header { return d.header }

func (d *discardResponse) WriteHeader(status int) {
	if d.status == 0 {
		d.status = status
	}
}

func (d *discardResponse) Write(p []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	return len(p), nil
}
