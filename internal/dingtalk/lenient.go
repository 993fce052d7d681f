package dingtalk

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Reading what DingTalk documents loosely, or not at all (docs/protocols.md
// §1, shapes seen in the field): a value may be of another JSON type than
// the one seen, null, absent, a JSON text inside a string, or huge. These
// helpers read such a value for what it can be, and nothing more; none of
// them fails.

// maxUnwrap is how many times a value may be JSON text inside a JSON string
// ("content": "{\"richText\": ...}") and still be read as that JSON.
const maxUnwrap = 4

// unwrapJSON returns the JSON a string value holds, when it holds an object,
// an array or another string of JSON, up to maxUnwrap levels; any other
// value, and a string holding text that is not JSON, comes back as it is.
func unwrapJSON(raw json.RawMessage) json.RawMessage {
	for range maxUnwrap {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || raw[0] != '"' {
			return raw
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return raw
		}
		t := strings.TrimSpace(s)
		if t == "" || (t[0] != '{' && t[0] != '[' && t[0] != '"') || !json.Valid([]byte(t)) {
			return raw
		}
		raw = json.RawMessage(t)
	}
	return raw
}

// object reads raw as a JSON object (unwrapped from a string if need be);
// anything else is an empty object.
func object(raw json.RawMessage) map[string]json.RawMessage {
	raw = unwrapJSON(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

// array reads at most max items of raw as a JSON array (unwrapped from a
// string if need be); anything else has no items. Items past max are not
// decoded.
func array(raw json.RawMessage, max int) []json.RawMessage {
	raw = unwrapJSON(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil
	}
	var items []json.RawMessage
	for len(items) < max && dec.More() {
		var item json.RawMessage
		if dec.Decode(&item) != nil {
			return items
		}
		items = append(items, item)
	}
	return items
}

// str reads a JSON string, trimmed, or a number as its decimal text; any
// other value is "".
func str(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return strings.TrimSpace(s)
	case c == '-' || (c >= '0' && c <= '9'):
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return ""
		}
		return n.String()
	}
	return ""
}

// first is the first of keys that m holds as non-empty text.
func first(m map[string]json.RawMessage, keys ...string) string {
	for _, k := range keys {
		if s := str(m[k]); s != "" {
			return s
		}
	}
	return ""
}

// number reads a JSON number or a decimal string as a non-negative number;
// ok is false for anything else.
func number(raw json.RawMessage) (n float64, ok bool) {
	s := str(raw)
	if s == "" {
		return 0, false
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, false
	}
	return n, true
}

// flag reads a JSON boolean, or the string "true".
func flag(raw json.RawMessage) bool {
	switch s := string(bytes.TrimSpace(raw)); s {
	case "true", `"true"`:
		return true
	}
	return false
}
