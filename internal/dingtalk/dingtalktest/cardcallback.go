package dingtalktest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
)

// Cards with buttons (docs/protocols.md §18): the registration of the URL a
// route key's presses go to, the update of a card's variables for everyone,
// and the presses themselves, signed and sent as DingTalk sends them.

// WithPressClient makes Press send presses through client (its timeout and
// redirects aside): the client of an in-memory server (package pipenet)
// that stands for the conversation function, in a testing/synctest bubble.
// By default presses go through a client of the default transport.
func WithPressClient(client *http.Client) Option {
	return func(s *Server) { s.pressClient = client }
}

// PressAnswerWindow is how long DingTalk waits for the answer to a press
// ("请在 2 秒内完成业务处理并响应"): Press gives up after it.
const PressAnswerWindow = 2 * time.Second

// The codes DingTalk's documentation gives for the update of a card's
// variables for everyone.
const (
	CodeCardNotExist      = "param.cardNotExist"
	CodeCardDataBothEmpty = "param.cardDataAndPrivateDataBothEmpty"
)

// CardCallbackRegistration is a route key's registered callback.
type CardCallbackRegistration struct {
	RouteKey, URL, APISecret string
	// ForceUpdate is what the registration asked.
	ForceUpdate bool
	At          time.Time
}

// callbackState is the card-callback side of a Server, guarded by
// Server.mu.
type callbackState struct {
	routes        map[string]CardCallbackRegistration // route key -> its registration
	registrations []CardCallbackRegistration          // accepted, in order
	presses       []PressResult
	metered       int
}

func newCallbackState() callbackState {
	return callbackState{routes: make(map[string]CardCallbackRegistration)}
}

// CardCallbackRegistrations returns the registrations the fake accepted, in
// order.
func (s *Server) CardCallbackRegistrations() []CardCallbackRegistration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.callbacks.registrations)
}

// CardCallback returns the registration of a route key now.
func (s *Server) CardCallback(routeKey string) (CardCallbackRegistration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.callbacks.routes[routeKey]
	return r, ok
}

// MeteredCalls counts the OpenAPI calls received that DingTalk meters
// (docs/protocols.md §4): every call under /v1.0/ but the access-token
// request, whose metering the sources leave open; refused calls included.
func (s *Server) MeteredCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callbacks.metered
}

// metering counts the metered calls before next serves them.
func (s *Server) metering(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1.0/") && r.URL.Path != dingtalk.AccessTokenPath {
			s.mu.Lock()
			s.callbacks.metered++
			s.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// FailCardUpdateNext makes the next n updates for everyone fail with the
// HTTP status, code and message, before any other check.
func (s *Server) FailCardUpdateNext(n, status int, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cards.updateFailure = injectedFailure{n: n, status: status, code: code, message: message}
}

// registerRequest is the body of POST /v1.0/card/callbacks/register.
type registerRequest struct {
	RouteKey    string `json:"callbackRouteKey"`
	URL         string `json:"callbackUrl"`
	APISecret   string `json:"apiSecret"`
	ForceUpdate bool   `json:"forceUpdate"`
}

// serveCardCallbackRegister serves POST /v1.0/card/callbacks/register. It
// checks, in order: the token, the permission (Card.Instance.Write), the
// body, the route key and URL (DingTalk's param.callbackRouteKeyEmpty and
// param.callbackUrlEmpty, HTTP 400), and that a route key already
// registered comes with forceUpdate (else HTTP 500
// param.callbackRouteKeyExist, as DingTalk's error table has it). It
// answers {"success": true, "result": {callbackUrl, apiSecret}}.
func (s *Server) serveCardCallbackRegister(w http.ResponseWriter, r *http.Request) {
	var req registerRequest
	decodeErr := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes)).Decode(&req)

	s.mu.Lock()
	refused := s.registerLocked(r.Header.Get(dingtalk.AccessTokenHeader), req, decodeErr)
	s.mu.Unlock()
	if refused != nil {
		refuse(w, refused.status, refused.code, refused.message)
		return
	}
	writeOpenAPI(w, http.StatusOK, map[string]any{
		"success": true,
		"result":  map[string]any{"callbackUrl": req.URL, "apiSecret": req.APISecret},
	})
}

func (s *Server) registerLocked(token string, req registerRequest, decodeErr error) *refusal {
	var none injectedFailure
	if refused := s.guardLocked(&none, token, PermissionCardInstanceWrite); refused != nil {
		return refused
	}
	switch {
	case decodeErr != nil:
		return badRequest("param.empty", "param.empty")
	case req.RouteKey == "":
		return badRequest(dingtalk.CodeCallbackRouteKeyEmpty, dingtalk.CodeCallbackRouteKeyEmpty)
	case req.URL == "":
		return badRequest(dingtalk.CodeCallbackURLEmpty, dingtalk.CodeCallbackURLEmpty)
	}
	if _, exists := s.callbacks.routes[req.RouteKey]; exists && !req.ForceUpdate {
		return &refusal{http.StatusInternalServerError, dingtalk.CodeCallbackRouteKeyExists, dingtalk.CodeCallbackRouteKeyExists}
	}
	reg := CardCallbackRegistration{RouteKey: req.RouteKey, URL: req.URL, APISecret: req.APISecret, ForceUpdate: req.ForceUpdate, At: s.now()}
	s.callbacks.routes[req.RouteKey] = reg
	s.callbacks.registrations = append(s.callbacks.registrations, reg)
	s.changedLocked()
	return nil
}

