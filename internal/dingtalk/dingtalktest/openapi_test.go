package dingtalktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

const (
	appKey    = "dingappkey0000000001"
	appSecret = "fake-app-secret"
)

// openAPIAnswer is the union of the OpenAPI answers the fake gives.
type openAPIAnswer struct {
	Status int
	// errors
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestid"`
	// token
	AccessToken string `json:"accessToken"`
	ExpireIn    int    `json:"expireIn"`
	// sends
	ProcessQueryKey string    `json:"processQueryKey"`
	Invalid         *[]string `json:"invalidStaffIdList"`
	FlowControlled  *[]string `json:"flowControlledStaffIdList"`
}

func callOpenAPI(t *testing.T, s *dingtalktest.Server, path, token, body string) openAPIAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("x-acs-dingtalk-access-token", token)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a openAPIAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("%s answered HTTP %d with a body that is not JSON: %v", path, resp.StatusCode, err)
	}
	a.Status = resp.StatusCode
	if a.Status != http.StatusOK && (a.Code == "" || a.Message == "" || a.RequestID == "") {
		t.Errorf("%s refused without code, message and requestid: %+v", path, a)
	}
	return a
}

func token(t *testing.T, s *dingtalktest.Server) string {
	t.Helper()
	a := callOpenAPI(t, s, "/v1.0/oauth2/accessToken", "", `{"appKey":"`+appKey+`","appSecret":"`+appSecret+`"}`)
	if a.Status != http.StatusOK || a.AccessToken == "" {
		t.Fatalf("token request answered %+v", a)
	}
	return a.AccessToken
}

func TestAccessToken(t *testing.T) {
	tests := []struct {
		name     string
		setApp   bool
		body     string
		wantCode string
	}{
		{name: "granted", setApp: true, body: `{"appKey":"` + appKey + `","appSecret":"` + appSecret + `"}`},
		{name: "wrong secret", setApp: true, body: `{"appKey":"` + appKey + `","appSecret":"nope"}`, wantCode: "invalidClientIdOrSecret"},
		{name: "wrong key", setApp: true, body: `{"appKey":"other","appSecret":"` + appSecret + `"}`, wantCode: "invalidClientIdOrSecret"},
		{name: "no app set", body: `{"appKey":"` + dingtalktest.RobotCode + `","appSecret":""}`, wantCode: "invalidClientIdOrSecret"},
		{name: "not JSON", setApp: true, body: `appKey=x`, wantCode: "Missingbody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dingtalktest.NewServer()
			defer s.Close()
			if tt.setApp {
				s.SetApp(appKey, appSecret)
			}
			a := callOpenAPI(t, s, "/v1.0/oauth2/accessToken", "", tt.body)
			if tt.wantCode == "" {
				if a.Status != http.StatusOK || a.AccessToken == "" || a.ExpireIn != 7200 {
					t.Fatalf("answer %+v, want a token valid for 7200 s", a)
				}
			} else if a.Status != http.StatusBadRequest || a.Code != tt.wantCode || a.AccessToken != "" {
				t.Fatalf("answer %+v, want HTTP 400 %s", a, tt.wantCode)
			}
			if n := s.TokenRequests(); n != 1 {
				t.Errorf("TokenRequests() = %d, want 1", n)
			}
		})
	}
}

func TestAccessTokensDiffer(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	s.SetApp(appKey, appSecret)
	if token(t, s) == token(t, s) {
		t.Error("two token requests got the same token")
	}
}

