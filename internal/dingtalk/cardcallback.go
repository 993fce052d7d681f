package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"

	"github.com/dingtalk-llm/fcrobot/internal/redact"
)

// The OpenAPI calls of cards with buttons (docs/protocols.md §18).
const (
	// CardCallbackRegisterPath registers the URL a route key's card
	// callbacks go to.
	CardCallbackRegisterPath = "/v1.0/card/callbacks/register"
	// CardInstancesPath, with PUT, updates a card's variables for everyone
	// who sees it.
	CardInstancesPath = "/v1.0/card/instances"
)

// DingTalk's refusals of a registration (docs/protocols.md §18).
const (
	// CodeCallbackRouteKeyExists answers a registration of a route key
	// that exists, without forceUpdate: an HTTP 500 that no retry mends.
	CodeCallbackRouteKeyExists = "param.callbackRouteKeyExist"
	CodeCallbackRouteKeyEmpty  = "param.callbackRouteKeyEmpty"
	CodeCallbackURLEmpty       = "param.callbackUrlEmpty"
)

// Bounds of a card's variables in an update, as DingTalk documents them
// for cardParamMap: keys at most 100 bytes, values at most 1 KB.
const (
	MaxCardParamKeyBytes   = 100
	MaxCardParamValueBytes = 1024
)

// RegisterCardCallback registers callbackURL as where DingTalk sends the
// callbacks of cards created with routeKey, signed with apiSecret: POST
// /v1.0/card/callbacks/register (permission Card.Instance.Write) with
// forceUpdate true, so that calling it again with the same values, or
// with a new URL after a redeploy, succeeds; it replaces the URL and
// secret of every card of that route key. DingTalk answers a route key
// that exists without forceUpdate with HTTP 500 param.callbackRouteKeyExist,
// which this client never causes and never retries.
//
// Empty values, or a URL that is not an absolute http(s) URL, are refused
// before calling, with ErrInvalidRequest. A refusal is an *OpenAPIError,
// retried when Retryable; an answer that names another URL than the one
// sent wraps ErrUnexpectedOpenAPIResponse. Neither errors nor log lines
// show apiSecret.
func (o *OpenAPI) RegisterCardCallback(ctx context.Context, routeKey, callbackURL, apiSecret string) error {
	invalid := func(why string) error {
		return fmt.Errorf("dingtalk openapi: %w: card callback registration %s", ErrInvalidRequest, why)
	}
	u, err := url.Parse(callbackURL)
	switch {
	case routeKey == "":
		return invalid("has no route key")
	case apiSecret == "":
		return invalid("has no secret")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil:
		return invalid("has no absolute http(s) URL")
	}
	body := map[string]any{
		"callbackRouteKey": routeKey,
		"callbackUrl":      callbackURL,
		"apiSecret":        apiSecret,
		"forceUpdate":      true,
	}
	attempt := func(ctx context.Context) error {
		var answer struct {
			Success *bool `json:"success"`
			Result  struct {
				CallbackURL string `json:"callbackUrl"`
			} `json:"result"`
		}
		err := o.call(ctx, CardCallbackRegisterPath, body, &answer)
		var apiErr *OpenAPIError
		if errors.As(err, &apiErr) && apiErr.Code == CodeCallbackRouteKeyExists {
			return final{err}
		}
		if err != nil {
			return err
		}
		if answer.Success != nil && !*answer.Success {
			return fmt.Errorf("dingtalk openapi %s: %w: success is false", CardCallbackRegisterPath, ErrUnexpectedOpenAPIResponse)
		}
		if answer.Result.CallbackURL != "" && answer.Result.CallbackURL != callbackURL {
			return fmt.Errorf("dingtalk openapi %s: %w: the route key is registered at another URL", CardCallbackRegisterPath, ErrUnexpectedOpenAPIResponse)
		}
		return nil
	}
	// DingTalk echoes the secret in its answer; should a refusal quote it,
	// neither the retries' log lines nor the error show it.
	return o.retry.Do(ctx, func(ctx context.Context) error {
		return redact.Error(attempt(ctx), apiSecret)
	}, o.logRetry(ctx, CardCallbackRegisterPath))
}

// final marks an error that no retry mends, whatever the error it wraps
// says: DingTalk answers some refusals of that kind with a 5xx.
type final struct{ err error }

func (f final) Error() string   { return f.err.Error() }
func (f final) Unwrap() error   { return f.err }
func (f final) Retryable() bool { return false }

// UpdateCardData sets variables of a card for everyone who sees it: PUT
// /v1.0/card/instances (permission Card.Instance.Write) with
// cardData.cardParamMap and updateCardDataByKey true, so that the
// variables not named keep their values. It is a metered OpenAPI call,
// counted like every other (OpenAPIConfig.OnCall). A card's buttons are
// changed so after a press (a vote counted, a decision taken): what a
// callback's answer changes reaches the presser alone
// (docs/protocols.md §18).
//
// No outTrackId, no variable, or a key or value over DingTalk's bounds is
// refused before calling, with ErrInvalidRequest. Errors are as for
// CreateAndDeliverCard; DingTalk answers an unknown card with
// param.cardNotExist.
func (o *OpenAPI) UpdateCardData(ctx context.Context, outTrackID string, data map[string]string) error {
	switch {
	case outTrackID == "":
		return fmt.Errorf("dingtalk openapi: %w: card update has no outTrackId", ErrInvalidRequest)
	case len(data) == 0:
		return fmt.Errorf("dingtalk openapi: %w: card update sets no variable", ErrInvalidRequest)
	}
	for k, v := range data {
		if k == "" || len(k) > MaxCardParamKeyBytes || len(v) > MaxCardParamValueBytes {
			return fmt.Errorf("dingtalk openapi: %w: card variable %q: the name is empty or over %d bytes, or the value over %d",
				ErrInvalidRequest, truncateRunes(k, 32), MaxCardParamKeyBytes, MaxCardParamValueBytes)
		}
	}
	body := map[string]any{
		"outTrackId":        outTrackID,
		"cardData":          map[string]any{"cardParamMap": maps.Clone(data)},
		"cardUpdateOptions": map[string]any{"updateCardDataByKey": true},
	}
	return o.retry.Do(ctx, func(ctx context.Context) error {
		var answer struct {
			Success *bool `json:"success"`
			Result  *bool `json:"result"`
		}
		if err := o.callMethod(ctx, http.MethodPut, CardInstancesPath, body, &answer); err != nil {
			return err
		}
		if (answer.Success != nil && !*answer.Success) || (answer.Result != nil && !*answer.Result) {
			return fmt.Errorf("dingtalk openapi %s: %w: the update was not applied", CardInstancesPath, ErrUnexpectedOpenAPIResponse)
		}
		return nil
	}, o.logRetry(ctx, CardInstancesPath))
}
