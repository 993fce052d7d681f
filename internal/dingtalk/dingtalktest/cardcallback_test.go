package dingtalktest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/pipenet"
)

const (
	pressRouteKey = "fcrobot-buttons"
	pressSecret   = "card-callback-secret-0123456789"
)

func registerBody(url string, force bool) string {
	b, _ := json.Marshal(map[string]any{"callbackRouteKey": pressRouteKey, "callbackUrl": url, "apiSecret": pressSecret, "forceUpdate": force})
	return string(b)
}

func TestTheFakeRegistersCardCallbacksAsDingTalkDoes(t *testing.T) {
	s, tok := newCardServer(t)
	if a := callCard(t, s, http.MethodPost, dingtalk.CardCallbackRegisterPath, "", registerBody("https://a/card", true)); a.Status != 400 || a.Code != dingtalk.CodeInvalidAuthentication {
		t.Errorf("without a token: %+v", a)
	}
	if a := callCard(t, s, http.MethodPost, dingtalk.CardCallbackRegisterPath, tok, `{"callbackUrl":"https://a/card"}`); a.Status != 400 || a.Code != dingtalk.CodeCallbackRouteKeyEmpty {
		t.Errorf("without a route key: %+v", a)
	}
	if a := callCard(t, s, http.MethodPost, dingtalk.CardCallbackRegisterPath, tok, `{"callbackRouteKey":"k"}`); a.Status != 400 || a.Code != dingtalk.CodeCallbackURLEmpty {
		t.Errorf("without a URL: %+v", a)
	}
	a := callCard(t, s, http.MethodPost, dingtalk.CardCallbackRegisterPath, tok, registerBody("https://a/card", false))
	if a.Status != 200 || a.Success == nil || !*a.Success || !strings.Contains(string(a.Result), `"callbackUrl":"https://a/card"`) {
		t.Errorf("the first registration: %+v", a)
	}
	if a := callCard(t, s, http.MethodPost, dingtalk.CardCallbackRegisterPath, tok, registerBody("https://b/card", false)); a.Status != 500 || a.Code != dingtalk.CodeCallbackRouteKeyExists {
		t.Errorf("again without forceUpdate: %+v", a)
	}
	if reg, _ := s.CardCallback(pressRouteKey); reg.URL != "https://a/card" {
		t.Errorf("a refused registration changed the URL to %s", reg.URL)
	}
	if a := callCard(t, s, http.MethodPost, dingtalk.CardCallbackRegisterPath, tok, registerBody("https://b/card", true)); a.Status != 200 {
		t.Errorf("again with forceUpdate: %+v", a)
	}
	if reg, _ := s.CardCallback(pressRouteKey); reg.URL != "https://b/card" || len(s.CardCallbackRegistrations()) != 2 {
		t.Errorf("after forceUpdate: %+v, %d registrations", reg, len(s.CardCallbackRegistrations()))
	}
	if n := s.MeteredCalls(); n != 6 {
		t.Errorf("%d metered calls; want the 6 registrations, token requests left out", n)
	}
}

// pressReceiver is the conversation function's /card as a test sees it:
// it records each request and answers after hold.
type pressReceiver struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte
	hold     time.Duration
}

func (p *pressReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.requests = append(p.requests, r)
	p.bodies = append(p.bodies, body)
	hold := p.hold
	p.mu.Unlock()
	time.Sleep(hold) // the bubble's time
	io.WriteString(w, "{}")
}

