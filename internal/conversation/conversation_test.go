package conversation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/fc"
	"github.com/dingtalk-llm/fcrobot/internal/fcruntime"
)

// recordingInvoker stands for FC's API; the real client against the local
// FC endpoint is exercised by internal/fc and the end-to-end suite.
type recordingInvoker struct {
	calls []invocation
	err   error
}

type invocation struct {
	creds    alicloud.Credentials
	function string
	event    chat.Event
	taskID   string
}

func (r *recordingInvoker) InvokeAsync(_ context.Context, creds alicloud.Credentials, function string, payload []byte, taskID string) (string, error) {
	var ev chat.Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return "", err
	}
	r.calls = append(r.calls, invocation{creds, function, ev, taskID})
	return "req-1", r.err
}

const secret = "app-secret"

var envCreds = alicloud.Credentials{AccessKeyID: "LTAIenv", AccessKeySecret: "env-secret"}

func newHandler(inv *recordingInvoker, logs io.Writer) *Handler {
	return NewHandler(Config{
		Verifier: dingtalk.Verifier{AppSecret: secret}, Invoker: inv, Function: "reply",
		Credentials: envCreds, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	})
}

func callback(id string) []byte {
	return []byte(fmt.Sprintf(`{"msgtype":"text","msgId":%q,"text":{"content":" 你好"},"conversationId":"cid","conversationType":"2",
		"senderId":"sid","senderStaffId":"staff","senderNick":"nick","sessionWebhook":"https://oapi.dingtalk.com/robot/sendBySession?session=s",
		"sessionWebhookExpiredTime":%d,"createAt":%d}`, id, time.Now().Add(time.Hour).UnixMilli(), time.Now().UnixMilli()))
}

func signed(body []byte) *http.Request {
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("timestamp", ts)
	req.Header.Set("sign", dingtalk.Sign(secret, ts))
	return req
}

func TestAcceptedMessageIsHandedOverAndDingTalkAnsweredEmpty(t *testing.T) {
	inv := &recordingInvoker{}
	rec := httptest.NewRecorder()
	newHandler(inv, io.Discard).ServeHTTP(rec, signed(callback("msg-1")))

	if rec.Code != http.StatusOK || rec.Body.String() != `{"msgtype":"empty"}` {
		t.Fatalf("DingTalk got %d %q", rec.Code, rec.Body)
	}
	if len(inv.calls) != 1 {
		t.Fatalf("invoked %d times", len(inv.calls))
	}
	c := inv.calls[0]
	if c.function != "reply" || c.taskID != TaskID("msg-1") || c.creds != envCreds {
		t.Errorf("invocation %+v", c)
	}
	if c.event.Version != chat.EventVersion || c.event.Message.ID != "msg-1" || c.event.Message.Text != "你好" || !c.event.Message.IsGroup() {
		t.Errorf("event %+v", c.event)
	}
}

