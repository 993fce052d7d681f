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
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/fc"
)

const cardSecret = "card-callback-secret-0123456789"

// pressClock is the instant of the press tests.
var pressClock = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

var cardIDs = dingtalk.CardIDs{Secret: cardSecret}

// ourCard is an outTrackId the reply function made.
var ourCard = cardIDs.New("fcrobot-0123456789abcdef0123456789abcdef")

// taskInvoker stands for FC with async tasks: a task id seen before is
// refused with ErrTaskExists, as FC answers 409.
type taskInvoker struct {
	mu    sync.Mutex
	tasks map[string]chat.Event
	order []string
	// block, when set, holds every call until its context ends: FC not
	// answering.
	block bool
}

func (f *taskInvoker) InvokeAsync(ctx context.Context, _ alicloud.Credentials, _ string, payload []byte, taskID string) (string, error) {
	if f.block {
		<-ctx.Done()
		return "", ctx.Err()
	}
	var ev chat.Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, seen := f.tasks[taskID]; seen {
		return "", fmt.Errorf("HTTP 409: %w", fc.ErrTaskExists)
	}
	if f.tasks == nil {
		f.tasks = map[string]chat.Event{}
	}
	f.tasks[taskID] = ev
	f.order = append(f.order, taskID)
	return "req-" + strconv.Itoa(len(f.order)), nil
}

func (f *taskInvoker) events() []chat.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []chat.Event
	for _, id := range f.order {
		out = append(out, f.tasks[id])
	}
	return out
}

func pressHandler(inv Invoker, logs io.Writer, presses PressConfig) *Handler {
	if presses.Verifier.Now == nil {
		presses.Verifier.Now = func() time.Time { return pressClock }
	}
	return NewHandler(Config{
		Verifier: dingtalk.Verifier{AppSecret: secret, Now: func() time.Time { return pressClock }}, Invoker: inv, Function: "reply",
		Credentials: envCreds, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Now: func() time.Time { return pressClock },
		Presses: presses,
	})
}

func buttons() PressConfig {
	return PressConfig{Verifier: dingtalk.CardCallbackVerifier{Secret: cardSecret}, IDs: cardIDs}
}

// pressBody is a press as DingTalk sends it (both content and value).
func pressBody(outTrackID, userID string, params map[string]string) []byte {
	private, _ := json.Marshal(map[string]any{"cardPrivateData": map[string]any{"actionIds": []string{"b"}, "params": params}})
	b, _ := json.Marshal(map[string]any{
		"type": "actionCallback", "outTrackId": outTrackID, "corpId": "dingcorp", "userId": userID,
		"content": string(private), "value": string(private), "extension": "{}", "userIdType": 1,
	})
	return b
}

// signedPress is a press request signed with secret at the time at.
func signedPress(path string, body []byte, secret string, at time.Time) *http.Request {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set(dingtalk.CardTimestampHeader, ts)
	req.Header.Set(dingtalk.CardSignatureHeader, dingtalk.CardCallbackSign(secret, ts))
	return req
}

func TestAPressIsHandedToTheReplyFunctionOnceAndAnsweredAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inv := &taskInvoker{}
		var logs bytes.Buffer
		h := pressHandler(inv, &logs, buttons())
		body := pressBody(ourCard, "manager4321", map[string]string{"action": "approve", "call": "call-7"})
		started := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedPress(PressPath, body, cardSecret, pressClock.Add(-time.Second)))
		if took := time.Since(started); took != 0 {
			t.Errorf("the press was answered after %v; want at once", took)
		}
		if rec.Code != http.StatusOK || rec.Body.String() != "{}" || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("DingTalk got %d %q", rec.Code, rec.Body)
		}
		evs := inv.events()
		if len(evs) != 1 {
			t.Fatalf("%d invocations", len(evs))
		}
		ev := evs[0]
		if err := ev.Validate(); err != nil {
			t.Fatalf("the event does not validate: %v", err)
		}
		p := ev.Press
		if p == nil || p.CardID != ourCard || p.UserID != "manager4321" || p.CorpID != "dingcorp" || p.Action != chat.PressApprove ||
			p.Params["call"] != "call-7" || !p.At.Equal(pressClock) || ev.Message.ID != "" {
			t.Errorf("event %+v, press %+v", ev, p)
		}
		if !strings.Contains(logs.String(), "press handed to the reply function") || strings.Contains(logs.String(), cardSecret) {
			t.Errorf("log: %s", logs.String())
		}

		// DingTalk sends the same press again: FC refuses the task, and
		// DingTalk hears 200.
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, signedPress(PressPath, body, cardSecret, pressClock.Add(-time.Second)))
		if rec.Code != http.StatusOK || len(inv.events()) != 1 {
			t.Errorf("the press sent again: %d, %d FC tasks; want 200 and one task", rec.Code, len(inv.events()))
		}
		// The same button pressed again later is another press.
		h.ServeHTTP(httptest.NewRecorder(), signedPress(PressPath, body, cardSecret, pressClock))
		if n := len(inv.events()); n != 2 {
			t.Errorf("a later press: %d FC tasks; want 2", n)
		}
	})
}

