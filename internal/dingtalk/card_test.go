package dingtalk_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

const (
	templateID = "8f3c0e2a-1b2c-4d5e-9f00-aicard.schema"
	contentKey = "content"
	groupID    = "cid5o+bbZdK/80y1V5ESE5Trw=="
	staffID    = "manager4321"
)

// newCardAPI starts a fake DingTalk that knows the AI card template and a
// client of it.
func newCardAPI(t *testing.T, configure ...func(*dingtalk.OpenAPIConfig)) (*dingtalktest.Server, *dingtalk.OpenAPI) {
	t.Helper()
	fake, client := newOpenAPI(t, configure...)
	fake.AddCardTemplate(templateID, contentKey, "status")
	return fake, client
}

func groupCard(outTrackID string) dingtalk.Card {
	return dingtalk.Card{
		TemplateID: templateID, OutTrackID: outTrackID, RobotCode: appKey, GroupID: groupID,
		Data: map[string]string{contentKey: "", "status": "1"},
	}
}

func TestCardCreatedStreamedAndFinalized(t *testing.T) {
	tests := []struct {
		name      string
		card      dingtalk.Card
		wantSpace string
	}{
		{
			name:      "group",
			card:      groupCard("msgGroup01"),
			wantSpace: "dtv1.card//IM_GROUP." + groupID,
		},
		{
			name: "single chat",
			card: dingtalk.Card{
				TemplateID: templateID, OutTrackID: "msgSingle01", RobotCode: appKey, UserID: staffID,
				Data: map[string]string{contentKey: "思考中…"},
			},
			wantSpace: "dtv1.card//IM_ROBOT." + staffID,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, client := newCardAPI(t)
			ctx := t.Context()
			if err := client.CreateAndDeliverCard(ctx, tt.card); err != nil {
				t.Fatalf("CreateAndDeliverCard: %v", err)
			}
			for _, u := range []dingtalk.CardUpdate{
				{OutTrackID: tt.card.OutTrackID, Key: contentKey, Content: "**答**"},
				{OutTrackID: tt.card.OutTrackID, Key: contentKey, Content: "**答案**\n- 一", Finalize: true},
			} {
				if err := client.StreamCard(ctx, u); err != nil {
					t.Fatalf("StreamCard(%+v): %v", u, err)
				}
			}
			cards, err := fake.WaitCards(ctx, 1, true)
			if err != nil {
				t.Fatal(err)
			}
			c := cards[0]
			if c.OutTrackID != tt.card.OutTrackID || c.TemplateID != templateID || c.OpenSpaceID != tt.wantSpace ||
				c.RobotCode != appKey || !c.Delivered {
				t.Errorf("card %+v, want %s in %s delivered by %s", c, tt.card.OutTrackID, tt.wantSpace, appKey)
			}
			for key, value := range tt.card.Data {
				if c.Data[key] != value {
					t.Errorf("card data %q = %q, want %q", key, c.Data[key], value)
				}
			}
			if got := c.Content(contentKey); got != "**答案**\n- 一" {
				t.Errorf("the card shows %q, want the last update", got)
			}
			if len(c.Updates) != 2 || c.Updates[0].GUID == c.Updates[1].GUID || !c.Updates[0].IsFull || !c.Updates[1].IsFull || c.Failed() {
				t.Errorf("updates %+v, want two full ones with their own guid, none failed", c.Updates)
			}
			if n := fake.TokenRequests(); n != 1 {
				t.Errorf("%d token requests, want 1", n)
			}
		})
	}
}

func TestCardFailedUpdate(t *testing.T) {
	fake, client := newCardAPI(t)
	ctx := t.Context()
	if err := client.CreateAndDeliverCard(ctx, groupCard("msgFail")); err != nil {
		t.Fatal(err)
	}
	if err := client.StreamCard(ctx, dingtalk.CardUpdate{OutTrackID: "msgFail", Key: contentKey, Content: "模型出错", Finalize: true, Failed: true}); err != nil {
		t.Fatal(err)
	}
	c := fake.Cards()[0]
	if !c.Finalized() || !c.Failed() || c.Content(contentKey) != "模型出错" {
		t.Errorf("card %+v, want it finalized as failed with the message", c)
	}
}

