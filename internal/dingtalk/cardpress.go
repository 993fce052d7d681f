package dingtalk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
)

// CardActionCallback is the type of a card callback that a button's
// postback ("回传请求") sends.
const CardActionCallback = "actionCallback"

var (
	// ErrMalformedCardCallback is wrapped by every error ParseCardCallback
	// returns for a body it cannot read as a press.
	ErrMalformedCardCallback = errors.New("malformed card callback")
	// ErrUnknownCardAction is wrapped when a press reads well but its
	// params.action is none of the robot's buttons (chat.PressAction).
	ErrUnknownCardAction = errors.New("unknown card action")
)

// cardCallbackBody is the part of a card callback the robot reads
// (docs/protocols.md §18); extension, spaceType, spaceId and userIdType
// are not read.
type cardCallbackBody struct {
	Type       string          `json:"type"`
	OutTrackID string          `json:"outTrackId"`
	CorpID     string          `json:"corpId"`
	UserID     string          `json:"userId"`
	Content    json.RawMessage `json:"content"`
	Value      json.RawMessage `json:"value"`
}

// cardPrivateData is what "content" (or "value") holds, as a JSON text
// inside a string or as an object.
type cardPrivateData struct {
	CardPrivateData *struct {
		Params json.RawMessage `json:"params"`
	} `json:"cardPrivateData"`
}

// ParseCardCallback reads a press of one of a card's buttons from a card
// callback's body: {"type": "actionCallback", "outTrackId", "corpId",
// "userId", "content": "<JSON>"} with the JSON {"cardPrivateData":
// {"actionIds": [...], "params": {...}}}. The JSON may come under
// "content", under "value" (one of DingTalk's pages names it so), or under
// both, as DingTalk's SDK captured it; a string of JSON or an object. When
// both come they must say the same. The press's Action is params.action,
// its Params the other params that are strings (numbers and booleans as
// their text; other values are left out); its At is left for the caller.
//
// Everything is bounded (chat.Press's limits): a longer id, more params or
// a longer one is refused, not cut. An action that is none of the robot's
// buttons is an error wrapping ErrUnknownCardAction; anything else that
// is not a press wraps ErrMalformedCardCallback. Errors never quote the
// body.
func ParseCardCallback(body []byte) (chat.Press, error) {
	malformed := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrMalformedCardCallback}, args...)...)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return chat.Press{}, malformed("empty body")
	}
	var b cardCallbackBody
	if err := json.Unmarshal(body, &b); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return chat.Press{}, malformed("field %s is a JSON %s, want a string", typeErr.Field, typeErr.Value)
		}
		return chat.Press{}, malformed("not a JSON object")
	}
	switch {
	case b.Type != CardActionCallback:
		return chat.Press{}, malformed("type is %q, not %s", truncateRunes(b.Type, 32), CardActionCallback)
	case b.OutTrackID == "" || len(b.OutTrackID) > MaxOutTrackIDLen:
		return chat.Press{}, malformed("outTrackId missing or longer than %d", MaxOutTrackIDLen)
	case b.UserID == "" || len(b.UserID) > chat.MaxPressIDBytes:
		return chat.Press{}, malformed("userId missing or longer than %d bytes", chat.MaxPressIDBytes)
	case len(b.CorpID) > chat.MaxPressIDBytes:
		return chat.Press{}, malformed("corpId longer than %d bytes", chat.MaxPressIDBytes)
	}

	var params map[string]string
	var found bool
	for _, field := range []struct {
		name string
		raw  json.RawMessage
	}{{"content", b.Content}, {"value", b.Value}} {
		p, ok, err := readCardParams(field.name, field.raw)
		switch {
		case err != nil:
			return chat.Press{}, err
		case !ok:
			continue
		case found && !maps.Equal(p, params):
			return chat.Press{}, malformed("content and value say different things")
		}
		params, found = p, true
	}
	if !found {
		return chat.Press{}, malformed("no content or value")
	}

	action := chat.PressAction(params["action"])
	delete(params, "action")
	if !action.Known() {
		return chat.Press{}, fmt.Errorf("%w: params.action %q is none of the robot's buttons", ErrUnknownCardAction, truncateRunes(string(action), 32))
	}
	if len(params) == 0 {
		params = nil
	}
	p := chat.Press{CardID: b.OutTrackID, UserID: b.UserID, CorpID: b.CorpID, Action: action, Params: params}
	if err := p.Validate(); err != nil {
		return chat.Press{}, fmt.Errorf("%w: %w", ErrMalformedCardCallback, err)
	}
	return p, nil
}

// readCardParams reads cardPrivateData.params from a content or a value:
// ok is false when the field is absent or null.
func readCardParams(field string, raw json.RawMessage) (map[string]string, bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false, nil
	}
	raw = unwrapJSON(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false, fmt.Errorf("%w: %s is neither an object nor a string of one", ErrMalformedCardCallback, field)
	}
	var d cardPrivateData
	if err := json.Unmarshal(raw, &d); err != nil || d.CardPrivateData == nil {
		return nil, false, fmt.Errorf("%w: %s holds no cardPrivateData object", ErrMalformedCardCallback, field)
	}
	var values map[string]json.RawMessage
	if p := bytes.TrimSpace(d.CardPrivateData.Params); len(p) > 0 && string(p) != "null" {
		if err := json.Unmarshal(p, &values); err != nil {
			return nil, false, fmt.Errorf("%w: %s's cardPrivateData.params is not an object", ErrMalformedCardCallback, field)
		}
	}
	// One more than the press keeps: action is taken out.
	if len(values) > chat.MaxPressParams+1 {
		return nil, false, fmt.Errorf("%w: %s has %d params, at most %d", ErrMalformedCardCallback, field, len(values), chat.MaxPressParams+1)
	}
	params := make(map[string]string, len(values))
	for k, v := range values {
		s, ok := scalar(v)
		if !ok {
			continue // an object or an array: no button of the robot's sends one
		}
		if k == "" || len(k) > chat.MaxPressParamKey || len(s) > chat.MaxPressParamValue {
			return nil, false, fmt.Errorf("%w: %s has a param whose name is empty or over %d bytes, or whose value is over %d", ErrMalformedCardCallback,
				field, chat.MaxPressParamKey, chat.MaxPressParamValue)
		}
		params[k] = s
	}
	return params, true, nil
}

// scalar reads a JSON string as it is, a number as its text, a boolean as
// "true" or "false"; ok is false for null, an object or an array.
func scalar(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case c == 't' || c == 'f':
		return string(raw), string(raw) == "true" || string(raw) == "false"
	case c == '-' || (c >= '0' && c <= '9'):
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return "", false
		}
		return n.String(), true
	}
	return "", false
}
