package dingtalktest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
)

// The codes the fake refuses card calls with (HTTP 400). The first four
// are DingTalk's, as a mirror of its card API documentation lists them
// (apifox.cn, "互动卡片实例写权限" error table); DingTalk's codes for the
// other cases were not found, so these are the fake's own, in the same
// style.
const (
	CodeCardTemplateIDEmpty   = "param.cardTemplateIdEmpty"
	CodeOutTrackIDEmpty       = "param.outTrackIdEmpty"
	CodeOpenSpaceModelInvalid = "param.openSpaceModelInvalid"
	CodeCardDataEmpty         = "param.cardPublicDataEmpty"

	CodeCardTemplateNotFound = "param.cardTemplateNotExist"
	CodeOpenSpaceIDInvalid   = "param.openSpaceIdInvalid"
	CodeOutTrackIDExists     = "param.outTrackIdExist"
	CodeCardNotFound         = "param.cardInstanceNotExist"
	CodeCardFinalized        = "param.cardFinalized"
	CodeInvalidParameter     = "InvalidParameter"
)

// The permissions of the card calls, named in a permission refusal.
const (
	PermissionCardInstanceWrite  = "Card.Instance.Write"
	PermissionCardStreamingWrite = "Card.Streaming.Write"
)

// DeliverSpaceType is the spaceType of every deliverResults item: DingTalk's
// SDK documents "IM" as the type its answers give for both group and single
// chats.
const DeliverSpaceType = "IM"

// Card is an AI card the fake created, with the streaming updates it
// accepted.
type Card struct {
	OutTrackID, TemplateID, OpenSpaceID string
	// RobotCode is the robotCode of the deliver model; empty when a single
	// chat's model gave none.
	RobotCode string
	// Delivered is false for a card FailCardDeliveryNext kept from its
	// conversation: it exists, but nobody sees it.
	Delivered bool
	Data      map[string]string
	CreatedAt time.Time
	Updates   []CardUpdate
	// CallbackType and CallbackRouteKey are as the card was created with:
	// a card with buttons is "HTTP" with the route key its presses go to
	// (RegisterCardCallback, Press).
	CallbackType, CallbackRouteKey string
	// DataUpdates are the updates of its variables for everyone (PUT
	// /v1.0/card/instances) the fake applied, in order.
	DataUpdates []CardDataUpdate
}

// CardDataUpdate is one update of a card's variables for everyone.
type CardDataUpdate struct {
	Data map[string]string
	// ByKey is updateCardDataByKey: the variables not named keep their
	// values; without it the update replaces them all.
	ByKey bool
	At    time.Time
}

// Var is what the card shows of a variable that the robot sets by an
// update for everyone (a button's visibility, a count): its value at
// creation, as the last such update left it. A variable a streaming update
// sets is Content's.
func (c Card) Var(key string) string {
	value := c.Data[key]
	for _, u := range c.DataUpdates {
		v, ok := u.Data[key]
		switch {
		case ok:
			value = v
		case !u.ByKey:
			value = ""
		}
	}
	return value
}

// CardUpdate is one streaming update the fake applied.
type CardUpdate struct {
	GUID, Key, Content          string
	IsFull, IsFinalize, IsError bool
	At                          time.Time
}

// Finalized reports whether an update ended the card's streaming.
func (c Card) Finalized() bool {
	return slices.ContainsFunc(c.Updates, func(u CardUpdate) bool { return u.IsFinalize })
}

// Failed reports whether an update marked the card as failed.
func (c Card) Failed() bool {
	return slices.ContainsFunc(c.Updates, func(u CardUpdate) bool { return u.IsError })
}

// CardRenderChars is about where a card stops rendering: a finished card
// over about 3,000 characters shows blank (docs/protocols.md §5, §7).
const CardRenderChars = 3000

// Blank reports whether the card shows nothing of key: its content is over
// CardRenderChars characters.
func (c Card) Blank(key string) bool { return utf8.RuneCountInString(c.Content(key)) > CardRenderChars }