// updateRequest is the body of PUT /v1.0/card/instances.
type updateRequest struct {
	OutTrackID string `json:"outTrackId"`
	CardData   *struct {
		CardParamMap map[string]json.RawMessage `json:"cardParamMap"`
	} `json:"cardData"`
	PrivateData       json.RawMessage `json:"privateData"`
	CardUpdateOptions struct {
		UpdateCardDataByKey bool `json:"updateCardDataByKey"`
	} `json:"cardUpdateOptions"`
}

// serveCardInstanceUpdate serves PUT /v1.0/card/instances, the update of a
// card's variables for everyone. It checks, in order: an injected failure,
// the token, the permission, the body, the outTrackId, that cardData or
// privateData is given (the fake applies cardData alone), the values
// (strings of at most 1 KB, keys of at most 100 bytes), and that the card
// exists (param.cardNotExist).
func (s *Server) serveCardInstanceUpdate(w http.ResponseWriter, r *http.Request) {
	var req updateRequest
	decodeErr := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes)).Decode(&req)

	s.mu.Lock()
	refused := s.updateCardLocked(r.Header.Get(dingtalk.AccessTokenHeader), req, decodeErr)
	s.mu.Unlock()
	if refused != nil {
		refuse(w, refused.status, refused.code, refused.message)
		return
	}
	writeOpenAPI(w, http.StatusOK, map[string]any{"success": true, "result": true})
}

func (s *Server) updateCardLocked(token string, req updateRequest, decodeErr error) *refusal {
	if refused := s.guardLocked(&s.cards.updateFailure, token, PermissionCardInstanceWrite); refused != nil {
		return refused
	}
	switch {
	case decodeErr != nil:
		return badRequest("param.empty", "param.empty")
	case req.OutTrackID == "":
		return badRequest(CodeOutTrackIDEmpty, "outTrackId is empty")
	case (req.CardData == nil || len(req.CardData.CardParamMap) == 0) && len(bytes.TrimSpace(req.PrivateData)) == 0:
		return badRequest(CodeCardDataBothEmpty, "cardData and privateData are both empty")
	}
	data := make(map[string]string)
	if req.CardData != nil {
		for key, raw := range req.CardData.CardParamMap {
			var value string
			switch {
			case json.Unmarshal(raw, &value) != nil:
				return badRequest(CodeInvalidParameter, "cardParamMap."+key+" is not a string")
			case len(key) > dingtalk.MaxCardParamKeyBytes || len(value) > dingtalk.MaxCardParamValueBytes:
				return badRequest(CodeInvalidParameter, "cardParamMap."+key+": key over 100 B or value over 1 KB")
			}
			data[key] = value
		}
	}
	card, ok := s.cards.byOutTrackID[req.OutTrackID]
	if !ok {
		return badRequest(CodeCardNotExist, "no card with outTrackId "+req.OutTrackID)
	}
	card.DataUpdates = append(card.DataUpdates, CardDataUpdate{Data: data, ByKey: req.CardUpdateOptions.UpdateCardDataByKey, At: s.now()})
	s.changedLocked()
	return nil
}

// PressResult is what became of a press the fake sent: the answer, and how
// long it took.
type PressResult struct {
	OutTrackID, UserID string
	// Status and Body are the answer; Status is 0 when there was none
	// within PressAnswerWindow (TimedOut) or the request failed.
	Status int
	Body   string
	// Took is how long the answer took, as DingTalk would time it.
	Took     time.Duration
	TimedOut bool
}

// Answered reports whether DingTalk would take the press as handled: a 200
// within PressAnswerWindow.
func (r PressResult) Answered() bool { return !r.TimedOut && r.Status == http.StatusOK }

// PressRequest is a press to send, for PressWith.
type PressRequest struct {
	// RouteKey is the registered route key whose URL the press goes to;
	// empty means the card's own.
	RouteKey string
	// OutTrackID is the card pressed; it need not be one of the fake's.
	OutTrackID string
	UserID     string
	// CorpID is the presser's company; empty means ChatbotCorpID.
	CorpID string
	// Params are the button's postback params (params.action among them).
	Params map[string]string
	// Secret signs the press instead of the route key's registered
	// apiSecret: a forger's.
	Secret string
	// Timestamp signs the press instead of now: a replayed or stale one.
	Timestamp time.Time
}