// pressWorld is a fake whose presses go to an in-memory receiver, in a
// synctest bubble, with a card created for HTTP callbacks.
func pressWorld(t *testing.T, hold time.Duration) (*dingtalktest.Server, *pressReceiver, string) {
	t.Helper()
	recv := &pressReceiver{hold: hold}
	srv := httptest.NewUnstartedServer(recv)
	pipenet.Start(srv)
	t.Cleanup(srv.Close)
	s, tok := newCardServer(t, dingtalktest.InMemory(), dingtalktest.WithPressClient(srv.Client()))
	if a := callCard(t, s, http.MethodPost, dingtalk.CardCallbackRegisterPath, tok, registerBody(srv.URL+"/card", true)); a.Status != 200 {
		t.Fatalf("registration: %+v", a)
	}
	a := callCard(t, s, http.MethodPost, dingtalk.CardCreateAndDeliverPath, tok, `{"cardTemplateId":"`+cardTemplate+`","outTrackId":"card-1",
		"callbackType":"HTTP","callbackRouteKey":"`+pressRouteKey+`","cardData":{"cardParamMap":{"content":""}},
		"openSpaceId":"`+groupSpace+`","imGroupOpenDeliverModel":{"robotCode":"`+appKey+`"}}`)
	if a.Status != 200 {
		t.Fatalf("create: %+v", a)
	}
	return s, recv, tok
}

func TestTheFakePressesAsDingTalkDoes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, recv, _ := pressWorld(t, 10*time.Millisecond)
		res, err := s.Press(t.Context(), "card-1", "manager4321", map[string]string{"action": "approve", "call": "c-1"})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Answered() || res.Body != "{}" || res.Took != 10*time.Millisecond {
			t.Errorf("press result %+v; want answered {} after 10ms", res)
		}
		r, body := recv.requests[0], recv.bodies[0]
		if r.Method != http.MethodPost || r.URL.Path != "/card" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		v := dingtalk.CardCallbackVerifier{Secret: pressSecret}
		if err := v.Verify(r.Header.Get(dingtalk.CardTimestampHeader), r.Header.Get(dingtalk.CardSignatureHeader)); err != nil {
			t.Errorf("the press is not signed with the registered secret: %v", err)
		}
		var sent map[string]any
		if err := json.Unmarshal(body, &sent); err != nil {
			t.Fatal(err)
		}
		if sent["content"] != sent["value"] || sent["type"] != "actionCallback" || sent["outTrackId"] != "card-1" || sent["userId"] != "manager4321" {
			t.Errorf("press body %s", body)
		}
		p, err := dingtalk.ParseCardCallback(body)
		if err != nil || p.Action != "approve" || p.Params["call"] != "c-1" {
			t.Errorf("the robot's parser reads %+v, %v", p, err)
		}
	})
}

func TestTheFakeGivesUpOnASlowAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _, _ := pressWorld(t, 3*time.Second)
		res, err := s.Press(t.Context(), "card-1", "u", map[string]string{"action": "stop"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Answered() || !res.TimedOut || res.Took != dingtalktest.PressAnswerWindow {
			t.Errorf("press result %+v; want it timed out after %v", res, dingtalktest.PressAnswerWindow)
		}
		time.Sleep(2 * time.Second) // let the receiver finish, in the bubble's time
	})
}

