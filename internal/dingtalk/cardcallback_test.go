package dingtalk_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

const (
	routeKey    = "fcrobot-buttons"
	callbackURL = "https://1234.cn-hangzhou.fcapp.run/card"
)

func TestRegisterCardCallbackIsIdempotent(t *testing.T) {
	fake, client := newOpenAPI(t)
	for range 2 {
		if err := client.RegisterCardCallback(t.Context(), routeKey, callbackURL, cardSecret); err != nil {
			t.Fatal(err)
		}
	}
	reg, ok := fake.CardCallback(routeKey)
	if !ok || reg.URL != callbackURL || reg.APISecret != cardSecret {
		t.Fatalf("registered %+v", reg)
	}
	for _, r := range fake.CardCallbackRegistrations() {
		if !r.ForceUpdate {
			t.Error("registered without forceUpdate: a second call is refused as param.callbackRouteKeyExist")
		}
	}
	// A redeploy at another address takes the route key over.
	if err := client.RegisterCardCallback(t.Context(), routeKey, "https://bot.example.com/card", cardSecret); err != nil {
		t.Fatal(err)
	}
	if reg, _ := fake.CardCallback(routeKey); reg.URL != "https://bot.example.com/card" {
		t.Errorf("the route key goes to %s after the new registration", reg.URL)
	}
}

func TestRegisterCardCallbackRefusesBadValuesWithoutCalling(t *testing.T) {
	fake, client := newOpenAPI(t)
	for name, args := range map[string][3]string{
		"no route key":      {"", callbackURL, cardSecret},
		"no secret":         {routeKey, callbackURL, ""},
		"no URL":            {routeKey, "", cardSecret},
		"a relative URL":    {routeKey, "/card", cardSecret},
		"another scheme":    {routeKey, "ftp://x/card", cardSecret},
		"a URL with a user": {routeKey, "https://u:p@x/card", cardSecret},
	} {
		if err := client.RegisterCardCallback(t.Context(), args[0], args[1], args[2]); !errors.Is(err, dingtalk.ErrInvalidRequest) {
			t.Errorf("%s: %v, want ErrInvalidRequest", name, err)
		}
	}
	if n := fake.MeteredCalls(); n != 0 {
		t.Errorf("%d calls made", n)
	}
}

// refusingDingTalk answers every registration with status and body, after
// granting a token, and counts them.
func refusingDingTalk(t *testing.T, status int, body string) (*dingtalk.OpenAPI, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == dingtalk.AccessTokenPath {
			io.WriteString(w, `{"accessToken":"tok","expireIn":7200}`)
			return
		}
		calls.Add(1)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{BaseURL: srv.URL, AppKey: appKey, AppSecret: appSecret, Retry: fastRetries()}), &calls
}

func TestRegisterCardCallbackErrors(t *testing.T) {
	t.Run("a route key that exists is not retried", func(t *testing.T) {
		client, calls := refusingDingTalk(t, 500, `{"code":"param.callbackRouteKeyExist","message":"param.callbackRouteKeyExist"}`)
		err := client.RegisterCardCallback(t.Context(), routeKey, callbackURL, cardSecret)
		var apiErr *dingtalk.OpenAPIError
		if !errors.As(err, &apiErr) || apiErr.Code != dingtalk.CodeCallbackRouteKeyExists || calls.Load() != 1 {
			t.Errorf("%v after %d calls; want the refusal, once", err, calls.Load())
		}
	})
	t.Run("a busy DingTalk is retried", func(t *testing.T) {
		client, calls := refusingDingTalk(t, 500, `{"code":"system.busy","message":"系统繁忙"}`)
		err := client.RegisterCardCallback(t.Context(), routeKey, callbackURL, cardSecret)
		if err == nil || calls.Load() != dingtalk.DefaultMaxAttempts {
			t.Errorf("%v after %d calls; want %d attempts", err, calls.Load(), dingtalk.DefaultMaxAttempts)
		}
	})
	t.Run("a refusal that quotes the secret", func(t *testing.T) {
		client, _ := refusingDingTalk(t, 400, `{"code":"system.updateCallbackFailed","message":"cannot update apiSecret `+cardSecret+`"}`)
		err := client.RegisterCardCallback(t.Context(), routeKey, callbackURL, cardSecret)
		if err == nil || strings.Contains(err.Error(), cardSecret) {
			t.Errorf("error %v; want a refusal without the secret", err)
		}
	})
	t.Run("an answer naming another URL", func(t *testing.T) {
		client, _ := refusingDingTalk(t, 200, `{"success":true,"result":{"callbackUrl":"https://elsewhere.example/card","apiSecret":"x"}}`)
		err := client.RegisterCardCallback(t.Context(), routeKey, callbackURL, cardSecret)
		if !errors.Is(err, dingtalk.ErrUnexpectedOpenAPIResponse) {
			t.Errorf("error %v; want ErrUnexpectedOpenAPIResponse", err)
		}
	})
}

