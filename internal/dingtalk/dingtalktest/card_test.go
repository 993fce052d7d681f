package dingtalktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

const (
	cardTemplate = "tpl-ai-card.schema"
	groupSpace   = "dtv1.card//IM_GROUP.cidGroup+0001=="
	robotSpace   = "dtv1.card//IM_ROBOT.manager4321"
)

// cardAnswer is the union of the card and file answers the fake gives.
type cardAnswer struct {
	Status    int
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestid"`
	Success   *bool  `json:"success"`
	Result    json.RawMessage
	// messageFiles/download
	DownloadURL string `json:"downloadUrl"`
}

type deliverResult struct {
	OutTrackID     string `json:"outTrackId"`
	DeliverResults []struct {
		SpaceType string `json:"spaceType"`
		SpaceID   string `json:"spaceId"`
		Success   bool   `json:"success"`
		ErrorMsg  string `json:"errorMsg"`
	} `json:"deliverResults"`
}

func callCard(t *testing.T, s *dingtalktest.Server, method, path, token, body string) cardAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set(dingtalk.AccessTokenHeader, token)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a cardAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("%s answered HTTP %d with a body that is not JSON: %v", path, resp.StatusCode, err)
	}
	a.Status = resp.StatusCode
	if a.Status != http.StatusOK && (a.Code == "" || a.Message == "" || a.RequestID == "") {
		t.Errorf("%s refused without code, message and requestid: %+v", path, a)
	}
	return a
}

// newCardServer is a fake with the app set and the card template known.
func newCardServer(t *testing.T, opts ...dingtalktest.Option) (*dingtalktest.Server, string) {
	t.Helper()
	s := dingtalktest.NewServer(opts...)
	t.Cleanup(s.Close)
	s.SetApp(appKey, appSecret)
	s.AddCardTemplate(cardTemplate, "content", "status")
	return s, token(t, s)
}