func TestTheFakeSignsAForgedPressWithTheForgersSecret(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, recv, _ := pressWorld(t, 0)
		if _, err := s.PressWith(t.Context(), dingtalktest.PressRequest{OutTrackID: "card-1", UserID: "u", Params: map[string]string{"action": "stop"}, Secret: "forger"}); err != nil {
			t.Fatal(err)
		}
		r := recv.requests[0]
		v := dingtalk.CardCallbackVerifier{Secret: pressSecret}
		if err := v.Verify(r.Header.Get(dingtalk.CardTimestampHeader), r.Header.Get(dingtalk.CardSignatureHeader)); err == nil {
			t.Error("a forged press carries the registered secret's signature")
		}
		// A card the fake never made goes to the route key named.
		if _, err := s.PressWith(t.Context(), dingtalktest.PressRequest{RouteKey: pressRouteKey, OutTrackID: "forged", UserID: "u", Params: map[string]string{"action": "stop"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Press(t.Context(), "forged", "u", nil); err == nil {
			t.Error("a press of an unknown card without a route key was sent")
		}
		if n := len(s.Presses()); n != 2 {
			t.Errorf("%d presses recorded", n)
		}
	})
}

func TestTheFakeSendsNoPressOfACardWithoutHTTPCallbacks(t *testing.T) {
	s, tok := newCardServer(t)
	a := callCard(t, s, http.MethodPost, dingtalk.CardCreateAndDeliverPath, tok, `{"cardTemplateId":"`+cardTemplate+`","outTrackId":"card-s",
		"callbackType":"STREAM","cardData":{"cardParamMap":{"content":""}},"openSpaceId":"`+groupSpace+`","imGroupOpenDeliverModel":{"robotCode":"`+appKey+`"}}`)
	if a.Status != 200 {
		t.Fatalf("create: %+v", a)
	}
	if _, err := s.Press(t.Context(), "card-s", "u", map[string]string{"action": "stop"}); err == nil || !strings.Contains(err.Error(), "STREAM") {
		t.Errorf("Press = %v; want no press of a STREAM card", err)
	}
}

func TestTheFakeUpdatesACardForEveryone(t *testing.T) {
	s, tok := newCardServer(t)
	a := callCard(t, s, http.MethodPost, dingtalk.CardCreateAndDeliverPath, tok, `{"cardTemplateId":"`+cardTemplate+`","outTrackId":"card-u",
		"cardData":{"cardParamMap":{"content":"","likes":"0","stop_visible":"true"}},"openSpaceId":"`+groupSpace+`","imGroupOpenDeliverModel":{"robotCode":"`+appKey+`"}}`)
	if a.Status != 200 {
		t.Fatalf("create: %+v", a)
	}
	for _, tt := range []struct {
		name, token, body string
		status            int
		code              string
	}{
		{"no token", "", `{"outTrackId":"card-u","cardData":{"cardParamMap":{"likes":"1"}}}`, 400, dingtalk.CodeInvalidAuthentication},
		{"no card", tok, `{"outTrackId":"nope","cardData":{"cardParamMap":{"likes":"1"}}}`, 400, dingtalktest.CodeCardNotExist},
		{"no data", tok, `{"outTrackId":"card-u"}`, 400, dingtalktest.CodeCardDataBothEmpty},
		{"a number", tok, `{"outTrackId":"card-u","cardData":{"cardParamMap":{"likes":1}}}`, 400, dingtalktest.CodeInvalidParameter},
		{"a value over 1 KB", tok, `{"outTrackId":"card-u","cardData":{"cardParamMap":{"likes":"` + strings.Repeat("1", 1025) + `"}}}`, 400, dingtalktest.CodeInvalidParameter},
		{"by key", tok, `{"outTrackId":"card-u","cardData":{"cardParamMap":{"likes":"1"}},"cardUpdateOptions":{"updateCardDataByKey":true}}`, 200, ""},
	} {
		if a := callCard(t, s, http.MethodPut, dingtalk.CardInstancesPath, tt.token, tt.body); a.Status != tt.status || a.Code != tt.code {
			t.Errorf("%s: %d %s, want %d %s", tt.name, a.Status, a.Code, tt.status, tt.code)
		}
	}
	c := s.Cards()[0]
	if c.Var("likes") != "1" || c.Var("stop_visible") != "true" {
		t.Errorf("by key: likes %q stop %q", c.Var("likes"), c.Var("stop_visible"))
	}
	if a := callCard(t, s, http.MethodPut, dingtalk.CardInstancesPath, tok, `{"outTrackId":"card-u","cardData":{"cardParamMap":{"likes":"2"}}}`); a.Status != 200 {
		t.Fatal(a)
	}
	if c := s.Cards()[0]; c.Var("likes") != "2" || c.Var("stop_visible") != "" {
		t.Errorf("an update not by key replaces every variable: likes %q stop %q", c.Var("likes"), c.Var("stop_visible"))
	}
}