func TestCardRequestsRefusedBeforeCalling(t *testing.T) {
	valid := groupCard("msg1")
	cards := map[string]func(*dingtalk.Card){
		"no template":      func(c *dingtalk.Card) { c.TemplateID = "" },
		"no outTrackId":    func(c *dingtalk.Card) { c.OutTrackID = "" },
		"no robot code":    func(c *dingtalk.Card) { c.RobotCode = "" },
		"group and user":   func(c *dingtalk.Card) { c.UserID = staffID },
		"neither":          func(c *dingtalk.Card) { c.GroupID = "" },
		"neither, no data": func(c *dingtalk.Card) { c.GroupID, c.Data = "", nil },
	}
	updates := map[string]dingtalk.CardUpdate{
		"update without outTrackId": {Key: contentKey, Content: "x"},
		"update without key":        {OutTrackID: "msg1", Content: "x"},
	}
	fake, client := newCardAPI(t)
	for name, change := range cards {
		t.Run(name, func(t *testing.T) {
			c := valid
			change(&c)
			if err := client.CreateAndDeliverCard(t.Context(), c); !errors.Is(err, dingtalk.ErrInvalidRequest) {
				t.Errorf("CreateAndDeliverCard = %v, want ErrInvalidRequest", err)
			}
		})
	}
	for name, u := range updates {
		t.Run(name, func(t *testing.T) {
			if err := client.StreamCard(t.Context(), u); !errors.Is(err, dingtalk.ErrInvalidRequest) {
				t.Errorf("StreamCard = %v, want ErrInvalidRequest", err)
			}
		})
	}
	if n := fake.TokenRequests(); n != 0 {
		t.Errorf("%d token requests, want none: nothing was sent", n)
	}
	if n := len(fake.Cards()); n != 0 {
		t.Errorf("%d cards, want none", n)
	}
}

func TestCardPermissionDenied(t *testing.T) {
	t.Run("create", func(t *testing.T) {
		fake, client := newCardAPI(t)
		fake.DenyCardPermission(true)
		err := client.CreateAndDeliverCard(t.Context(), groupCard("msg1"))
		assertPermissionDenied(t, err)
		if n := fake.TokenRequests(); n != 2 {
			t.Errorf("%d token requests, want 2: the token is replaced once, no more", n)
		}
		if n := len(fake.Cards()); n != 0 {
			t.Errorf("%d cards, want none", n)
		}
	})
	t.Run("stream", func(t *testing.T) {
		fake, client := newCardAPI(t)
		if err := client.CreateAndDeliverCard(t.Context(), groupCard("msg1")); err != nil {
			t.Fatal(err)
		}
		fake.DenyCardPermission(true)
		err := client.StreamCard(t.Context(), dingtalk.CardUpdate{OutTrackID: "msg1", Key: contentKey, Content: "x"})
		assertPermissionDenied(t, err)
		if n := fake.TokenRequests(); n != 2 {
			t.Errorf("%d token requests, want 2: the token is replaced once, no more", n)
		}
		if u := fake.Cards()[0].Updates; len(u) != 0 {
			t.Errorf("updates %+v, want none", u)
		}
	})
}

func assertPermissionDenied(t *testing.T, err error) {
	t.Helper()
	var apiErr *dingtalk.OpenAPIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden || apiErr.Code != dingtalk.CodePermissionDenied {
		t.Fatalf("error %v, want HTTP 403 %s", err, dingtalk.CodePermissionDenied)
	}
	if apiErr.Retryable() {
		t.Errorf("a missing permission is Retryable")
	}
	if !strings.Contains(err.Error(), "Card.") {
		t.Errorf("error %q does not name the missing permission", err)
	}
}

func TestCardNotDelivered(t *testing.T) {
	fake, client := newCardAPI(t)
	fake.FailCardDeliveryNext(1, "机器人不在群中")
	err := client.CreateAndDeliverCard(t.Context(), groupCard("msg1"))
	var deliveryErr *dingtalk.CardDeliveryError
	if !errors.As(err, &deliveryErr) || deliveryErr.SpaceID != groupID || !strings.Contains(err.Error(), "机器人不在群中") {
		t.Fatalf("CreateAndDeliverCard = %v, want a CardDeliveryError with DingTalk's errorMsg", err)
	}
	if cards := fake.Cards(); len(cards) != 1 || cards[0].Delivered {
		t.Errorf("cards %+v, want one call, undelivered: a delivery failure is not retried", cards)
	}
}