// createBody is a valid createAndDeliver body for a group, with fields
// replaced or (with a nil value) removed.
func createBody(t *testing.T, changes map[string]any) string {
	t.Helper()
	body := map[string]any{
		"cardTemplateId":          cardTemplate,
		"outTrackId":              "msgTrack01",
		"callbackType":            "STREAM",
		"cardData":                map[string]any{"cardParamMap": map[string]any{"content": "", "status": "1"}},
		"openSpaceId":             groupSpace,
		"imGroupOpenSpaceModel":   map[string]any{"supportForward": true},
		"imGroupOpenDeliverModel": map[string]any{"robotCode": appKey},
	}
	for k, v := range changes {
		if v == nil {
			delete(body, k)
		} else {
			body[k] = v
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var robotDelivery = map[string]any{
	"openSpaceId":             robotSpace,
	"imGroupOpenDeliverModel": nil,
	"imRobotOpenDeliverModel": map[string]any{"spaceType": "IM_ROBOT", "robotCode": appKey},
}

func merge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestCreateAndDeliver(t *testing.T) {
	at := time.Date(2025, 5, 1, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name          string
		changes       map[string]any
		wantSpaceID   string
		wantRobotCode string
	}{
		{"group", nil, "cidGroup+0001==", appKey},
		{"single chat", robotDelivery, "manager4321", appKey},
		{"single chat without robotCode", merge(robotDelivery, map[string]any{"imRobotOpenDeliverModel": map[string]any{"spaceType": "IM_ROBOT"}}), "manager4321", ""},
		{"space type in lower case", map[string]any{"openSpaceId": "dtv1.card//im_group.cidGroup+0001=="}, "cidGroup+0001==", appKey},
		{"no callbackType", map[string]any{"callbackType": nil}, "cidGroup+0001==", appKey},
		{"HTTP callbacks with a route key", map[string]any{"callbackType": "HTTP", "callbackRouteKey": "route"}, "cidGroup+0001==", appKey},
		{"both deliver models", map[string]any{"imRobotOpenDeliverModel": map[string]any{"spaceType": "IM_ROBOT"}}, "cidGroup+0001==", appKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, tok := newCardServer(t, dingtalktest.WithClock(func() time.Time { return at }))
			a := callCard(t, s, http.MethodPost, dingtalk.CardCreateAndDeliverPath, tok, createBody(t, tt.changes))
			if a.Status != http.StatusOK || a.Success == nil || !*a.Success {
				t.Fatalf("answer %+v, want success", a)
			}
			var result deliverResult
			if err := json.Unmarshal(a.Result, &result); err != nil {
				t.Fatal(err)
			}
			if result.OutTrackID != "msgTrack01" || len(result.DeliverResults) != 1 {
				t.Fatalf("result %+v, want the card and one deliver result", result)
			}
			if r := result.DeliverResults[0]; r.SpaceType != "IM" || r.SpaceID != tt.wantSpaceID || !r.Success || r.ErrorMsg != "" {
				t.Errorf("deliver result %+v, want IM %s delivered", r, tt.wantSpaceID)
			}
			cards := s.Cards()
			if len(cards) != 1 {
				t.Fatalf("%d cards, want 1", len(cards))
			}
			c := cards[0]
			if c.OutTrackID != "msgTrack01" || c.TemplateID != cardTemplate || c.RobotCode != tt.wantRobotCode ||
				!c.Delivered || !c.CreatedAt.Equal(at) || c.Data["status"] != "1" || c.Finalized() {
				t.Errorf("card %+v", c)
			}
		})
	}
}

func TestCreateAndDeliverRefusals(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(*dingtalktest.Server)
		noToken    bool
		body       string
		changes    map[string]any
		wantStatus int
		wantCode   string
	}{
		{name: "injected failure", setup: func(s *dingtalktest.Server) { s.FailCardCreateNext(1, 503, "ServiceUnavailable", "busy") },
			wantStatus: 503, wantCode: "ServiceUnavailable"},
		{name: "no token", noToken: true, wantStatus: 400, wantCode: dingtalk.CodeInvalidAuthentication},
		{name: "expired token", setup: (*dingtalktest.Server).ExpireTokens, wantStatus: 400, wantCode: dingtalk.CodeInvalidAuthentication},
		{name: "no permission", setup: func(s *dingtalktest.Server) { s.DenyCardPermission(true) },
			wantStatus: 403, wantCode: dingtalk.CodePermissionDenied},
		{name: "not JSON", body: "cardTemplateId=x", wantStatus: 400, wantCode: "Missingbody"},
		{name: "no template", changes: map[string]any{"cardTemplateId": nil}, wantStatus: 400, wantCode: dingtalktest.CodeCardTemplateIDEmpty},
		{name: "no outTrackId", changes: map[string]any{"outTrackId": ""}, wantStatus: 400, wantCode: dingtalktest.CodeOutTrackIDEmpty},
		{name: "unknown template", changes: map[string]any{"cardTemplateId": "other.schema"}, wantStatus: 400, wantCode: dingtalktest.CodeCardTemplateNotFound},
		{name: "HTTP callbacks without a route key", changes: map[string]any{"callbackType": "HTTP"}, wantStatus: 400, wantCode: dingtalktest.CodeInvalidParameter},
		{name: "unknown callback type", changes: map[string]any{"callbackType": "WEBSOCKET"}, wantStatus: 400, wantCode: dingtalktest.CodeInvalidParameter},
		{name: "no card data", changes: map[string]any{"cardData": nil}, wantStatus: 400, wantCode: dingtalktest.CodeCardDataEmpty},
		{name: "no cardParamMap", changes: map[string]any{"cardData": map[string]any{}}, wantStatus: 400, wantCode: dingtalktest.CodeCardDataEmpty},
		{name: "a number in cardParamMap", changes: map[string]any{"cardData": map[string]any{"cardParamMap": map[string]any{"status": 1}}},
			wantStatus: 400, wantCode: dingtalktest.CodeInvalidParameter},
		{name: "an object in cardParamMap", changes: map[string]any{"cardData": map[string]any{"cardParamMap": map[string]any{"content": map[string]any{"a": "b"}}}},
			wantStatus: 400, wantCode: dingtalktest.CodeInvalidParameter},
		{name: "no openSpaceId", changes: map[string]any{"openSpaceId": nil}, wantStatus: 400, wantCode: dingtalktest.CodeOpenSpaceIDInvalid},
		{name: "a bare conversation id", changes: map[string]any{"openSpaceId": "cidGroup+0001=="}, wantStatus: 400, wantCode: dingtalktest.CodeOpenSpaceIDInvalid},
		{name: "no space id", changes: map[string]any{"openSpaceId": "dtv1.card//IM_GROUP."}, wantStatus: 400, wantCode: dingtalktest.CodeOpenSpaceIDInvalid},
		{name: "another space type", changes: map[string]any{"openSpaceId": "dtv1.card//IM_SINGLE.cid"}, wantStatus: 400, wantCode: dingtalktest.CodeOpenSpaceIDInvalid},
		{name: "several spaces", changes: map[string]any{"openSpaceId": groupSpace + ";IM_ROBOT.u1"}, wantStatus: 400, wantCode: dingtalktest.CodeOpenSpaceIDInvalid},
		{name: "group without its deliver model", changes: map[string]any{"imGroupOpenDeliverModel": nil}, wantStatus: 400, wantCode: dingtalktest.CodeOpenSpaceModelInvalid},
		{name: "group deliver model without robotCode", changes: map[string]any{"imGroupOpenDeliverModel": map[string]any{}}, wantStatus: 400, wantCode: dingtalktest.CodeOpenSpaceModelInvalid},
		{name: "group with the single chat's model", changes: map[string]any{"imGroupOpenDeliverModel": nil, "imRobotOpenDeliverModel": map[string]any{"spaceType": "IM_ROBOT", "robotCode": appKey}},
			wantStatus: 400, wantCode: dingtalktest.CodeOpenSpaceModelInvalid},
		{name: "single chat with the group's model", changes: map[string]any{"openSpaceId": robotSpace}, wantStatus: 400, wantCode: dingtalktest.CodeOpenSpaceModelInvalid},
		{name: "single chat model of another space type", changes: merge(robotDelivery, map[string]any{"imRobotOpenDeliverModel": map[string]any{"spaceType": "IM_GROUP"}}),
			wantStatus: 400, wantCode: dingtalktest.CodeOpenSpaceModelInvalid},
		{name: "another robot in a group", changes: map[string]any{"imGroupOpenDeliverModel": map[string]any{"robotCode": "dingother"}}, wantStatus: 400, wantCode: dingtalktest.CodeInvalidParameter},
		{name: "another robot in a single chat", changes: merge(robotDelivery, map[string]any{"imRobotOpenDeliverModel": map[string]any{"spaceType": "IM_ROBOT", "robotCode": "dingother"}}),
			wantStatus: 400, wantCode: dingtalktest.CodeInvalidParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, tok := newCardServer(t)
			if tt.setup != nil {
				tt.setup(s)
			}
			if tt.noToken {
				tok = ""
			}
			body := tt.body
			if body == "" {
				body = createBody(t, tt.changes)
			}
			a := callCard(t, s, http.MethodPost, dingtalk.CardCreateAndDeliverPath, tok, body)
			if a.Status != tt.wantStatus || a.Code != tt.wantCode {
				t.Fatalf("answer HTTP %d %s (%s), want HTTP %d %s", a.Status, a.Code, a.Message, tt.wantStatus, tt.wantCode)
			}
			if tt.wantCode == dingtalk.CodePermissionDenied && !strings.Contains(a.Message, dingtalktest.PermissionCardInstanceWrite) {
				t.Errorf("message %q does not name %s", a.Message, dingtalktest.PermissionCardInstanceWrite)
			}
			if n := len(s.Cards()); n != 0 {
				t.Errorf("%d cards, want none", n)
			}
		})
	}
}

