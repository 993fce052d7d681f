package dingtalktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
)

// The kinds of robot message the OpenAPI sends.
const (
	OpenAPIOToMessages   = "oToMessages"   // one-to-one, POST /v1.0/robot/oToMessages/batchSend
	OpenAPIGroupMessages = "groupMessages" // to a group, POST /v1.0/robot/groupMessages/send
)

// TokenLifetime is how long an access token is valid: DingTalk's expireIn.
const TokenLifetime = 7200 * time.Second

// OpenAPIPost is one robot message sent through the fake's OpenAPI, as the
// fake received and answered it.
type OpenAPIPost struct {
	Kind               string // OpenAPIOToMessages or OpenAPIGroupMessages
	RobotCode          string
	UserIDs            []string // one-to-one: the users addressed
	OpenConversationID string   // group: the group's conversationId
	MsgKey             string
	MsgParam           string // the JSON document in a string, as sent
	// Content is what the user would see: the content of a sampleText
	// message, the markdown text of a sampleMarkdown one.
	Content string
	// Title is a sampleMarkdown message's title.
	Title string
	// Status and Code are what the fake answered: 200 and "" for a
	// delivered message.
	Status int
	Code   string
}

// openAPIState is the OpenAPI side of a Server, guarded by Server.mu.
type openAPIState struct {
	appKey, appSecret string
	tokens            map[string]time.Time // access token -> expiry
	tokenRequests     int
	posts             []OpenAPIPost
	failures          int
	failStatus        int
	failCode          string
}

// SetApp sets the app whose access tokens the fake grants: its AppKey
// (ClientID), which is also the robotCode of the callbacks built after the
// call and the only robotCode the send calls accept, and its AppSecret.
// Until SetApp is called no token is granted.
func (s *Server) SetApp(appKey, appSecret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.openAPI.appKey, s.openAPI.appSecret = appKey, appSecret
}

func (s *Server) robotCode() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.openAPI.appKey
}

// TokenRequests counts the access-token requests received, refused ones
// included.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.openAPI.tokenRequests
}

// ExpireTokens makes every access token granted so far invalid, as if its
// expireIn had passed.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.openAPI.tokens)
}

// FailOpenAPINext makes the next n robot sends (one-to-one or group, not
// token requests) fail with the HTTP status and the error code, before any
// other check. FailOpenAPINext(1, 400, "InvalidAuthentication") is how
// DingTalk refuses an expired token; 403 with
// "Forbidden.AccessDenied.QpsLimitForApi" is its per-second limit.
func (s *Server) FailOpenAPINext(n, status int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.openAPI.failures, s.openAPI.failStatus, s.openAPI.failCode = n, status, code
}

// OpenAPIPosts returns every robot send received so far, in order, failed
// ones included.
func (s *Server) OpenAPIPosts() []OpenAPIPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.openAPI.posts)
}

// WaitOpenAPIPosts waits until at least n robot sends have been delivered
// (status 200) and returns the delivered ones, in order. If ctx ends or the
// server closes first it returns those so far and an error.
func (s *Server) WaitOpenAPIPosts(ctx context.Context, n int) ([]OpenAPIPost, error) {
	stop := context.AfterFunc(ctx, s.wake)
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		var got []OpenAPIPost
		for _, p := range s.openAPI.posts {
			if p.Status == http.StatusOK {
				got = append(got, p)
			}
		}
		switch {
		case len(got) >= n:
			return got, nil
		case ctx.Err() != nil:
			return got, fmt.Errorf("dingtalktest: %d of %d OpenAPI sends: %w", len(got), n, context.Cause(ctx))
		case s.closed:
			return got, fmt.Errorf("%w: %d of %d OpenAPI sends", ErrClosed, len(got), n)
		}
		s.changed.Wait()
	}
}

// openAPIRefusal is the body of DingTalk's OpenAPI errors.
type openAPIRefusal struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestid"`
}

func writeOpenAPI(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

func refuse(w http.ResponseWriter, status int, code, message string) {
	writeOpenAPI(w, status, openAPIRefusal{Code: code, Message: message, RequestID: requestID()})
}

// serveAccessToken grants a token for the app's AppKey and AppSecret. A
// wrong pair is refused as DingTalk documents it: HTTP 400,
// invalidClientIdOrSecret.
func (s *Server) serveAccessToken(w http.ResponseWriter, r *http.Request) {
	var creds struct {
		AppKey    string `json:"appKey"`
		AppSecret string `json:"appSecret"`
	}
	decodeErr := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes)).Decode(&creds)

	s.mu.Lock()
	s.openAPI.tokenRequests++
	app := s.openAPI
	s.mu.Unlock()
	switch {
	case decodeErr != nil:
		// The gateway's answer to a request without a JSON body.
		refuse(w, http.StatusBadRequest, "Missingbody", "body is mandatory for this action.")
		return
	case app.appSecret == "" || creds.AppKey != app.appKey || creds.AppSecret != app.appSecret:
		refuse(w, http.StatusBadRequest, dingtalk.CodeInvalidClient, "无效的clientId或者clientSecret")
		return
	}

	token := rand.Text()
	s.mu.Lock()
	s.openAPI.tokens[token] = s.now().Add(TokenLifetime)
	s.mu.Unlock()
	writeOpenAPI(w, http.StatusOK, map[string]any{"accessToken": token, "expireIn": int(TokenLifetime / time.Second)})
}

