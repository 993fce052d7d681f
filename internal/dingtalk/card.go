package dingtalk

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/dingtalk-llm/fcrobot/internal/redact"
)

// The AI card calls of the OpenAPI: the shapes of create-and-deliver and of
// the streaming update, the refusals of each, and what stays uncertain
// about them, with their sources, are in docs/protocols.md §5 (a missing
// permission: §4). Where the sources disagree the client chooses: it
// sends callbackType "STREAM" for a card without buttons, which receives
// no callbacks (it names no URL, and with no Stream connection open
// DingTalk has nowhere to push one), and "HTTP" with the card's
// callbackRouteKey for one with buttons (docs/protocols.md §18); it sends robotCode in a single
// chat's imRobotOpenDeliverModel as well as spaceType; and it treats every
// refusal of a bad createAndDeliver or of too large an update as a plain
// refusal.
const (
	CardCreateAndDeliverPath = "/v1.0/card/instances/createAndDeliver"
	CardStreamingPath        = "/v1.0/card/streaming"
)

// The open space types of the conversations a card is delivered to.
const (
	SpaceTypeGroup = "IM_GROUP" // a group, by its conversationId
	SpaceTypeRobot = "IM_ROBOT" // the single chat of the robot and a user, by the user's staff id
)

// CardOpenSpacePrefix starts every openSpaceId.
const CardOpenSpacePrefix = "dtv1.card//"

// CardCallbackType is the callbackType of the cards the client creates
// without a route key; see the notes above. A card with one is created
// with CardCallbackTypeHTTP.
const (
	CardCallbackType     = "STREAM"
	CardCallbackTypeHTTP = "HTTP"
)

// CodePermissionDenied is DingTalk's code for a call the app has no
// permission for (with HTTP 403).
const CodePermissionDenied = "Forbidden.AccessDenied.AccessTokenPermissionDenied"

// Card is an AI card to create from a template and deliver to one
// conversation.
type Card struct {
	TemplateID string
	// OutTrackID is the caller's unique id for the card instance (e.g.
	// derived from the msgId); the streaming updates name the card by it.
	OutTrackID string
	// RobotCode is the robot that delivers the card, the AppKey for an
	// enterprise-internal app's robot.
	RobotCode string
	// Exactly one of GroupID (a group's conversationId) and UserID (the
	// staff id of the user in a single chat with the robot).
	GroupID, UserID string
	// Data is the template variables at creation (cardData.cardParamMap).
	Data map[string]string
	// CallbackRouteKey, for a card with buttons, is the route key its
	// callbacks go to (registered with RegisterCardCallback): the card is
	// created with callbackType HTTP. Empty for a card without buttons.
	CallbackRouteKey string
}

// CardUpdate is one streaming update of a card's variable.
type CardUpdate struct {
	OutTrackID string
	// Key is the template variable; Content its whole new value.
	Key, Content string
	// Finalize marks the last update: the card stops streaming.
	Finalize bool
	// Failed shows the card as failed.
	Failed bool
}

// CardDeliveryError reports a card DingTalk created but did not deliver
// (a 200 answer whose deliverResults says success:false). Nobody sees the
// card: the caller should answer another way.
type CardDeliveryError struct {
	SpaceType, SpaceID string
	Message            string // DingTalk's errorMsg
}

func (e *CardDeliveryError) Error() string {
	return fmt.Sprintf("dingtalk openapi: card not delivered to %s %s: %s", e.SpaceType, e.SpaceID, e.Message)
}

// CreateAndDeliverCard creates an AI card from its template and delivers it
// to a group or a single chat: POST /v1.0/card/instances/createAndDeliver
// (permission Card.Instance.Write). An incomplete card is refused before
// calling, with ErrInvalidRequest. A refusal is an *OpenAPIError, retried
// when Retryable; a refused token is replaced once (a missing permission,
// PermissionDenied, included: that costs one token request). A card
// created but not delivered is a *CardDeliveryError, not retried.
//
// A retry after an error DingTalk may have answered after creating the
// card (a 5xx, say) reuses the outTrackId, which DingTalk may then refuse
// as taken: the caller sees that refusal and should answer another way.
func (o *OpenAPI) CreateAndDeliverCard(ctx context.Context, c Card) error {
	body, err := createAndDeliverBody(c)
	if err != nil {
		return err
	}
	return o.retry.Do(ctx, func(ctx context.Context) error {
		var answer struct {
			Success *bool `json:"success"`
			Result  struct {
				OutTrackID     string `json:"outTrackId"`
				DeliverResults []struct {
					SpaceType string `json:"spaceType"`
					SpaceID   string `json:"spaceId"`
					Success   bool   `json:"success"`
					ErrorMsg  string `json:"errorMsg"`
				} `json:"deliverResults"`
			} `json:"result"`
		}
		if err := o.call(ctx, CardCreateAndDeliverPath, body, &answer); err != nil {
			return err
		}
		if answer.Success != nil && !*answer.Success {
			return fmt.Errorf("dingtalk openapi %s: %w: success is false", CardCreateAndDeliverPath, ErrUnexpectedOpenAPIResponse)
		}
		if len(answer.Result.DeliverResults) == 0 {
			// DingTalk answers one result per space; none means the card
			// reached nobody, as far as the answer says.
			return fmt.Errorf("dingtalk openapi %s: %w: no deliverResults", CardCreateAndDeliverPath, ErrUnexpectedOpenAPIResponse)
		}
		for _, r := range answer.Result.DeliverResults {
			if !r.Success {
				return &CardDeliveryError{
					SpaceType: bounded(r.SpaceType),
					SpaceID:   bounded(r.SpaceID),
					Message:   redact.String(bounded(r.ErrorMsg), o.appSecret),
				}
			}
		}
		return nil
	}, o.logRetry(ctx, CardCreateAndDeliverPath))
}