func TestCreateAndDeliverOutTrackIDIsUnique(t *testing.T) {
	s, tok := newCardServer(t)
	body := createBody(t, nil)
	if a := callCard(t, s, http.MethodPost, dingtalk.CardCreateAndDeliverPath, tok, body); a.Status != http.StatusOK {
		t.Fatalf("first card: %+v", a)
	}
	a := callCard(t, s, http.MethodPost, dingtalk.CardCreateAndDeliverPath, tok, createBody(t, robotDelivery))
	if a.Status != http.StatusBadRequest || a.Code != dingtalktest.CodeOutTrackIDExists {
		t.Fatalf("second card with the outTrackId: %+v, want HTTP 400 %s", a, dingtalktest.CodeOutTrackIDExists)
	}
	if n := len(s.Cards()); n != 1 {
		t.Errorf("%d cards, want 1", n)
	}
}

func TestCardNotDelivered(t *testing.T) {
	s, tok := newCardServer(t)
	s.FailCardDeliveryNext(1, "机器人不在群中")
	a := callCard(t, s, http.MethodPost, dingtalk.CardCreateAndDeliverPath, tok, createBody(t, nil))
	var result deliverResult
	if a.Status != http.StatusOK || json.Unmarshal(a.Result, &result) != nil || len(result.DeliverResults) != 1 {
		t.Fatalf("answer %+v, want HTTP 200 with one deliver result", a)
	}
	if r := result.DeliverResults[0]; r.Success || r.ErrorMsg != "机器人不在群中" {
		t.Errorf("deliver result %+v, want a failure with the message", r)
	}
	if c := s.Cards(); len(c) != 1 || c[0].Delivered {
		t.Errorf("cards %+v, want one, undelivered", c)
	}
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	if got, err := s.WaitCards(ended, 1, false); err == nil || len(got) != 0 {
		t.Errorf("WaitCards = %d cards, %v; an undelivered card does not count", len(got), err)
	}
	// The next card is delivered.
	a = callCard(t, s, http.MethodPost, dingtalk.CardCreateAndDeliverPath, tok, createBody(t, map[string]any{"outTrackId": "msgTrack02"}))
	if json.Unmarshal(a.Result, &result) != nil || !result.DeliverResults[0].Success {
		t.Errorf("second card: %+v, want it delivered", a)
	}
}