// Content is what the card shows of a variable: its latest update, or its
// value at creation.
func (c Card) Content(key string) string {
	content := c.Data[key]
	for _, u := range c.Updates {
		if u.Key == key {
			content = u.Content
		}
	}
	return content
}

func (c Card) clone() Card {
	c.Data = maps.Clone(c.Data)
	c.Updates = slices.Clone(c.Updates)
	c.DataUpdates = slices.Clone(c.DataUpdates)
	for i := range c.DataUpdates {
		c.DataUpdates[i].Data = maps.Clone(c.DataUpdates[i].Data)
	}
	return c
}

// injectedFailure is a number of calls to refuse with a given answer.
type injectedFailure struct {
	n             int
	status        int
	code, message string
}

func (f *injectedFailure) take() (status int, code, message string, ok bool) {
	if f.n <= 0 {
		return 0, "", "", false
	}
	f.n--
	return f.status, f.code, f.message, true
}

// cardState is the card side of a Server, guarded by Server.mu.
type cardState struct {
	templates       map[string][]string // template id -> its variables
	cards           []*Card             // in creation order
	byOutTrackID    map[string]*Card
	guids           map[string]bool // outTrackId + "\x00" + guid of applied updates
	createFailure   injectedFailure
	streamFailure   injectedFailure
	deliveryFailure injectedFailure
	updateFailure   injectedFailure
	denied          bool
}

func newCardState() cardState {
	return cardState{
		templates:    make(map[string][]string),
		byOutTrackID: make(map[string]*Card),
		guids:        make(map[string]bool),
	}
}

// AddCardTemplate makes a template known, with the variables its streaming
// updates may set. Cards of other templates are refused.
func (s *Server) AddCardTemplate(templateID string, keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cards.templates[templateID] = slices.Clone(keys)
}

// Cards returns copies of the cards created so far, in creation order,
// undelivered ones included.
func (s *Server) Cards() []Card {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cardsLocked(func(Card) bool { return true })
}

func (s *Server) cardsLocked(keep func(Card) bool) []Card {
	var out []Card
	for _, c := range s.cards.cards {
		if keep(*c) {
			out = append(out, c.clone())
		}
	}
	return out
}

// WaitCards waits until at least n delivered cards exist (finalized ones,
// when finalized is true) and returns those cards, in creation order. If
// ctx ends or the server closes first it returns those so far and an error.
func (s *Server) WaitCards(ctx context.Context, n int, finalized bool) ([]Card, error) {
	stop := context.AfterFunc(ctx, s.wake)
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	what := "delivered cards"
	if finalized {
		what = "finalized cards"
	}
	for {
		got := s.cardsLocked(func(c Card) bool { return c.Delivered && (!finalized || c.Finalized()) })
		switch {
		case len(got) >= n:
			return got, nil
		case ctx.Err() != nil:
			return got, fmt.Errorf("dingtalktest: %d of %d %s: %w", len(got), n, what, context.Cause(ctx))
		case s.closed:
			return got, fmt.Errorf("%w: %d of %d %s", ErrClosed, len(got), n, what)
		}
		s.changed.Wait()
	}
}

// FailCardCreateNext makes the next n createAndDeliver calls fail with the
// HTTP status, code and message, before any other check.
func (s *Server) FailCardCreateNext(n, status int, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cards.createFailure = injectedFailure{n: n, status: status, code: code, message: message}
}

// FailCardStreamingNext makes the next n streaming updates fail with the
// HTTP status, code and message, before any other check.
func (s *Server) FailCardStreamingNext(n, status int, code, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cards.streamFailure = injectedFailure{n: n, status: status, code: code, message: message}
}

// FailCardDeliveryNext makes the next n cards that pass every check be
// created but not delivered: DingTalk answers such a call with HTTP 200
// and a deliverResults item with success false and errorMsg.
func (s *Server) FailCardDeliveryNext(n int, errorMsg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cards.deliveryFailure = injectedFailure{n: n, message: errorMsg}
}