// createAndDeliverBody validates a card and builds its request body.
func createAndDeliverBody(c Card) (map[string]any, error) {
	invalid := func(why string) error {
		return fmt.Errorf("dingtalk openapi: %w: card %s", ErrInvalidRequest, why)
	}
	switch {
	case c.TemplateID == "":
		return nil, invalid("has no template")
	case c.OutTrackID == "":
		return nil, invalid("has no outTrackId")
	case len(c.OutTrackID) > MaxOutTrackIDLen:
		return nil, invalid(fmt.Sprintf("has an outTrackId over %d characters", MaxOutTrackIDLen))
	case c.RobotCode == "":
		return nil, invalid("has no robot code")
	case c.GroupID != "" && c.UserID != "":
		return nil, invalid("names both a group and a user")
	case c.GroupID == "" && c.UserID == "":
		return nil, invalid("names neither a group nor a user")
	}
	params := maps.Clone(c.Data)
	if params == nil {
		params = map[string]string{}
	}
	body := map[string]any{
		"cardTemplateId": c.TemplateID,
		"outTrackId":     c.OutTrackID,
		"callbackType":   CardCallbackType,
		"cardData":       map[string]any{"cardParamMap": params},
	}
	if c.CallbackRouteKey != "" {
		body["callbackType"] = CardCallbackTypeHTTP
		body["callbackRouteKey"] = c.CallbackRouteKey
	}
	// supportForward: an answer in a card may be forwarded like one in a
	// message.
	space := map[string]any{"supportForward": true}
	if c.GroupID != "" {
		body["openSpaceId"] = CardOpenSpacePrefix + SpaceTypeGroup + "." + c.GroupID
		body["imGroupOpenSpaceModel"] = space
		body["imGroupOpenDeliverModel"] = map[string]any{"robotCode": c.RobotCode}
	} else {
		body["openSpaceId"] = CardOpenSpacePrefix + SpaceTypeRobot + "." + c.UserID
		body["imRobotOpenSpaceModel"] = space
		body["imRobotOpenDeliverModel"] = map[string]any{"spaceType": SpaceTypeRobot, "robotCode": c.RobotCode}
	}
	return body, nil
}

// StreamCard sets a card variable to its whole new content: PUT
// /v1.0/card/streaming (permission Card.Streaming.Write) with isFull true,
// which a markdown variable requires, and a fresh guid. Retries of this
// update, under the retry policy, reuse its guid, so that DingTalk can tell
// them apart from a new update. Errors are as for CreateAndDeliverCard; a
// caller that cannot stream any more decides how else to answer.
func (o *OpenAPI) StreamCard(ctx context.Context, u CardUpdate) error {
	switch {
	case u.OutTrackID == "":
		return fmt.Errorf("dingtalk openapi: %w: card update has no outTrackId", ErrInvalidRequest)
	case u.Key == "":
		return fmt.Errorf("dingtalk openapi: %w: card update has no key", ErrInvalidRequest)
	}
	body := map[string]any{
		"outTrackId": u.OutTrackID,
		"guid":       newGUID(),
		"key":        u.Key,
		"content":    u.Content,
		"isFull":     true,
		"isFinalize": u.Finalize,
		"isError":    u.Failed,
	}
	return o.retry.Do(ctx, func(ctx context.Context) error {
		var answer struct {
			Success *bool `json:"success"`
			Result  *bool `json:"result"`
		}
		if err := o.callMethod(ctx, http.MethodPut, CardStreamingPath, body, &answer); err != nil {
			return err
		}
		if (answer.Success != nil && !*answer.Success) || (answer.Result != nil && !*answer.Result) {
			return fmt.Errorf("dingtalk openapi %s: %w: the update was not applied", CardStreamingPath, ErrUnexpectedOpenAPIResponse)
		}
		return nil
	}, o.logRetry(ctx, CardStreamingPath))
}

// newGUID returns a random UUID (version 4), the shape DingTalk's own SDKs
// send.
func newGUID() string {
	var b [16]byte
	// crypto/rand.Read never fails (it crashes the program rather).
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := fmt.Sprintf("%x", b[:])
	return strings.Join([]string{h[:8], h[8:12], h[12:16], h[16:20], h[20:]}, "-")
}