// streamBody is a valid streaming update of msgTrack01, with fields
// replaced or removed.
func streamBody(t *testing.T, changes map[string]any) string {
	t.Helper()
	body := map[string]any{
		"outTrackId": "msgTrack01", "guid": "0b1c2d3e-0000-4000-8000-000000000001", "key": "content",
		"content": "**部分**", "isFull": true, "isFinalize": false, "isError": false,
	}
	for k, v := range changes {
		if v == nil {
			delete(body, k)
		} else {
			body[k] = v
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCardStreaming(t *testing.T) {
	at := time.Date(2025, 5, 1, 9, 30, 0, 0, time.UTC)
	now := at
	s, tok := newCardServer(t, dingtalktest.WithClock(func() time.Time { return now }))
	if a := callCard(t, s, http.MethodPost, dingtalk.CardCreateAndDeliverPath, tok, createBody(t, nil)); a.Status != http.StatusOK {
		t.Fatal(a)
	}
	now = at.Add(time.Second)
	a := callCard(t, s, http.MethodPut, dingtalk.CardStreamingPath, tok, streamBody(t, nil))
	if a.Status != http.StatusOK || a.Success == nil || !*a.Success || string(a.Result) != "true" {
		t.Fatalf("answer %+v, want success", a)
	}
	// The same guid again is the same update.
	if a := callCard(t, s, http.MethodPut, dingtalk.CardStreamingPath, tok, streamBody(t, nil)); a.Status != http.StatusOK {
		t.Fatalf("repeated update: %+v", a)
	}
	now = at.Add(2 * time.Second)
	final := streamBody(t, map[string]any{"guid": "guid-2", "content": "**全部**", "isFinalize": true})
	if a := callCard(t, s, http.MethodPut, dingtalk.CardStreamingPath, tok, final); a.Status != http.StatusOK {
		t.Fatalf("final update: %+v", a)
	}
	if a := callCard(t, s, http.MethodPut, dingtalk.CardStreamingPath, tok, final); a.Status != http.StatusOK {
		t.Errorf("the final update repeated: %+v, want the success it had", a)
	}
	c := s.Cards()[0]
	want := []dingtalktest.CardUpdate{
		{GUID: "0b1c2d3e-0000-4000-8000-000000000001", Key: "content", Content: "**部分**", IsFull: true, At: at.Add(time.Second)},
		{GUID: "guid-2", Key: "content", Content: "**全部**", IsFull: true, IsFinalize: true, At: at.Add(2 * time.Second)},
	}
	if len(c.Updates) != len(want) {
		t.Fatalf("updates %+v, want %+v", c.Updates, want)
	}
	for i := range want {
		if c.Updates[i] != want[i] {
			t.Errorf("update %d = %+v, want %+v", i, c.Updates[i], want[i])
		}
	}
	if !c.Finalized() || c.Content("content") != "**全部**" || c.Content("status") != "1" {
		t.Errorf("card %+v: want it finalized, showing the last content and the status it was created with", c)
	}
}

func TestCardStreamingRefusals(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(*dingtalktest.Server, string)
		noToken    bool
		body       string
		changes    map[string]any
		wantStatus int
		wantCode   string
	}{
		{name: "injected failure", setup: func(s *dingtalktest.Server, _ string) {
			s.FailCardStreamingNext(1, 403, "Forbidden.AccessDenied.QpsLimitForApi", "too fast")
		}, wantStatus: 403, wantCode: "Forbidden.AccessDenied.QpsLimitForApi"},
		{name: "no token", noToken: true, wantStatus: 400, wantCode: dingtalk.CodeInvalidAuthentication},
		{name: "no permission", setup: func(s *dingtalktest.Server, _ string) { s.DenyCardPermission(true) },
			wantStatus: 403, wantCode: dingtalk.CodePermissionDenied},
		{name: "not JSON", body: "key=content", wantStatus: 400, wantCode: "Missingbody"},
		{name: "no outTrackId", changes: map[string]any{"outTrackId": nil}, wantStatus: 400, wantCode: dingtalktest.CodeOutTrackIDEmpty},
		{name: "unknown card", changes: map[string]any{"outTrackId": "msgOther"}, wantStatus: 400, wantCode: dingtalktest.CodeCardNotFound},
		{name: "no guid", changes: map[string]any{"guid": ""}, wantStatus: 400, wantCode: "Missingguid"},
		{name: "no key", changes: map[string]any{"key": nil}, wantStatus: 400, wantCode: "Missingkey"},
		{name: "a key the template lacks", changes: map[string]any{"key": "answer"}, wantStatus: 400, wantCode: dingtalktest.CodeInvalidParameter},
		{name: "not full", changes: map[string]any{"isFull": false}, wantStatus: 400, wantCode: dingtalktest.CodeInvalidParameter},
		{name: "isFull left out", changes: map[string]any{"isFull": nil}, wantStatus: 400, wantCode: dingtalktest.CodeInvalidParameter},
		{name: "after the final update", setup: finalize, wantStatus: 400, wantCode: dingtalktest.CodeCardFinalized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, tok := newCardServer(t)
			if a := callCard(t, s, http.MethodPost, dingtalk.CardCreateAndDeliverPath, tok, createBody(t, nil)); a.Status != http.StatusOK {
				t.Fatal(a)
			}
			before := len(s.Cards()[0].Updates)
			if tt.setup != nil {
				tt.setup(s, tok)
				before = len(s.Cards()[0].Updates)
			}
			if tt.noToken {
				tok = ""
			}
			body := tt.body
			if body == "" {
				body = streamBody(t, tt.changes)
			}
			a := callCard(t, s, http.MethodPut, dingtalk.CardStreamingPath, tok, body)
			if a.Status != tt.wantStatus || a.Code != tt.wantCode {
				t.Fatalf("answer HTTP %d %s (%s), want HTTP %d %s", a.Status, a.Code, a.Message, tt.wantStatus, tt.wantCode)
			}
			if tt.wantCode == dingtalk.CodePermissionDenied && !strings.Contains(a.Message, dingtalktest.PermissionCardStreamingWrite) {
				t.Errorf("message %q does not name %s", a.Message, dingtalktest.PermissionCardStreamingWrite)
			}
			if n := len(s.Cards()[0].Updates); n != before {
				t.Errorf("%d updates, want %d: the refused one is not applied", n, before)
			}
		})
	}
}

// finalize ends msgTrack01's streaming through the fake's API.
func finalize(s *dingtalktest.Server, tok string) {
	body := `{"outTrackId":"msgTrack01","guid":"final","key":"content","content":"done","isFull":true,"isFinalize":true,"isError":false}`
	req, _ := http.NewRequest(http.MethodPut, s.URL()+dingtalk.CardStreamingPath, strings.NewReader(body))
	req.Header.Set(dingtalk.AccessTokenHeader, tok)
	if resp, err := s.Client().Do(req); err == nil {
		resp.Body.Close()
	}
}

func TestCardCallsRefuseOtherMethods(t *testing.T) {
	s, tok := newCardServer(t)
	for path, method := range map[string]string{
		dingtalk.CardCreateAndDeliverPath: http.MethodPut,
		dingtalk.CardStreamingPath:        http.MethodPost,
		dingtalk.MessageFilesDownloadPath: http.MethodGet,
	} {
		req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(dingtalk.AccessTokenHeader, tok)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: HTTP %d, want 405", method, path, resp.StatusCode)
		}
	}
}