// DenyCardPermission makes both card calls, while set, refused as DingTalk
// refuses an app without Card.Instance.Write or Card.Streaming.Write: HTTP
// 403 with code Forbidden.AccessDenied.AccessTokenPermissionDenied. A
// valid token is checked first.
func (s *Server) DenyCardPermission(denied bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cards.denied = denied
}

// refusal is one refused call: an HTTP status, a code and a message.
type refusal struct {
	status        int
	code, message string
}

func badRequest(code, message string) *refusal {
	return &refusal{status: http.StatusBadRequest, code: code, message: message}
}

// guardLocked makes the checks every card call starts with: an injected
// failure, the access token, the permission.
func (s *Server) guardLocked(failure *injectedFailure, token, permission string) *refusal {
	if status, code, message, ok := failure.take(); ok {
		return &refusal{status, code, message}
	}
	if !s.validTokenLocked(token) {
		return badRequest(dingtalk.CodeInvalidAuthentication, "不合法的access_token")
	}
	if s.cards.denied {
		return &refusal{http.StatusForbidden, dingtalk.CodePermissionDenied, "应用尚未开通所需的权限：[" + permission + "]"}
	}
	return nil
}

// createAndDeliverRequest is the part of a createAndDeliver body the fake
// reads.
type createAndDeliverRequest struct {
	CardTemplateID   string `json:"cardTemplateId"`
	OutTrackID       string `json:"outTrackId"`
	CallbackType     string `json:"callbackType"`
	CallbackRouteKey string `json:"callbackRouteKey"`
	CardData         *struct {
		// Raw values, to tell strings from other JSON.
		CardParamMap map[string]json.RawMessage `json:"cardParamMap"`
	} `json:"cardData"`
	OpenSpaceID             string `json:"openSpaceId"`
	ImGroupOpenDeliverModel *struct {
		RobotCode string `json:"robotCode"`
	} `json:"imGroupOpenDeliverModel"`
	ImRobotOpenDeliverModel *struct {
		SpaceType string `json:"spaceType"`
		RobotCode string `json:"robotCode"`
	} `json:"imRobotOpenDeliverModel"`
}

// serveCreateAndDeliver serves POST /v1.0/card/instances/createAndDeliver.
// It checks, in order: an injected failure, the token, the permission, the
// body, the template, the callback type, the card data (string values
// only), the openSpaceId, the deliver model of its space type and its
// robotCode (the app's AppKey), and that the outTrackId is new.
func (s *Server) serveCreateAndDeliver(w http.ResponseWriter, r *http.Request) {
	var req createAndDeliverRequest
	decodeErr := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes)).Decode(&req)

	s.mu.Lock()
	card, spaceID, refused := s.createCardLocked(r.Header.Get(dingtalk.AccessTokenHeader), req, decodeErr)
	if refused == nil {
		s.changedLocked()
	}
	s.mu.Unlock()

	if refused != nil {
		refuse(w, refused.status, refused.code, refused.message)
		return
	}
	result := map[string]any{"spaceType": DeliverSpaceType, "spaceId": spaceID, "success": card.Delivered}
	if !card.Delivered {
		result["errorMsg"] = card.deliveryError
	}
	writeOpenAPI(w, http.StatusOK, map[string]any{
		"success": true,
		"result":  map[string]any{"outTrackId": card.OutTrackID, "deliverResults": []any{result}},
	})
}

// createdCard is a card just created and why it was not delivered, if not.
type createdCard struct {
	Card
	deliveryError string
}

