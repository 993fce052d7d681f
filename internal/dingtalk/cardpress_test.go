package dingtalk_test

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
)

// sdkCapture is the card callback DingTalk's official Python SDK keeps as
// a captured example (dingtalk_stream/card_callback_message.py), with a
// button of the robot's in it: the private data under both content and
// value, as strings of JSON.
const sdkCapture = `{"extension": "{}", "corpId": "ding9f50b15bccd16741", "spaceType": "", "userIdType": 1, "type": "actionCallback",
 "userId": "04574258341072934",
 "content": "{\"cardPrivateData\":{\"actionIds\":[\"button_node_ocljnpbz4i4\"],\"params\":{\"action\":\"approve\",\"call\":\"call-7\"}}}", "spaceId": "",
 "outTrackId": "53d6dda444c74f5f17bf4534333c1a46f690b4ddadac8d7e80fc11c2e4a714cb",
 "value": "{\"cardPrivateData\":{\"actionIds\":[\"button_node_ocljnpbz4i4\"],\"params\":{\"action\":\"approve\",\"call\":\"call-7\"}}}"}`

// pressCallback builds a card callback with the given content and value
// (nil leaves the field out).
func pressCallback(content, value any) []byte {
	body := map[string]any{"type": "actionCallback", "outTrackId": "card-1", "corpId": "dingcorp", "userId": "manager4321"}
	if content != nil {
		body["content"] = content
	}
	if value != nil {
		body["value"] = value
	}
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return b
}

// private is a content or value: cardPrivateData with params, as a Go
// value (an object on the wire) or, through asString, a string of JSON.
func private(params map[string]any) map[string]any {
	return map[string]any{"cardPrivateData": map[string]any{"actionIds": []string{"b1"}, "params": params}}
}