// TestWrongMethodNamesTheRightOne: every route answers another method with
// 405 and an Allow header naming the one it takes, and records nothing.
func TestWrongMethodNamesTheRightOne(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	for _, tt := range []struct{ method, path, allow string }{
		{http.MethodGet, dingtalktest.WebhookPath, "POST"},
		{http.MethodGet, dingtalk.AccessTokenPath, "POST"},
		{http.MethodPut, dingtalk.OToMessagesPath, "POST"},
		{http.MethodGet, dingtalk.GroupMessagesPath, "POST"},
		{http.MethodPut, dingtalk.CardCreateAndDeliverPath, "POST"},
		{http.MethodPost, dingtalk.CardStreamingPath, "PUT"},
		{http.MethodGet, dingtalk.MessageFilesDownloadPath, "POST"},
		{http.MethodPost, dingtalktest.FileURLPrefix + "some-file", "GET, HEAD"},
	} {
		req, err := http.NewRequestWithContext(t.Context(), tt.method, s.URL()+tt.path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: HTTP %d, Allow %q; want 405, Allow %q", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Allow"), tt.allow)
		}
	}
	if n := len(s.Posts()) + len(s.OpenAPIPosts()); n != 0 {
		t.Errorf("recorded %d posts, want none", n)
	}
}