func TestPressesThatAreNotTheRobotsAreRefusedAndInvokeNothing(t *testing.T) {
	other := dingtalk.CardIDs{Secret: "another-robots-secret-0123456789"}
	stop := map[string]string{"action": "stop"}
	huge := pressBody(ourCard, "u", map[string]string{"action": "stop", "x": strings.Repeat("x", MaxCardCallbackBytes)})
	unsigned := httptest.NewRequest(http.MethodPost, PressPath, bytes.NewReader(pressBody(ourCard, "u", stop)))
	messageSigned := signedAt(pressBody(ourCard, "u", stop), pressClock)
	messageSigned.URL.Path = PressPath
	for _, tt := range []struct {
		name    string
		presses PressConfig
		req     *http.Request
		status  int
		says    string
	}{
		{"a forged signature", buttons(), signedPress(PressPath, pressBody(ourCard, "u", stop), "forger", pressClock), 403, "signature mismatch"},
		{"no signature", buttons(), unsigned, 403, "missing"},
		{"a message's signature", buttons(), messageSigned, 403, "missing"},
		{"a stale timestamp", buttons(), signedPress(PressPath, pressBody(ourCard, "u", stop), cardSecret, pressClock.Add(-2*time.Hour)), 403, "too far"},
		{"a card the robot never made", buttons(), signedPress(PressPath, pressBody("fcrobot-0123456789abcdef0123456789abcdef", "u", stop), cardSecret, pressClock), 403, "not one of this robot's cards"},
		{"another robot's card", buttons(), signedPress(PressPath, pressBody(other.New("fcrobot-x"), "u", stop), cardSecret, pressClock), 403, "not one of this robot's cards"},
		{"an unknown action", buttons(), signedPress(PressPath, pressBody(ourCard, "u", map[string]string{"action": "launch"}), cardSecret, pressClock), 400, "none of the robot's buttons"},
		{"no action", buttons(), signedPress(PressPath, pressBody(ourCard, "u", nil), cardSecret, pressClock), 400, "none of the robot's buttons"},
		{"not JSON", buttons(), signedPress(PressPath, []byte("{"), cardSecret, pressClock), 400, "malformed"},
		{"too large", buttons(), signedPress(PressPath, huge, cardSecret, pressClock), 413, "64 KiB"},
		{"a GET", buttons(), httptest.NewRequest(http.MethodGet, PressPath, nil), 405, "POST"},
		{"buttons not configured", PressConfig{}, signedPress(PressPath, pressBody(ourCard, "u", stop), cardSecret, pressClock), 404, "CARD_CALLBACK_SECRET"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv := &taskInvoker{}
			var logs bytes.Buffer
			rec := httptest.NewRecorder()
			pressHandler(inv, &logs, tt.presses).ServeHTTP(rec, tt.req)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.says) {
				t.Errorf("answered %d %q; want %d saying %q", rec.Code, rec.Body, tt.status, tt.says)
			}
			if len(inv.events()) != 0 {
				t.Error("a refused press was handed to the reply function")
			}
			if tt.status != 405 && !strings.Contains(logs.String(), "card callback") {
				t.Errorf("no log line says why: %s", logs.String())
			}
		})
	}
}

func TestAPressFCDoesNotTakeInTimeIsAnsweredWithinDingTalksWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := pressHandler(&taskInvoker{block: true}, io.Discard, buttons())
		started := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedPress(PressPath, pressBody(ourCard, "u", map[string]string{"action": "stop"}), cardSecret, pressClock))
		took := time.Since(started)
		if rec.Code != http.StatusBadGateway || took != PressInvokeTimeout || took >= 2*time.Second {
			t.Errorf("answered %d after %v; want 502 after %v, within DingTalk's 2 s", rec.Code, took, PressInvokeTimeout)
		}
	})
	inv := &recordingInvoker{err: errors.New("dial tcp: connection refused")}
	rec := httptest.NewRecorder()
	pressHandler(inv, io.Discard, buttons()).ServeHTTP(rec, signedPress(PressPath, pressBody(ourCard, "u", map[string]string{"action": "stop"}), cardSecret, pressClock))
	if rec.Code != http.StatusBadGateway {
		t.Errorf("FC unreachable: answered %d", rec.Code)
	}
}

func TestPressesComeAtTheConfiguredURLsPathToo(t *testing.T) {
	inv := &taskInvoker{}
	presses := buttons()
	presses.CallbackURL = "https://bot.example.com/dingtalk/card"
	h := pressHandler(inv, io.Discard, presses)
	for _, path := range []string{"/dingtalk/card", PressPath} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedPress(path, pressBody(ourCard, "u-"+path, map[string]string{"action": "like"}), cardSecret, pressClock))
		if rec.Code != http.StatusOK {
			t.Errorf("%s: %d %q", path, rec.Code, rec.Body)
		}
	}
	if n := len(inv.events()); n != 2 {
		t.Errorf("%d presses handed over, want 2", n)
	}
}