func (s *Server) createCardLocked(token string, req createAndDeliverRequest, decodeErr error) (createdCard, string, *refusal) {
	if refused := s.guardLocked(&s.cards.createFailure, token, PermissionCardInstanceWrite); refused != nil {
		return createdCard{}, "", refused
	}
	switch {
	case decodeErr != nil:
		return createdCard{}, "", badRequest("Missingbody", "body is mandatory for this action.")
	case req.CardTemplateID == "":
		return createdCard{}, "", badRequest(CodeCardTemplateIDEmpty, "cardTemplateId is empty")
	case req.OutTrackID == "":
		return createdCard{}, "", badRequest(CodeOutTrackIDEmpty, "outTrackId is empty")
	case utf8.RuneCountInString(req.OutTrackID) > dingtalk.MaxOutTrackIDLen:
		return createdCard{}, "", badRequest(CodeInvalidParameter, "outTrackId is longer than 100 characters")
	}
	if _, ok := s.cards.templates[req.CardTemplateID]; !ok {
		return createdCard{}, "", badRequest(CodeCardTemplateNotFound, "card template "+req.CardTemplateID+" does not exist or is not published")
	}
	switch req.CallbackType {
	case "", "STREAM":
	case "HTTP":
		if req.CallbackRouteKey == "" {
			return createdCard{}, "", badRequest(CodeInvalidParameter, "callbackType HTTP needs a callbackRouteKey")
		}
	default:
		return createdCard{}, "", badRequest(CodeInvalidParameter, "callbackType must be STREAM or HTTP")
	}
	if req.CardData == nil || req.CardData.CardParamMap == nil {
		return createdCard{}, "", badRequest(CodeCardDataEmpty, "cardData.cardParamMap is empty")
	}
	data := make(map[string]string, len(req.CardData.CardParamMap))
	for key, raw := range req.CardData.CardParamMap {
		var value string
		if json.Unmarshal(raw, &value) != nil {
			return createdCard{}, "", badRequest(CodeInvalidParameter, "cardParamMap."+key+" is not a string")
		}
		data[key] = value
	}
	spaceType, spaceID, ok := parseOpenSpaceID(req.OpenSpaceID)
	if !ok {
		return createdCard{}, "", badRequest(CodeOpenSpaceIDInvalid, "openSpaceId must be dtv1.card//IM_GROUP.<conversationId> or dtv1.card//IM_ROBOT.<userId>")
	}
	var robotCode string
	switch spaceType {
	case dingtalk.SpaceTypeGroup:
		model := req.ImGroupOpenDeliverModel
		if model == nil || model.RobotCode == "" {
			return createdCard{}, "", badRequest(CodeOpenSpaceModelInvalid, "IM_GROUP needs imGroupOpenDeliverModel.robotCode")
		}
		robotCode = model.RobotCode
	case dingtalk.SpaceTypeRobot:
		model := req.ImRobotOpenDeliverModel
		if model == nil || model.SpaceType != dingtalk.SpaceTypeRobot {
			return createdCard{}, "", badRequest(CodeOpenSpaceModelInvalid, "IM_ROBOT needs imRobotOpenDeliverModel.spaceType IM_ROBOT")
		}
		// DingTalk's own SDK delivers to a single chat without a
		// robotCode; one that is given must be the app's.
		robotCode = model.RobotCode
	}
	if robotCode != "" && robotCode != s.openAPI.appKey {
		return createdCard{}, "", badRequest(CodeInvalidParameter, "robotCode is not this app's robot")
	}
	if _, exists := s.cards.byOutTrackID[req.OutTrackID]; exists {
		return createdCard{}, "", badRequest(CodeOutTrackIDExists, "a card with outTrackId "+req.OutTrackID+" exists")
	}

	card := &Card{
		OutTrackID:       req.OutTrackID,
		TemplateID:       req.CardTemplateID,
		OpenSpaceID:      req.OpenSpaceID,
		RobotCode:        robotCode,
		Delivered:        true,
		Data:             data,
		CreatedAt:        s.now(),
		CallbackType:     req.CallbackType,
		CallbackRouteKey: req.CallbackRouteKey,
	}
	var deliveryError string
	if _, _, message, failed := s.cards.deliveryFailure.take(); failed {
		card.Delivered, deliveryError = false, message
	}
	s.cards.cards = append(s.cards.cards, card)
	s.cards.byOutTrackID[card.OutTrackID] = card
	return createdCard{Card: card.clone(), deliveryError: deliveryError}, spaceID, nil
}