func TestRobotSendAnswers(t *testing.T) {
	otoBody := func(robotCode, users, msgKey, msgParam string) string {
		b, _ := json.Marshal(map[string]any{"robotCode": robotCode, "userIds": json.RawMessage(users), "msgKey": msgKey, "msgParam": msgParam})
		return string(b)
	}
	groupBody := func(robotCode, cid, msgKey, msgParam string) string {
		b, _ := json.Marshal(map[string]any{"robotCode": robotCode, "openConversationId": cid, "msgKey": msgKey, "msgParam": msgParam})
		return string(b)
	}
	const oto, grp = "/v1.0/robot/oToMessages/batchSend", "/v1.0/robot/groupMessages/send"
	text := `{"content":"你好"}`
	tests := []struct {
		name        string
		path        string
		body        string
		token       string // "valid" for a granted token
		wantStatus  int
		wantCode    string
		wantContent string
	}{
		{"one-to-one text", oto, otoBody(appKey, `["u1","u2"]`, "sampleText", text), "valid", 200, "", "你好"},
		{"group markdown", grp, groupBody(appKey, "cidG==", "sampleMarkdown", `{"title":"t","text":"**x**"}`), "valid", 200, "", "**x**"},
		{"no token", oto, otoBody(appKey, `["u1"]`, "sampleText", text), "", 400, "InvalidAuthentication", "你好"},
		{"unknown token", grp, groupBody(appKey, "cidG==", "sampleText", text), "forged", 400, "InvalidAuthentication", "你好"},
		{"not JSON", oto, `{`, "valid", 400, "Missingbody", ""},
		{"no robotCode", oto, otoBody("", `["u1"]`, "sampleText", text), "valid", 400, "MissingrobotCode", "你好"},
		{"another robot", grp, groupBody("dingother", "cidG==", "sampleText", text), "valid", 400, "InvalidParameter", "你好"},
		{"no users", oto, otoBody(appKey, `[]`, "sampleText", text), "valid", 400, "MissinguserIds", "你好"},
		{"21 users", oto, otoBody(appKey, `["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17","18","19","20","21"]`, "sampleText", text), "valid", 400, "InvalidParameter", "你好"},
		{"no conversation", grp, groupBody(appKey, "", "sampleText", text), "valid", 400, "MissingopenConversationId", "你好"},
		{"no msgKey", grp, groupBody(appKey, "cidG==", "", text), "valid", 400, "MissingmsgKey", ""},
		{"text without content", grp, groupBody(appKey, "cidG==", "sampleText", `{"text":"x"}`), "valid", 400, "InvalidParameter", ""},
		{"markdown without title", grp, groupBody(appKey, "cidG==", "sampleMarkdown", `{"text":"x"}`), "valid", 400, "InvalidParameter", "x"},
		{"msgParam not JSON", grp, groupBody(appKey, "cidG==", "sampleText", `content=x`), "valid", 400, "InvalidParameter", ""},
		{"unsupported msgKey", grp, groupBody(appKey, "cidG==", "sampleLink", `{"title":"t"}`), "valid", 400, "InvalidParameter", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dingtalktest.NewServer()
			defer s.Close()
			s.SetApp(appKey, appSecret)
			tok := tt.token
			if tok == "valid" {
				tok = token(t, s)
			}
			a := callOpenAPI(t, s, tt.path, tok, tt.body)
			if a.Status != tt.wantStatus || a.Code != tt.wantCode {
				t.Fatalf("answer %+v, want HTTP %d %q", a, tt.wantStatus, tt.wantCode)
			}
			if a.Status == http.StatusOK {
				if a.ProcessQueryKey == "" {
					t.Errorf("answer %+v has no processQueryKey", a)
				}
				if oneToOne := tt.path == oto; (a.Invalid != nil) != oneToOne || (a.FlowControlled != nil) != oneToOne {
					t.Errorf("answer %+v: the user lists belong to one-to-one answers only", a)
				}
			}
			posts := s.OpenAPIPosts()
			if len(posts) != 1 {
				t.Fatalf("recorded %d sends, want 1", len(posts))
			}
			p := posts[0]
			if p.Status != tt.wantStatus || p.Code != tt.wantCode || p.Content != tt.wantContent {
				t.Errorf("recorded %+v, want status %d, code %q, content %q", p, tt.wantStatus, tt.wantCode, tt.wantContent)
			}
		})
	}
}

func TestRobotSendRecordsWhatWasSent(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	s.SetApp(appKey, appSecret)
	tok := token(t, s)
	callOpenAPI(t, s, "/v1.0/robot/oToMessages/batchSend", tok,
		`{"robotCode":"`+appKey+`","userIds":["u1","u2"],"msgKey":"sampleText","msgParam":"{\"content\":\"hi\"}"}`)
	callOpenAPI(t, s, "/v1.0/robot/groupMessages/send", tok,
		`{"robotCode":"`+appKey+`","openConversationId":"cidG==","msgKey":"sampleMarkdown","msgParam":"{\"title\":\"T\",\"text\":\"md\"}"}`)
	got := s.OpenAPIPosts()
	want := []dingtalktest.OpenAPIPost{
		{Kind: "oToMessages", RobotCode: appKey, UserIDs: []string{"u1", "u2"}, MsgKey: "sampleText", MsgParam: `{"content":"hi"}`, Content: "hi", Status: 200},
		{Kind: "groupMessages", RobotCode: appKey, OpenConversationID: "cidG==", MsgKey: "sampleMarkdown", MsgParam: `{"title":"T","text":"md"}`, Content: "md", Title: "T", Status: 200},
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Fatalf("recorded\n%s\nwant\n%s", gj, wj)
	}
}

func TestTokensExpire(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := dingtalktest.NewServer(dingtalktest.WithClock(func() time.Time { return clock() }))
	defer s.Close()
	s.SetApp(appKey, appSecret)
	body := `{"robotCode":"` + appKey + `","openConversationId":"c","msgKey":"sampleText","msgParam":"{\"content\":\"x\"}"}`

	tok := token(t, s)
	now = now.Add(dingtalktest.TokenLifetime - time.Second)
	if a := callOpenAPI(t, s, "/v1.0/robot/groupMessages/send", tok, body); a.Status != 200 {
		t.Fatalf("a token 1 s before its expiry: %+v", a)
	}
	now = now.Add(time.Second)
	if a := callOpenAPI(t, s, "/v1.0/robot/groupMessages/send", tok, body); a.Code != "InvalidAuthentication" {
		t.Fatalf("an expired token: %+v", a)
	}

	tok = token(t, s)
	s.ExpireTokens()
	if a := callOpenAPI(t, s, "/v1.0/robot/groupMessages/send", tok, body); a.Code != "InvalidAuthentication" {
		t.Fatalf("a token after ExpireTokens: %+v", a)
	}
}