func TestUpdateCardDataForEveryoneIsMetered(t *testing.T) {
	var calls atomic.Int32
	fake, client := newCardAPI(t, func(c *dingtalk.OpenAPIConfig) { c.OnCall = func() { calls.Add(1) } })
	card := groupCard("card-1")
	card.Data["likes"] = "0"
	card.Data["stop_visible"] = "true"
	if err := client.CreateAndDeliverCard(t.Context(), card); err != nil {
		t.Fatal(err)
	}
	before, metered := calls.Load(), fake.MeteredCalls()
	if err := client.UpdateCardData(t.Context(), "card-1", map[string]string{"likes": "1"}); err != nil {
		t.Fatal(err)
	}
	if calls.Load()-before != 1 || fake.MeteredCalls()-metered != 1 {
		t.Errorf("the update cost %d calls (the fake counted %d); want 1", calls.Load()-before, fake.MeteredCalls()-metered)
	}
	c := fake.Cards()[0]
	if c.Var("likes") != "1" || c.Var("stop_visible") != "true" || c.Content(contentKey) != "" {
		t.Errorf("after the update: likes %q, stop_visible %q; want 1 and the rest kept", c.Var("likes"), c.Var("stop_visible"))
	}

	err := client.UpdateCardData(t.Context(), "no-such-card", map[string]string{"likes": "1"})
	var apiErr *dingtalk.OpenAPIError
	if !errors.As(err, &apiErr) || apiErr.Code != dingtalktest.CodeCardNotExist || apiErr.Retryable() {
		t.Errorf("an unknown card: %v", err)
	}
	before = calls.Load()
	for name, data := range map[string]map[string]string{
		"nothing":      {},
		"a long name":  {strings.Repeat("k", 101): "v"},
		"a long value": {"likes": strings.Repeat("9", 1025)},
	} {
		if err := client.UpdateCardData(t.Context(), "card-1", data); !errors.Is(err, dingtalk.ErrInvalidRequest) {
			t.Errorf("%s: %v, want ErrInvalidRequest", name, err)
		}
	}
	if err := client.UpdateCardData(t.Context(), "", map[string]string{"likes": "1"}); !errors.Is(err, dingtalk.ErrInvalidRequest) {
		t.Errorf("no card: %v", err)
	}
	if calls.Load() != before {
		t.Error("a refused update was sent")
	}
}

func TestACardWithARouteKeyIsCreatedForHTTPCallbacks(t *testing.T) {
	fake := dingtalktest.NewServer()
	t.Cleanup(fake.Close)
	fake.SetApp(appKey, appSecret)
	fake.AddCardTemplate(templateID, contentKey)
	creates := &bodyRecorder{path: dingtalk.CardCreateAndDeliverPath, next: fake.Client().Transport}
	client := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: &http.Client{Transport: creates}, BaseURL: fake.URL(), AppKey: appKey, AppSecret: appSecret, Retry: fastRetries()})
	card := groupCard("card-http")
	card.CallbackRouteKey = routeKey
	if err := client.CreateAndDeliverCard(t.Context(), card); err != nil {
		t.Fatal(err)
	}
	body := creates.recorded()[0]
	if body["callbackType"] != "HTTP" || body["callbackRouteKey"] != routeKey {
		b, _ := json.Marshal(body)
		t.Errorf("created with %s; want callbackType HTTP and the route key", b)
	}
	if c := fake.Cards()[0]; c.CallbackType != "HTTP" || c.CallbackRouteKey != routeKey {
		t.Errorf("the fake recorded %q %q", c.CallbackType, c.CallbackRouteKey)
	}
	long := groupCard(strings.Repeat("x", dingtalk.MaxOutTrackIDLen+1))
	if err := client.CreateAndDeliverCard(t.Context(), long); !errors.Is(err, dingtalk.ErrInvalidRequest) {
		t.Errorf("an outTrackId over DingTalk's limit: %v", err)
	}
}