func TestCardUnexpectedAnswers(t *testing.T) {
	tests := []struct {
		name, path, answer string
	}{
		{"create: success false", dingtalk.CardCreateAndDeliverPath, `{"success":false,"result":{"outTrackId":"m","deliverResults":[{"success":true}]}}`},
		{"create: no deliverResults", dingtalk.CardCreateAndDeliverPath, `{"success":true,"result":{"outTrackId":"m"}}`},
		{"create: not JSON", dingtalk.CardCreateAndDeliverPath, `<html>`},
		{"stream: success false", dingtalk.CardStreamingPath, `{"success":false,"result":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				body := `{"accessToken":"t","expireIn":7200}`
				if r.URL.Path == tt.path {
					body = tt.answer
				}
				return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{}}, nil
			})}
			client := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: hc, BaseURL: "https://api.example", AppKey: appKey, AppSecret: appSecret, Retry: fastRetries()})
			var err error
			if tt.path == dingtalk.CardCreateAndDeliverPath {
				err = client.CreateAndDeliverCard(t.Context(), groupCard("m"))
			} else {
				err = client.StreamCard(t.Context(), dingtalk.CardUpdate{OutTrackID: "m", Key: contentKey})
			}
			if !errors.Is(err, dingtalk.ErrUnexpectedOpenAPIResponse) {
				t.Fatalf("error %v, want ErrUnexpectedOpenAPIResponse", err)
			}
		})
	}
}

func TestCardRetries(t *testing.T) {
	t.Run("create", func(t *testing.T) {
		fake, client := newCardAPI(t)
		fake.FailCardCreateNext(2, http.StatusServiceUnavailable, "ServiceUnavailable", "busy")
		if err := client.CreateAndDeliverCard(t.Context(), groupCard("msg1")); err != nil {
			t.Fatalf("CreateAndDeliverCard = %v, want success on the third try", err)
		}
		if n := len(fake.Cards()); n != 1 {
			t.Errorf("%d cards, want 1", n)
		}
	})
	t.Run("create gives up", func(t *testing.T) {
		fake, client := newCardAPI(t, func(c *dingtalk.OpenAPIConfig) { c.Retry.Attempts = 2 })
		fake.FailCardCreateNext(5, http.StatusBadGateway, "BadGateway", "bad gateway")
		err := client.CreateAndDeliverCard(t.Context(), groupCard("msg1"))
		var apiErr *dingtalk.OpenAPIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadGateway {
			t.Fatalf("CreateAndDeliverCard = %v, want the last HTTP 502", err)
		}
		if n := len(fake.Cards()); n != 0 {
			t.Errorf("%d cards, want none", n)
		}
	})
	t.Run("stream at the per-second limit", func(t *testing.T) {
		fake, client := newCardAPI(t)
		if err := client.CreateAndDeliverCard(t.Context(), groupCard("msg1")); err != nil {
			t.Fatal(err)
		}
		fake.FailCardStreamingNext(2, http.StatusForbidden, "Forbidden.AccessDenied.QpsLimitForApi", "too fast")
		if err := client.StreamCard(t.Context(), dingtalk.CardUpdate{OutTrackID: "msg1", Key: contentKey, Content: "x"}); err != nil {
			t.Fatalf("StreamCard = %v, want success on the third try", err)
		}
		if u := fake.Cards()[0].Updates; len(u) != 1 || u[0].Content != "x" {
			t.Errorf("updates %+v, want the one update", u)
		}
		if n := fake.TokenRequests(); n != 1 {
			t.Errorf("%d token requests, want 1: the per-second limit is no token refusal", n)
		}
	})
	t.Run("stream refusals are not retried", func(t *testing.T) {
		fake, client := newCardAPI(t)
		err := client.StreamCard(t.Context(), dingtalk.CardUpdate{OutTrackID: "nobody", Key: contentKey, Content: "x"})
		var apiErr *dingtalk.OpenAPIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Code != dingtalktest.CodeCardNotFound || apiErr.Retryable() {
			t.Fatalf("StreamCard = %v, want HTTP 400 %s", err, dingtalktest.CodeCardNotFound)
		}
		if n := fake.TokenRequests(); n != 1 {
			t.Errorf("%d token requests, want 1", n)
		}
	})
}

// bodyRecorder records the JSON bodies of the requests to one path.
type bodyRecorder struct {
	path   string
	next   http.RoundTripper
	mu     sync.Mutex
	bodies []map[string]any
}

func (b *bodyRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == b.path && r.Body != nil {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(strings.NewReader(string(raw)))
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			return nil, err
		}
		b.mu.Lock()
		b.bodies = append(b.bodies, body)
		b.mu.Unlock()
	}
	return b.next.RoundTrip(r)
}

func (b *bodyRecorder) recorded() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bodies
}

func TestCardWireShape(t *testing.T) {
	fake := dingtalktest.NewServer()
	t.Cleanup(fake.Close)
	fake.SetApp(appKey, appSecret)
	fake.AddCardTemplate(templateID, contentKey)
	creates := &bodyRecorder{path: dingtalk.CardCreateAndDeliverPath, next: fake.Client().Transport}
	updates := &bodyRecorder{path: dingtalk.CardStreamingPath, next: creates}
	client := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: &http.Client{Transport: updates}, BaseURL: fake.URL(), AppKey: appKey, AppSecret: appSecret, Retry: fastRetries()})
	ctx := t.Context()

	single := dingtalk.Card{TemplateID: templateID, OutTrackID: "msgA", RobotCode: appKey, UserID: staffID, Data: map[string]string{contentKey: ""}}
	if err := client.CreateAndDeliverCard(ctx, single); err != nil {
		t.Fatal(err)
	}
	if err := client.CreateAndDeliverCard(ctx, groupCard("msgB")); err != nil {
		t.Fatal(err)
	}
	got := creates.recorded()
	if len(got) != 2 {
		t.Fatalf("%d create requests, want 2", len(got))
	}
	wantSingle := `{"callbackType":"STREAM","cardData":{"cardParamMap":{"content":""}},"cardTemplateId":"` + templateID + `",` +
		`"imRobotOpenDeliverModel":{"robotCode":"` + appKey + `","spaceType":"IM_ROBOT"},"imRobotOpenSpaceModel":{"supportForward":true},` +
		`"openSpaceId":"dtv1.card//IM_ROBOT.` + staffID + `","outTrackId":"msgA"}`
	wantGroup := `{"callbackType":"STREAM","cardData":{"cardParamMap":{"content":"","status":"1"}},"cardTemplateId":"` + templateID + `",` +
		`"imGroupOpenDeliverModel":{"robotCode":"` + appKey + `"},"imGroupOpenSpaceModel":{"supportForward":true},` +
		`"openSpaceId":"dtv1.card//IM_GROUP.` + groupID + `","outTrackId":"msgB"}`
	for i, want := range []string{wantSingle, wantGroup} {
		if b, _ := json.Marshal(got[i]); string(b) != want {
			t.Errorf("create request %d =\n%s\nwant\n%s", i, b, want)
		}
	}

	// A refused update is sent again with its guid; the next update has
	// its own.
	fake.FailCardStreamingNext(1, http.StatusInternalServerError, "InternalError", "oops")
	for _, content := range []string{"one", "two"} {
		if err := client.StreamCard(ctx, dingtalk.CardUpdate{OutTrackID: "msgA", Key: contentKey, Content: content, Finalize: content == "two"}); err != nil {
			t.Fatal(err)
		}
	}
	puts := updates.recorded()
	if len(puts) != 3 {
		t.Fatalf("%d streaming requests, want 3", len(puts))
	}
	if puts[0]["guid"] != puts[1]["guid"] || puts[1]["guid"] == puts[2]["guid"] || puts[0]["guid"] == "" {
		t.Errorf("guids %v, %v, %v: want the retry to reuse the first, the next update a new one", puts[0]["guid"], puts[1]["guid"], puts[2]["guid"])
	}
	for _, p := range puts {
		if p["isFull"] != true || p["isError"] != false || p["key"] != contentKey || p["outTrackId"] != "msgA" {
			t.Errorf("streaming request %v, want isFull true, isError false, the key and the card", p)
		}
	}
	if puts[1]["isFinalize"] != false || puts[2]["isFinalize"] != true {
		t.Errorf("isFinalize %v then %v, want false then true", puts[1]["isFinalize"], puts[2]["isFinalize"])
	}
}

func TestCardTokenReplacedOnce(t *testing.T) {
	fake, client := newCardAPI(t)
	ctx := t.Context()
	if err := client.CreateAndDeliverCard(ctx, groupCard("msg1")); err != nil {
		t.Fatal(err)
	}
	fake.ExpireTokens()
	if err := client.StreamCard(ctx, dingtalk.CardUpdate{OutTrackID: "msg1", Key: contentKey, Content: "x"}); err != nil {
		t.Fatalf("StreamCard after the token expired: %v", err)
	}
	if n := fake.TokenRequests(); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
	fake.FailCardStreamingNext(10, http.StatusBadRequest, dingtalk.CodeInvalidAuthentication, "不合法的access_token")
	err := client.StreamCard(ctx, dingtalk.CardUpdate{OutTrackID: "msg1", Key: contentKey, Content: "y"})
	var apiErr *dingtalk.OpenAPIError
	if !errors.As(err, &apiErr) || !apiErr.TokenRejected() {
		t.Fatalf("StreamCard = %v, want the token refusal", err)
	}
	if n := fake.TokenRequests(); n != 3 {
		t.Errorf("%d token requests, want 3: one more replacement, no loop", n)
	}
}

func TestCardStopsAtTheDeadline(t *testing.T) {
	fake, client := newCardAPI(t, func(c *dingtalk.OpenAPIConfig) { c.Retry = retry.Policy{Base: time.Hour, Max: time.Hour} })
	fake.FailCardCreateNext(1, http.StatusServiceUnavailable, "ServiceUnavailable", "busy")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := client.CreateAndDeliverCard(ctx, groupCard("msg1"))
	var apiErr *dingtalk.OpenAPIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("CreateAndDeliverCard = %v, want the HTTP 503 without a retry past the deadline", err)
	}
}