// parseOpenSpaceID splits dtv1.card//<type>.<id> for the two space types
// the robot uses. Public code sends the type in lower case too
// (dtv1.card//im_group....) and DingTalk accepts it, so the fake does. It
// does not take several spaces (";"-separated): the robot never sends them.
func parseOpenSpaceID(id string) (spaceType, spaceID string, ok bool) {
	rest, found := strings.CutPrefix(id, dingtalk.CardOpenSpacePrefix)
	if !found || strings.Contains(rest, ";") {
		return "", "", false
	}
	spaceType, spaceID, found = strings.Cut(rest, ".")
	spaceType = strings.ToUpper(spaceType)
	if !found || spaceID == "" || (spaceType != dingtalk.SpaceTypeGroup && spaceType != dingtalk.SpaceTypeRobot) {
		return "", "", false
	}
	return spaceType, spaceID, true
}

// streamingRequest is a streaming update's body.
type streamingRequest struct {
	OutTrackID string `json:"outTrackId"`
	GUID       string `json:"guid"`
	Key        string `json:"key"`
	Content    string `json:"content"`
	IsFull     bool   `json:"isFull"`
	IsFinalize bool   `json:"isFinalize"`
	IsError    bool   `json:"isError"`
}

// serveCardStreaming serves PUT /v1.0/card/streaming. It checks, in order:
// an injected failure, the token, the permission, the body, the card (it
// must exist), the guid, the key (one of the template's variables), isFull
// (the robot's variables are markdown, which DingTalk only updates whole),
// and that the card is not finalized. An update whose guid the card has
// applied already is answered as a success and not applied again: the
// guid is DingTalk's idempotency key.
func (s *Server) serveCardStreaming(w http.ResponseWriter, r *http.Request) {
	var req streamingRequest
	decodeErr := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes)).Decode(&req)

	s.mu.Lock()
	refused := s.streamLocked(r.Header.Get(dingtalk.AccessTokenHeader), req, decodeErr)
	s.mu.Unlock()

	if refused != nil {
		refuse(w, refused.status, refused.code, refused.message)
		return
	}
	writeOpenAPI(w, http.StatusOK, map[string]any{"success": true, "result": true})
}

func (s *Server) streamLocked(token string, req streamingRequest, decodeErr error) *refusal {
	if refused := s.guardLocked(&s.cards.streamFailure, token, PermissionCardStreamingWrite); refused != nil {
		return refused
	}
	switch {
	case decodeErr != nil:
		return badRequest("Missingbody", "body is mandatory for this action.")
	case req.OutTrackID == "":
		return badRequest(CodeOutTrackIDEmpty, "outTrackId is empty")
	}
	card, ok := s.cards.byOutTrackID[req.OutTrackID]
	switch {
	case !ok:
		return badRequest(CodeCardNotFound, "no card with outTrackId "+req.OutTrackID)
	case req.GUID == "":
		return badRequest("Missingguid", "guid is mandatory for this action.")
	case req.Key == "":
		return badRequest("Missingkey", "key is mandatory for this action.")
	case !slices.Contains(s.cards.templates[card.TemplateID], req.Key):
		return badRequest(CodeInvalidParameter, "the card template has no variable "+req.Key)
	case !req.IsFull:
		return badRequest(CodeInvalidParameter, "a markdown variable takes isFull true only")
	}
	applied := req.OutTrackID + "\x00" + req.GUID
	if s.cards.guids[applied] {
		return nil
	}
	if card.Finalized() {
		return badRequest(CodeCardFinalized, "the card is finalized")
	}
	s.cards.guids[applied] = true
	card.Updates = append(card.Updates, CardUpdate{
		GUID: req.GUID, Key: req.Key, Content: req.Content,
		IsFull: req.IsFull, IsFinalize: req.IsFinalize, IsError: req.IsError,
		At: s.now(),
	})
	s.changedLocked()
	return nil
}