func asString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestParseCardCallbackReadsEveryShapeOfAPress(t *testing.T) {
	stop := private(map[string]any{"action": "stop"})
	for _, tt := range []struct {
		name string
		body []byte
		want chat.Press
	}{
		{"the SDK's capture", []byte(sdkCapture), chat.Press{
			CardID: "53d6dda444c74f5f17bf4534333c1a46f690b4ddadac8d7e80fc11c2e4a714cb", UserID: "04574258341072934",
			CorpID: "ding9f50b15bccd16741", Action: chat.PressApprove, Params: map[string]string{"call": "call-7"},
		}},
		{"content alone, a string", pressCallback(asString(stop), nil), chat.Press{CardID: "card-1", UserID: "manager4321", CorpID: "dingcorp", Action: chat.PressStop}},
		{"value alone, a string", pressCallback(nil, asString(stop)), chat.Press{CardID: "card-1", UserID: "manager4321", CorpID: "dingcorp", Action: chat.PressStop}},
		{"content as an object", pressCallback(stop, nil), chat.Press{CardID: "card-1", UserID: "manager4321", CorpID: "dingcorp", Action: chat.PressStop}},
		{"content an object, value a string, the same", pressCallback(stop, asString(stop)), chat.Press{CardID: "card-1", UserID: "manager4321", CorpID: "dingcorp", Action: chat.PressStop}},
		{"content null, value given", pressCallback(json.RawMessage("null"), asString(stop)), chat.Press{CardID: "card-1", UserID: "manager4321", CorpID: "dingcorp", Action: chat.PressStop}},
		{"numbers and booleans as text, objects left out", pressCallback(asString(private(map[string]any{
			"action": "like", "n": 7, "ok": true, "nested": map[string]any{"deep": []any{1}}, "none": nil,
		})), nil), chat.Press{CardID: "card-1", UserID: "manager4321", CorpID: "dingcorp", Action: chat.PressLike, Params: map[string]string{"n": "7", "ok": "true"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dingtalk.ParseCardCallback(tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if got.CardID != tt.want.CardID || got.UserID != tt.want.UserID || got.CorpID != tt.want.CorpID ||
				got.Action != tt.want.Action || !maps.Equal(got.Params, tt.want.Params) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseCardCallbackRefusesWhatIsNoPress(t *testing.T) {
	stop := private(map[string]any{"action": "stop"})
	like := private(map[string]any{"action": "like"})
	tooMany := map[string]any{"action": "stop"}
	for i := range chat.MaxPressParams + 1 {
		tooMany[strings.Repeat("k", i+1)] = "v"
	}
	withType := func(typ any) []byte {
		return []byte(`{"type":` + asString(typ) + `,"outTrackId":"c","userId":"u","content":` + asString(asString(stop)) + `}`)
	}
	for _, tt := range []struct {
		name string
		body []byte
		want error
		says string
	}{
		{"empty", nil, dingtalk.ErrMalformedCardCallback, "empty"},
		{"an array", []byte(`[1,2]`), dingtalk.ErrMalformedCardCallback, "not a JSON object"},
		{"not JSON", []byte(`{"type":`), dingtalk.ErrMalformedCardCallback, "not a JSON object"},
		{"another type", withType("dynamicDataSource"), dingtalk.ErrMalformedCardCallback, "not actionCallback"},
		{"no type", []byte(`{"outTrackId":"c","userId":"u","content":` + asString(asString(stop)) + `}`), dingtalk.ErrMalformedCardCallback, "not actionCallback"},
		{"a number for a type", withType(7), dingtalk.ErrMalformedCardCallback, "field type is a JSON number"},
		{"a userId that is a number", []byte(`{"type":"actionCallback","outTrackId":"c","userId":42,"content":"{}"}`), dingtalk.ErrMalformedCardCallback, "field userId"},
		{"no outTrackId", []byte(`{"type":"actionCallback","userId":"u","content":` + asString(asString(stop)) + `}`), dingtalk.ErrMalformedCardCallback, "outTrackId"},
		{"an outTrackId over 100", []byte(`{"type":"actionCallback","outTrackId":"` + strings.Repeat("c", 101) + `","userId":"u","content":` + asString(asString(stop)) + `}`), dingtalk.ErrMalformedCardCallback, "outTrackId"},
		{"no userId", []byte(`{"type":"actionCallback","outTrackId":"c","content":` + asString(asString(stop)) + `}`), dingtalk.ErrMalformedCardCallback, "userId"},
		{"a huge userId", []byte(`{"type":"actionCallback","outTrackId":"c","userId":"` + strings.Repeat("u", 1<<16) + `","content":"{}"}`), dingtalk.ErrMalformedCardCallback, "userId"},
		{"neither content nor value", pressCallback(nil, nil), dingtalk.ErrMalformedCardCallback, "no content or value"},
		{"content that is text", pressCallback("stop", nil), dingtalk.ErrMalformedCardCallback, "neither an object nor a string of one"},
		{"content that is a number", pressCallback(7, nil), dingtalk.ErrMalformedCardCallback, "neither an object"},
		{"content without cardPrivateData", pressCallback(asString(map[string]any{"x": 1}), nil), dingtalk.ErrMalformedCardCallback, "no cardPrivateData"},
		{"params that are a list", pressCallback(asString(map[string]any{"cardPrivateData": map[string]any{"params": []string{"stop"}}}), nil), dingtalk.ErrMalformedCardCallback, "params is not an object"},
		{"content and value disagree", pressCallback(asString(stop), asString(like)), dingtalk.ErrMalformedCardCallback, "say different things"},
		{"a broken value beside a good content", pressCallback(asString(stop), "{"), dingtalk.ErrMalformedCardCallback, "value"},
		{"too many params", pressCallback(asString(private(tooMany)), nil), dingtalk.ErrMalformedCardCallback, "params"},
		{"a long param", pressCallback(asString(private(map[string]any{"action": "approve", "call": strings.Repeat("x", chat.MaxPressParamValue+1)})), nil), dingtalk.ErrMalformedCardCallback, "param"},
		{"no action", pressCallback(asString(private(map[string]any{"call": "c"})), nil), dingtalk.ErrUnknownCardAction, `""`},
		{"an unknown action", pressCallback(asString(private(map[string]any{"action": "launch"})), nil), dingtalk.ErrUnknownCardAction, "launch"},
		{"an action of another case", pressCallback(asString(private(map[string]any{"action": "STOP"})), nil), dingtalk.ErrUnknownCardAction, "STOP"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := dingtalk.ParseCardCallback(tt.body)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("ParseCardCallback = %v, want %v saying %q", err, tt.want, tt.says)
			}
		})
	}
}

func FuzzParseCardCallback(f *testing.F) {
	stop := asString(private(map[string]any{"action": "stop"}))
	deep := strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000)
	deepArray := strings.Repeat(`[`, 20000)
	for _, seed := range [][]byte{
		[]byte(sdkCapture),
		pressCallback(stop, stop),
		pressCallback(stop, asString(private(map[string]any{"action": "like"}))),
		pressCallback(asString(stop), nil), // a string of a string of JSON
		pressCallback(asString(asString(asString(asString(asString(stop))))), nil),
		pressCallback(private(map[string]any{"action": "approve", "call": strings.Repeat("界", 2000)}), nil),
		pressCallback(private(map[string]any{"action": "deny", "deep": json.RawMessage(deep)}), nil),
		pressCallback(json.RawMessage(deep), nil),
		[]byte(`{"type":"actionCallback","outTrackId":"c","userId":"u","content":` + deepArray + `}`),
		[]byte(`{"type":"actionCallback","outTrackId":"c","userId":"u","content":"` + strings.Repeat(`\"`, 5000) + `"}`),
		[]byte(`{"type":"actionCallback","outTrackId":"c","userId":"u","content":` + asString(stop)[:20]),
		[]byte(`{"type":"actionCallback","outTrackId":["c"],"userId":{"u":1},"content":true,"value":false}`),
		[]byte(`{"type":"actionCallback","outTrackId":"c\u0000","userId":"\ud800","content":` + asString(stop) + `}`),
		[]byte(strings.Repeat(" ", 1000)),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := dingtalk.ParseCardCallback(body)
		if err != nil {
			if !errors.Is(err, dingtalk.ErrMalformedCardCallback) && !errors.Is(err, dingtalk.ErrUnknownCardAction) {
				t.Fatalf("an error of no known kind: %v", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("a press that is not valid: %+v: %v", p, err)
		}
		if _, ok := p.Params["action"]; ok || len(p.CardID) > dingtalk.MaxOutTrackIDLen {
			t.Fatalf("a press out of bounds: %+v", p)
		}
	})
}