func TestFailOpenAPINext(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	s.SetApp(appKey, appSecret)
	s.FailOpenAPINext(2, http.StatusForbidden, "Forbidden.AccessDenied.QpsLimitForApi")
	body := `{"robotCode":"` + appKey + `","openConversationId":"c","msgKey":"sampleText","msgParam":"{\"content\":\"x\"}"}`
	tok := token(t, s) // token requests are not failed
	var got []int
	for range 3 {
		got = append(got, callOpenAPI(t, s, "/v1.0/robot/groupMessages/send", tok, body).Status)
	}
	if want := []int{403, 403, 200}; !equalInts(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	// An injected failure comes before the token check.
	s.FailOpenAPINext(1, http.StatusServiceUnavailable, "ServiceUnavailable")
	if a := callOpenAPI(t, s, "/v1.0/robot/groupMessages/send", "", body); a.Status != 503 || a.Code != "ServiceUnavailable" {
		t.Fatalf("answer %+v, want the injected 503", a)
	}
}

func TestWaitOpenAPIPosts(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	s.SetApp(appKey, appSecret)
	ctx, cancel := context.WithTimeout(t.Context(), safety)
	defer cancel()
	client := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: s.Client(), BaseURL: s.URL(), AppKey: appKey, AppSecret: appSecret, Retry: retry.Policy{Attempts: 1}})

	done := make(chan []dingtalktest.OpenAPIPost, 1)
	go func() {
		posts, err := s.WaitOpenAPIPosts(ctx, 2)
		if err != nil {
			t.Error(err)
		}
		done <- posts
	}()
	s.FailOpenAPINext(1, http.StatusBadRequest, "InvalidParameter")
	if err := client.SendToGroup(ctx, appKey, "c", dingtalk.TextMessage("refused")); err == nil {
		t.Fatal("the injected failure did not fail")
	}
	for _, text := range []string{"one", "two"} {
		if err := client.SendToUser(ctx, appKey, []string{"u"}, dingtalk.TextMessage(text)); err != nil {
			t.Fatal(err)
		}
	}
	posts := <-done
	if len(posts) != 2 || posts[0].Content != "one" || posts[1].Content != "two" {
		t.Fatalf("WaitOpenAPIPosts = %+v, want the two delivered sends", posts)
	}

	cancelled, cancel2 := context.WithCancel(t.Context())
	cancel2()
	if posts, err := s.WaitOpenAPIPosts(cancelled, 3); !errors.Is(err, context.Canceled) || len(posts) != 2 {
		t.Errorf("WaitOpenAPIPosts(cancelled) = %d, %v", len(posts), err)
	}
	go func() {
		_, err := s.WaitOpenAPIPosts(ctx, 3)
		if !errors.Is(err, dingtalktest.ErrClosed) {
			t.Errorf("WaitOpenAPIPosts after Close = %v, want ErrClosed", err)
		}
		close(done)
	}()
	s.Close()
	<-done
}

// TestGroupCallbackAnsweredThroughOpenAPI checks that what a callback
// carries is what the OpenAPI needs: the robotCode is the app's AppKey and
// a group's conversationId is its openConversationId.
func TestGroupCallbackAnsweredThroughOpenAPI(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	s.SetApp(appKey, appSecret)
	m, err := dingtalk.ParseCallback(s.TextCallback(group, alice, "你好").Body)
	if err != nil {
		t.Fatal(err)
	}
	if m.RobotCode != appKey {
		t.Fatalf("callback robotCode %q, want the AppKey %q", m.RobotCode, appKey)
	}
	client := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: s.Client(), BaseURL: s.URL(), AppKey: appKey, AppSecret: appSecret})
	if err := client.SendToGroup(t.Context(), m.RobotCode, m.ConversationID, dingtalk.TextMessage("答")); err != nil {
		t.Fatal(err)
	}
	if err := client.SendToUser(t.Context(), m.RobotCode, []string{m.SenderStaffID}, dingtalk.TextMessage("答")); err != nil {
		t.Fatal(err)
	}
	posts := s.OpenAPIPosts()
	if posts[0].OpenConversationID != group.ID || posts[1].UserIDs[0] != alice.StaffID {
		t.Errorf("sent %+v, want the group's conversationId and the sender's staff id", posts)
	}
}

func TestCallbacksCarryTheDefaultRobotCode(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	m, err := dingtalk.ParseCallback(s.TextCallback(single, alice, "hi").Body)
	if err != nil || m.RobotCode != dingtalktest.RobotCode {
		t.Fatalf("robotCode %q, %v; want %q before SetApp", m.RobotCode, err, dingtalktest.RobotCode)
	}
}