// Press sends a press of a button of one of the fake's cards as DingTalk
// sends it: to the URL the card's route key is registered at, signed with
// its apiSecret, in the shape the official SDK captured (both content and
// value, docs/protocols.md §18). It waits for the answer at most
// PressAnswerWindow and records how long it took.
func (s *Server) Press(ctx context.Context, outTrackID, userID string, params map[string]string) (PressResult, error) {
	return s.PressWith(ctx, PressRequest{OutTrackID: outTrackID, UserID: userID, Params: params})
}

// PressWith sends a press as req says: a press on a card the fake never
// made, signed with another secret or at another time.
func (s *Server) PressWith(ctx context.Context, req PressRequest) (PressResult, error) {
	s.mu.Lock()
	routeKey := req.RouteKey
	if routeKey == "" {
		card, ok := s.cards.byOutTrackID[req.OutTrackID]
		if !ok {
			s.mu.Unlock()
			return PressResult{}, fmt.Errorf("dingtalktest: no card %q to press, and no route key given", req.OutTrackID)
		}
		if card.CallbackType != dingtalk.CardCallbackTypeHTTP {
			s.mu.Unlock()
			return PressResult{}, fmt.Errorf("dingtalktest: card %q was created with callbackType %q: DingTalk sends its presses nowhere over HTTP",
				req.OutTrackID, card.CallbackType)
		}
		routeKey = card.CallbackRouteKey
	}
	reg, ok := s.callbacks.routes[routeKey]
	now := s.now()
	s.mu.Unlock()
	if !ok {
		return PressResult{}, fmt.Errorf("dingtalktest: route key %q is not registered: DingTalk has nowhere to send the press", routeKey)
	}
	secret := reg.APISecret
	if req.Secret != "" {
		secret = req.Secret
	}
	if !req.Timestamp.IsZero() {
		now = req.Timestamp
	}
	body, err := pressBody(req)
	if err != nil {
		return PressResult{}, err
	}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, reg.URL, bytes.NewReader(body))
	if err != nil {
		return PressResult{}, fmt.Errorf("dingtalktest: build the press: %w", err)
	}
	timestamp := strconv.FormatInt(now.UnixMilli(), 10)
	httpReq.Header.Set("Content-Type", "application/json")
	httpReq.Header.Set(dingtalk.CardTimestampHeader, timestamp)
	if secret != "" {
		httpReq.Header.Set(dingtalk.CardSignatureHeader, dingtalk.CardCallbackSign(secret, timestamp))
	}

	result := PressResult{OutTrackID: req.OutTrackID, UserID: req.UserID}
	client := &http.Client{}
	if s.pressClient != nil {
		*client = *s.pressClient
	}
	client.Timeout = PressAnswerWindow
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	started := time.Now()
	resp, err := client.Do(httpReq)
	if err == nil {
		var answer []byte
		answer, err = io.ReadAll(io.LimitReader(resp.Body, maxRequestBytes))
		resp.Body.Close()
		result.Status, result.Body = resp.StatusCode, string(answer)
	}
	result.Took = time.Since(started)
	var urlErr *url.Error
	if errors.As(err, &urlErr) && urlErr.Timeout() && ctx.Err() == nil {
		result.Status, result.TimedOut, err = 0, true, nil
	}
	s.mu.Lock()
	s.callbacks.presses = append(s.callbacks.presses, result)
	s.mu.Unlock()
	if err != nil {
		return result, fmt.Errorf("dingtalktest: send the press: %w", err)
	}
	return result, nil
}

// Presses returns every press the fake sent, in order, with what became of
// it.
func (s *Server) Presses() []PressResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.callbacks.presses)
}

// pressBody is a press's body as DingTalk's SDK captured it: the private
// data as a string of JSON under both content and value.
func pressBody(req PressRequest) ([]byte, error) {
	params := maps.Clone(req.Params)
	if params == nil {
		params = map[string]string{}
	}
	private, err := json.Marshal(map[string]any{
		"cardPrivateData": map[string]any{"actionIds": []string{"button_" + params["action"]}, "params": params},
	})
	if err != nil {
		return nil, fmt.Errorf("dingtalktest: encode the press: %w", err)
	}
	corpID := req.CorpID
	if corpID == "" {
		corpID = ChatbotCorpID
	}
	if !utf8.ValidString(req.OutTrackID) {
		return nil, errors.New("dingtalktest: the outTrackId is not UTF-8")
	}
	return json.Marshal(map[string]any{
		"extension":  "{}",
		"corpId":     corpID,
		"spaceType":  "",
		"userIdType": 1,
		"type":       dingtalk.CardActionCallback,
		"userId":     req.UserID,
		"content":    string(private),
		"spaceId":    "",
		"outTrackId": req.OutTrackID,
		"value":      string(private),
	})
}
