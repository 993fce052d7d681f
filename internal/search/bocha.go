package search

import (
	"encoding/json"
	"net/http"
	"strings"
)

// bochaRequest is the body of a Bocha web search: with summary, each page
// comes with a longer abstract than its snippet.
func bochaRequest(query string, count int) any {
	return struct {
		Query   string `json:"query"`
		Summary bool   `json:"summary"`
		Count   int    `json:"count"`
	}{query, true, count}
}

// parseBocha reads Bocha's answer. Bocha wraps it as {"code": 200, "msg",
// "data": {"webPages": {"value": [...]}}} and says a failure twice, in the
// HTTP status and in the body's code ({"code": "403", "message": "You do
// not have enough money"}); either one failing fails the search.
func parseBocha(status int, body []byte, count int) ([]Result, error) {
	envelope := object(body)
	bodyCode, hasCode := code(envelope["code"])
	msg := str(envelope["msg"])
	if msg == "" {
		msg = str(envelope["message"])
	}
	switch {
	case status/100 != 2:
		if msg == "" {
			msg = bodyText(body, status)
		}
		return nil, bochaFailure(status, bodyCode, msg)
	case envelope == nil:
		return nil, notTheAPI("Bocha", status, body)
	case hasCode && bodyCode != 200:
		return nil, bochaFailure(status, bodyCode, msg)
	}
	data, hasData := envelope["data"]
	if !hasData && !hasCode {
		return nil, notTheAPI("Bocha", status, body)
	}
	pages := array(object(object(data)["webPages"])["value"])
	return collect(pages, count, bochaPage), nil
}

// bochaFailure classifies a refusal of Bocha's. Bocha answers a request
// without a key with 400 "The API KEY is missing", and an exhausted
// balance with 403 "You do not have enough money".
func bochaFailure(status, bodyCode int, msg string) *Error {
	effective := status
	if status/100 == 2 {
		effective = bodyCode
	}
	e := failure(effective, msg)
	e.StatusCode = status
	if bodyCode != status {
		e.Code = bodyCode
	}
	lower := strings.ToLower(msg)
	switch {
	case effective == http.StatusForbidden:
		e.Kind, e.Reason = ErrRateLimited, ErrOutOfCredit
	case effective == http.StatusBadRequest && strings.Contains(lower, "api key"):
		e.Kind = ErrUnauthorized
	}
	return e
}

// bochaPage reads one of data.webPages.value.
func bochaPage(f map[string]json.RawMessage) (Result, bool) {
	snippet := str(f["summary"])
	if strings.TrimSpace(snippet) == "" {
		snippet = str(f["snippet"])
	}
	// Bocha's own documentation says dateLastCrawled holds the publication
	// date, for compatibility with Bing's shape; later answers add
	// datePublished.
	published := str(f["datePublished"])
	if strings.TrimSpace(published) == "" {
		published = str(f["dateLastCrawled"])
	}
	return result(str(f["name"]), str(f["url"]), snippet, str(f["siteName"]), published)
}
