package search

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The services' answers are read leniently, member by member: a field of
// the wrong type is an empty field, a page of the wrong shape is skipped,
// and only an answer that is not the API's at all is an error.

// object returns the members of raw when it is a JSON object, else nil.
func object(raw []byte) map[string]json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

// array returns the elements of raw when it is a JSON array, else nil.
func array(raw []byte) []json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return nil
	}
	var a []json.RawMessage
	if json.Unmarshal(raw, &a) != nil {
		return nil
	}
	return a
}

// str returns raw's value when it is a JSON string, else "".
func str(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// code returns raw as an integer when it is a JSON integer or a string of
// one (Bocha's error bodies say "code": "403", its answers "code": 200).
func code(raw []byte) (int, bool) {
	text := strings.TrimSpace(string(raw))
	if s := str(raw); s != "" {
		text = strings.TrimSpace(s)
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 0 || n > 99999 {
		return 0, false
	}
	return n, true
}

// collect turns pages into at most count results, skipping the pages that
// cannot be shown and the repeats of a URL.
func collect(pages []json.RawMessage, count int, page func(map[string]json.RawMessage) (Result, bool)) []Result {
	results := make([]Result, 0, min(len(pages), count))
	seen := make(map[string]bool, cap(results))
	for _, raw := range pages {
		if len(results) == count {
			break
		}
		fields := object(raw)
		if fields == nil {
			continue
		}
		r, ok := page(fields)
		if !ok || seen[r.URL] {
			continue
		}
		seen[r.URL] = true
		results = append(results, r)
	}
	return results
}

// failure classifies a refusal by its status (HTTP, or the code in the
// body), as both services document theirs (docs/protocols.md §17):
// 401 and 403 a refused key, 429 too many requests, 402, 432 and 433 an
// exhausted balance or plan, 400 and 422 a refused request, 5xx the
// service failing. Anything else (404, a redirect) means the endpoint is
// not the API.
func failure(status int, msg string) *Error {
	e := &Error{StatusCode: status, Message: msg}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind = ErrUnauthorized
	case status == http.StatusTooManyRequests:
		e.Kind = ErrRateLimited
	case status == http.StatusPaymentRequired || status == 432 || status == 433:
		e.Kind, e.Reason = ErrRateLimited, ErrOutOfCredit
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		e.Kind = ErrBadQuery
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		e.Kind, e.Reason = ErrUnavailable, ErrTimeout
	case status >= 500:
		e.Kind = ErrUnavailable
	default:
		e.Kind = ErrUnavailable
		e.Message = strings.TrimSpace(msg + " (not an answer of the search API; check SEARCH_ENDPOINT)")
	}
	return e
}

// notTheAPI is the error for an answer that is not the service's JSON: a
// gateway's page, a truncated body, another API.
func notTheAPI(provider string, status int, body []byte) *Error {
	return &Error{Kind: ErrUnavailable, StatusCode: status,
		Message: fmt.Sprintf("the answer is not %s's (it starts %q); check SEARCH_ENDPOINT", provider, truncateBytes(cleanText(string(body[:min(len(body), 200)]), 40), 60))}
}

// bodyText is what a refusal's body says when it is not the JSON the
// service documents: its text when plain, nothing when a page or JSON.
func bodyText(body []byte, status int) string {
	text := cleanText(string(body[:min(len(body), 2*maxMessageBytes)]), maxMessageBytes)
	if text == "" || strings.HasPrefix(text, "<") || strings.HasPrefix(text, "{") || strings.HasPrefix(text, "[") {
		return http.StatusText(status)
	}
	return text
}