// robotSend is the body of both robot send calls.
type robotSend struct {
	RobotCode          string   `json:"robotCode"`
	UserIDs            []string `json:"userIds"`
	OpenConversationID string   `json:"openConversationId"`
	MsgKey             string   `json:"msgKey"`
	MsgParam           string   `json:"msgParam"`
}

// serveRobotSend serves one of the robot send calls. It checks, in order:
// an injected failure, the access token (DingTalk answers a missing,
// unknown or expired one with HTTP 400, InvalidAuthentication), the body,
// the robotCode (it must be the app's AppKey), the addressees, and the
// message. docs/protocols.md §4 gives no DingTalk codes for a bad body; the
// fake answers HTTP 400 with the gateway's "Missing<field>" for a missing
// field and "InvalidParameter" otherwise.
func (s *Server) serveRobotSend(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req robotSend
		decodeErr := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes)).Decode(&req)
		post := OpenAPIPost{
			Kind: kind, RobotCode: req.RobotCode, UserIDs: req.UserIDs, OpenConversationID: req.OpenConversationID,
			MsgKey: req.MsgKey, MsgParam: req.MsgParam,
		}
		post.Content, post.Title = decodeMsgParam(req.MsgKey, req.MsgParam)

		s.mu.Lock()
		status, code, message := s.judgeSendLocked(kind, r.Header.Get(dingtalk.AccessTokenHeader), req, decodeErr)
		post.Status, post.Code = status, code
		s.openAPI.posts = append(s.openAPI.posts, post)
		s.changedLocked()
		s.mu.Unlock()

		if status != http.StatusOK {
			refuse(w, status, code, message)
			return
		}
		answer := map[string]any{"processQueryKey": processQueryKey()}
		if kind == OpenAPIOToMessages {
			answer["invalidStaffIdList"] = []string{}
			answer["flowControlledStaffIdList"] = []string{}
		}
		writeOpenAPI(w, http.StatusOK, answer)
	}
}

func (s *Server) judgeSendLocked(kind, token string, req robotSend, decodeErr error) (status int, code, message string) {
	oa := &s.openAPI
	if oa.failures > 0 {
		oa.failures--
		return oa.failStatus, oa.failCode, "injected failure"
	}
	if !s.validTokenLocked(token) {
		return http.StatusBadRequest, dingtalk.CodeInvalidAuthentication, "不合法的access_token"
	}
	missing := func(field string) (int, string, string) {
		return http.StatusBadRequest, "Missing" + field, field + " is mandatory for this action."
	}
	switch {
	case decodeErr != nil:
		return http.StatusBadRequest, "Missingbody", "body is mandatory for this action."
	case req.RobotCode == "":
		return missing("robotCode")
	case req.RobotCode != oa.appKey:
		return http.StatusBadRequest, "InvalidParameter", "robotCode is not this app's robot"
	case kind == OpenAPIOToMessages && len(req.UserIDs) == 0:
		return missing("userIds")
	case kind == OpenAPIOToMessages && len(req.UserIDs) > dingtalk.MaxUsersPerSend:
		return http.StatusBadRequest, "InvalidParameter", fmt.Sprintf("userIds holds more than %d users", dingtalk.MaxUsersPerSend)
	case kind == OpenAPIGroupMessages && req.OpenConversationID == "":
		return missing("openConversationId")
	case req.MsgKey == "":
		return missing("msgKey")
	case req.MsgParam == "":
		return missing("msgParam")
	}
	content, title := decodeMsgParam(req.MsgKey, req.MsgParam)
	switch req.MsgKey {
	case dingtalk.MsgKeyText:
		if content == "" {
			return http.StatusBadRequest, "InvalidParameter", "msgParam of sampleText needs a content"
		}
	case dingtalk.MsgKeyMarkdown:
		if content == "" || title == "" {
			return http.StatusBadRequest, "InvalidParameter", "msgParam of sampleMarkdown needs a title and a text"
		}
	default:
		// DingTalk has more templates (sampleLink, sampleActionCard...);
		// the robot sends none of them.
		return http.StatusBadRequest, "InvalidParameter", "msgKey " + req.MsgKey + " is not supported"
	}
	return http.StatusOK, "", ""
}

// validTokenLocked reports whether token is one the fake granted and that
// has not expired.
func (s *Server) validTokenLocked(token string) bool {
	expiry, ok := s.openAPI.tokens[token]
	return token != "" && ok && s.now().Before(expiry)
}

// decodeMsgParam reads the text (and title) out of the msgParam of a
// sampleText or sampleMarkdown message; empty for another msgKey or a
// msgParam that does not decode.
func decodeMsgParam(msgKey, msgParam string) (content, title string) {
	var param struct {
		Content string `json:"content"`
		Title   string `json:"title"`
		Text    string `json:"text"`
	}
	if json.Unmarshal([]byte(msgParam), &param) != nil {
		return "", ""
	}
	switch msgKey {
	case dingtalk.MsgKeyText:
		return param.Content, ""
	case dingtalk.MsgKeyMarkdown:
		return param.Text, param.Title
	}
	return "", ""
}

// requestID is shaped like DingTalk's, an upper-case UUID.
func requestID() string {
	b := hex.EncodeToString(randomBytes(16))
	return strings.ToUpper(b[:8] + "-" + b[8:12] + "-" + b[12:16] + "-" + b[16:20] + "-" + b[20:])
}

func processQueryKey() string { return rand.Text() }