func TestWaitCards(t *testing.T) {
	s, tok := newCardServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), safety)
	defer cancel()
	type waited struct {
		cards []dingtalktest.Card
		err   error
	}
	done := make(chan waited, 1)
	go func() {
		cards, err := s.WaitCards(ctx, 1, true)
		done <- waited{cards, err}
	}()
	if a := callCard(t, s, http.MethodPost, dingtalk.CardCreateAndDeliverPath, tok, createBody(t, nil)); a.Status != http.StatusOK {
		t.Fatal(a)
	}
	if cards, err := s.WaitCards(ctx, 1, false); err != nil || len(cards) != 1 || cards[0].Finalized() {
		t.Fatalf("WaitCards(1, any) = %+v, %v; want the card, not finalized", cards, err)
	}
	finalize(s, tok)
	got := <-done
	if got.err != nil || len(got.cards) != 1 || !got.cards[0].Finalized() || got.cards[0].Content("content") != "done" {
		t.Fatalf("WaitCards(1, finalized) = %+v, %v; want the finalized card", got.cards, got.err)
	}
	// The copies are the caller's: changing one does not change the fake.
	got.cards[0].Data["content"] = "changed"
	got.cards[0].Updates[0].Content = "changed"
	if c := s.Cards()[0]; c.Data["content"] == "changed" || c.Updates[0].Content == "changed" {
		t.Errorf("Cards returned the fake's own data: %+v", c)
	}
}

// In a synctest bubble a WaitCards that Close left waiting fails the test
// as a deadlock, at once.
func TestWaitCardsEndsOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := dingtalktest.NewServer(dingtalktest.InMemory())
		done := make(chan error, 1)
		go func() {
			_, err := s.WaitCards(context.Background(), 1, false)
			done <- err
		}()
		synctest.Wait() // WaitCards waits
		s.Close()
		if err := <-done; !errors.Is(err, dingtalktest.ErrClosed) {
			t.Errorf("WaitCards = %v, want ErrClosed", err)
		}
	})
}

func TestCardContent(t *testing.T) {
	c := dingtalktest.Card{
		Data: map[string]string{"content": "start", "status": "1"},
		Updates: []dingtalktest.CardUpdate{
			{Key: "content", Content: "a"},
			{Key: "status", Content: "2"},
			{Key: "content", Content: "ab", IsFinalize: true},
		},
	}
	if c.Content("content") != "ab" || c.Content("status") != "2" || c.Content("none") != "" || !c.Finalized() || c.Failed() {
		t.Errorf("card %+v: Content, Finalized or Failed is wrong", c)
	}
	if fresh := (dingtalktest.Card{Data: map[string]string{"content": "start"}}); fresh.Content("content") != "start" || fresh.Finalized() {
		t.Errorf("a card without updates shows %q, finalized %v", fresh.Content("content"), fresh.Finalized())
	}
}
