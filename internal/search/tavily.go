package search

import (
	"encoding/json"
	"strings"
)

// tavilyRequest is the body of a Tavily search. Left out, search_depth is
// "basic", one credit a search.
func tavilyRequest(query string, count int) any {
	return struct {
		Query      string `json:"query"`
		MaxResults int    `json:"max_results"`
	}{query, count}
}

// parseTavily reads Tavily's answer, {"query", "results": [{"title", "url",
// "content", "score"}], ...}; a refusal is {"detail": {"error": "..."}}.
func parseTavily(status int, body []byte, count int) ([]Result, error) {
	envelope := object(body)
	if status/100 != 2 {
		msg := tavilyMessage(envelope)
		if msg == "" {
			msg = bodyText(body, status)
		}
		return nil, failure(status, msg)
	}
	raw, ok := envelope["results"]
	if !ok {
		return nil, notTheAPI("Tavily", status, body)
	}
	pages := array(raw)
	if pages == nil && strings.TrimSpace(string(raw)) != "null" {
		return nil, notTheAPI("Tavily", status, body)
	}
	return collect(pages, count, tavilyPage), nil
}

// tavilyMessage finds the message of a refusal: {"detail": {"error"}} as
// documented, {"detail": "..."} or {"detail": [{"msg"}]} as its framework
// (FastAPI) answers validation errors, {"error"} or {"message"} from a
// gateway.
func tavilyMessage(envelope map[string]json.RawMessage) string {
	detail := envelope["detail"]
	for _, msg := range []string{
		str(object(detail)["error"]),
		str(detail),
		str(object(first(array(detail)))["msg"]),
		str(envelope["error"]),
		str(object(envelope["error"])["message"]),
		str(envelope["message"]),
	} {
		if strings.TrimSpace(msg) != "" {
			return msg
		}
	}
	return ""
}

func first(a []json.RawMessage) json.RawMessage {
	if len(a) == 0 {
		return nil
	}
	return a[0]
}

// tavilyPage reads one of results. Tavily gives no site name; news results
// (topic "news") carry a published_date.
func tavilyPage(f map[string]json.RawMessage) (Result, bool) {
	return result(str(f["title"]), str(f["url"]), str(f["content"]), "", str(f["published_date"]))
}