func TestPressTaskIDs(t *testing.T) {
	p := chat.Press{CardID: ourCard, UserID: "u", Action: chat.PressApprove, Params: map[string]string{"call": "a"}}
	id := PressTaskID(p, "1")
	if len(id) > 64 || strings.ContainsAny(id, "/.\x00_") || !strings.HasPrefix(id, "dingtalk-press-") {
		t.Errorf("PressTaskID = %q: not a safe FC task id", id)
	}
	for name, q := range map[string]chat.Press{
		"another card":   {CardID: ourCard + "x", UserID: "u", Action: chat.PressApprove, Params: map[string]string{"call": "a"}},
		"another user":   {CardID: ourCard, UserID: "v", Action: chat.PressApprove, Params: map[string]string{"call": "a"}},
		"another action": {CardID: ourCard, UserID: "u", Action: chat.PressDeny, Params: map[string]string{"call": "a"}},
		"another call":   {CardID: ourCard, UserID: "u", Action: chat.PressApprove, Params: map[string]string{"call": "b"}},
		"params shifted": {CardID: ourCard, UserID: "u", Action: chat.PressApprove, Params: map[string]string{"call\x00a": ""}},
	} {
		if PressTaskID(q, "1") == id {
			t.Errorf("%s: the same task id", name)
		}
	}
	if PressTaskID(p, "2") == id || PressTaskID(p, "1") != id {
		t.Error("the task id does not follow the timestamp alone")
	}
}

func TestMessageEventsNameTheCardCallbackURL(t *testing.T) {
	configured := buttons()
	configured.CallbackURL = "https://bot.example.com/card"
	for _, tt := range []struct {
		name    string
		presses PressConfig
		host    string
		proto   string
		want    string
	}{
		{"FC's trigger", buttons(), "1234.cn-hangzhou.fcapp.run", "", "https://1234.cn-hangzhou.fcapp.run/card"},
		{"upper case", buttons(), "1234.CN-Hangzhou.fcapp.run", "", "https://1234.cn-hangzhou.fcapp.run/card"},
		{"a request saying http", buttons(), "bot.example.com", "http", "https://bot.example.com/card"},
		{"a local proxy saying https", buttons(), "127.0.0.1:8443", "https", "https://127.0.0.1:8443/card"},
		{"a proxy saying https, twice", buttons(), "bot.example.com:8443", "HTTPS, http", "https://bot.example.com:8443/card"},
		{"a proxy saying nonsense", buttons(), "bot.example.com", "gopher", "https://bot.example.com/card"},
		{"a local run", buttons(), "127.0.0.1:9000", "", "http://127.0.0.1:9000/card"},
		{"localhost", buttons(), "localhost:9000", "", "http://localhost:9000/card"},
		{"CARD_CALLBACK_URL", configured, "1234.cn-hangzhou.fcapp.run", "", "https://bot.example.com/card"},
		{"a Host with a path", buttons(), "evil.example/x", "", ""},
		{"a Host with a user", buttons(), "user@evil.example", "", ""},
		{"a Host with a space", buttons(), "evil example", "", ""},
		{"a port out of range", buttons(), "bot.example.com:70000", "", ""},
		{"an empty port", buttons(), "bot.example.com:", "", ""},
		{"a label too long", buttons(), strings.Repeat("a", 64) + ".example", "", ""},
		{"a hyphen first", buttons(), "-bot.example.com", "", ""},
		{"no buttons", PressConfig{}, "1234.cn-hangzhou.fcapp.run", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv := &taskInvoker{}
			var logs bytes.Buffer
			h := pressHandler(inv, &logs, tt.presses)
			req := signedAt(callbackAt("msg-"+tt.name), pressClock)
			req.Host = tt.host
			if tt.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			evs := inv.events()
			if rec.Code != http.StatusOK || len(evs) != 1 {
				t.Fatalf("the message: %d %q, %d invocations", rec.Code, rec.Body, len(evs))
			}
			if evs[0].CardCallbackURL != tt.want {
				t.Errorf("the event names %q, want %q", evs[0].CardCallbackURL, tt.want)
			}
			warned := strings.Contains(logs.String(), "set CARD_CALLBACK_URL")
			if warned != (tt.want == "" && tt.presses.enabled()) {
				t.Errorf("warned %v; log %s", warned, logs.String())
			}
		})
	}
}

// callbackAt is callback with the times of pressClock.
func callbackAt(id string) []byte {
	return []byte(fmt.Sprintf(`{"msgtype":"text","msgId":%q,"text":{"content":"你好"},"conversationId":"cid","conversationType":"1",
		"senderId":"sid","senderStaffId":"staff","sessionWebhook":"https://oapi.dingtalk.com/robot/sendBySession?session=s",
		"sessionWebhookExpiredTime":%d,"createAt":%d}`, id, pressClock.Add(time.Hour).UnixMilli(), pressClock.UnixMilli()))
}

// signedAt is signed at the time at.
func signedAt(body []byte, at time.Time) *http.Request {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("timestamp", ts)
	req.Header.Set("sign", dingtalk.Sign(secret, ts))
	return req
}