func TestTheRoleCredentialsOfTheRequestComeFirst(t *testing.T) {
	role := alicloud.Credentials{AccessKeyID: "STS.role", AccessKeySecret: "role-secret", SecurityToken: "tok"}
	// A Debian 11 or newer runtime passes the key id and secret without the
	// token: signing with them would be refused, so the environment's
	// triple is used.
	debian12 := role
	debian12.SecurityToken = ""
	for _, tt := range []struct {
		name    string
		headers alicloud.Credentials
		want    alicloud.Credentials
		source  string
	}{
		{"all three in the request", role, role, `"credentials":"request"`},
		{"no token in the request", debian12, envCreds, `"credentials":"environment"`},
		{"none in the request", alicloud.Credentials{}, envCreds, `"credentials":"environment"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv := &recordingInvoker{}
			var logs strings.Builder
			req := signed(callback("msg-1"))
			req = req.WithContext(fcruntime.NewContext(req.Context(), fcruntime.Invocation{RequestID: "r", Credentials: tt.headers}))
			newHandler(inv, &logs).ServeHTTP(httptest.NewRecorder(), req)
			if len(inv.calls) != 1 || inv.calls[0].creds != tt.want {
				t.Errorf("invoked with %+v, want %v", inv.calls, tt.want)
			}
			if !strings.Contains(logs.String(), tt.source) {
				t.Errorf("the log does not say %s: %s", tt.source, logs.String())
			}
			for _, secret := range []string{role.AccessKeySecret, role.SecurityToken, envCreds.AccessKeySecret} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("the log shows a secret: %s", logs.String())
				}
			}
		})
	}
}

func TestRedeliveredMessageIsNotInvokedTwice(t *testing.T) {
	if TaskID("msg-1") != TaskID("msg-1") || TaskID("msg-1") == TaskID("msg-2") {
		t.Fatal("task ids must follow msgId")
	}
	for _, id := range []string{"msg/../../x", strings.Repeat("界", 2000), "a\x00b"} {
		if got := TaskID(id); len(got) > 64 || strings.ContainsAny(got, "/.\x00") {
			t.Errorf("TaskID(%q) = %q: not a safe FC task id", id, got)
		}
	}
	// FC refuses the repeated task id with 409: that is DingTalk's
	// redelivery, already handed over, and DingTalk hears 200.
	inv := &recordingInvoker{err: fmt.Errorf("wrapped: %w", fc.ErrTaskExists)}
	rec := httptest.NewRecorder()
	newHandler(inv, io.Discard).ServeHTTP(rec, signed(callback("msg-1")))
	if rec.Code != http.StatusOK {
		t.Errorf("redelivery answered %d", rec.Code)
	}
}

func TestInvocationFailureIsA5xxAndLoggedWithoutSecrets(t *testing.T) {
	inv := &recordingInvoker{err: &fc.InvokeError{StatusCode: 403, Code: "InvalidAccessKeyId", Message: "denied"}}
	var logs bytes.Buffer
	rec := httptest.NewRecorder()
	newHandler(inv, &logs).ServeHTTP(rec, signed(callback("msg-1")))
	if rec.Code < 500 {
		t.Errorf("a failed invocation answered %d", rec.Code)
	}
	if !strings.Contains(logs.String(), "InvalidAccessKeyId") {
		t.Errorf("the cause is not logged: %s", logs.String())
	}
	for _, s := range []string{secret, envCreds.AccessKeySecret} {
		if strings.Contains(logs.String()+rec.Body.String(), s) {
			t.Errorf("secret %q leaked", s)
		}
	}
}

func TestRefusals(t *testing.T) {
	huge := callback(strings.Repeat("x", MaxCallbackBytes))
	tests := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"GET", httptest.NewRequest(http.MethodGet, "/", nil), http.StatusMethodNotAllowed},
		{"unsigned", httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(callback("m"))), http.StatusForbidden},
		{"too large", signed(huge), http.StatusRequestEntityTooLarge},
		{"not JSON", signed([]byte("{")), http.StatusBadRequest},
		{"wrong JSON type", signed([]byte(`{"msgId":1}`)), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &recordingInvoker{}
			rec := httptest.NewRecorder()
			newHandler(inv, io.Discard).ServeHTTP(rec, tt.req)
			if rec.Code != tt.want {
				t.Errorf("answered %d %q, want %d", rec.Code, rec.Body, tt.want)
			}
			if len(inv.calls) != 0 {
				t.Error("a refused callback was invoked")
			}
		})
	}
}

func TestUnreachableFCIsA5xx(t *testing.T) {
	inv := &recordingInvoker{err: errors.New("dial tcp: connection refused")}
	rec := httptest.NewRecorder()
	newHandler(inv, io.Discard).ServeHTTP(rec, signed(callback("m")))
	if rec.Code != http.StatusBadGateway {
		t.Errorf("answered %d", rec.Code)
	}
}

func TestACallbackForAnotherRobotIsRefusedBeforeTheReplyFunction(t *testing.T) {
	withCode := func(code string) []byte {
		var body map[string]any
		if err := json.Unmarshal(callback("msg-robot"), &body); err != nil {
			t.Fatal(err)
		}
		if code != "-" {
			body["robotCode"] = code
		}
		b, _ := json.Marshal(body)
		return b
	}
	for name, tt := range map[string]struct {
		configured, sent string
		accepted         bool
	}{
		"this robot's code":              {configured: "dingrobot", sent: "dingrobot", accepted: true},
		"another robot's code":           {configured: "dingrobot", sent: "dingother"},
		"no robotCode in the body":       {configured: "dingrobot", sent: "-"},
		"an empty robotCode":             {configured: "dingrobot", sent: ""},
		"a code differing only in case":  {configured: "dingrobot", sent: "DINGROBOT"},
		"no code configured: any passes": {configured: "", sent: "dingother", accepted: true},
	} {
		t.Run(name, func(t *testing.T) {
			inv := &recordingInvoker{}
			var logs bytes.Buffer
			h := NewHandler(Config{
				Verifier: dingtalk.Verifier{AppSecret: secret}, Invoker: inv, Function: "reply",
				Credentials: envCreds, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), RobotCode: tt.configured,
			})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, signed(withCode(tt.sent)))
			if tt.accepted {
				if rec.Code != http.StatusOK || len(inv.calls) != 1 {
					t.Fatalf("DingTalk got %d %q, %d invocations; want 200 and one", rec.Code, rec.Body, len(inv.calls))
				}
				return
			}
			if rec.Code != http.StatusForbidden || len(inv.calls) != 0 {
				t.Fatalf("DingTalk got %d %q, %d invocations; want 403 and none", rec.Code, rec.Body, len(inv.calls))
			}
			if !strings.Contains(rec.Body.String(), "robotCode") || !strings.Contains(logs.String(), "robotCode is not this robot's") {
				t.Errorf("the refusal does not say why: body %q, logs %s", rec.Body, logs.String())
			}
		})
	}
}
