package searchtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// NewTavily returns a fake of Tavily's search API (POST /search) that
// accepts apiKey as the Bearer key. Its base URL is the httptest server's.
func NewTavily(apiKey string) *Server {
	return newServer(api{
		name: "tavily", path: "/search", countKey: "max_results",
		defaultCount: 5,
		check:        tavilyCheck, authorize: tavilyAuthorize, refuse: tavilyRefuse, fault: tavilyFault, answer: tavilyAnswer,
	}, apiKey)
}

func tavilyCheck(s Search, fields map[string]json.RawMessage) string {
	switch {
	case strings.TrimSpace(s.Query) == "":
		return "Query is missing or empty."
	case utf8.RuneCountInString(s.Query) > 400:
		return "Query is too long. Max query length is 400 characters."
	}
	if raw, ok := fields["max_results"]; ok && string(raw) != "null" {
		if n, ok := integer(raw); !ok || n > 20 {
			return "max_results must be an integer between 0 and 20."
		}
	}
	return ""
}

func tavilyAuthorize(w http.ResponseWriter, s *Server, header string) bool {
	if s.bearer(header) {
		return true
	}
	tavilyRefuse(w, s, http.StatusUnauthorized, "Unauthorized: missing or invalid API key.")
	return false
}

// tavilyError is Tavily's error body.
type tavilyError struct {
	Detail struct {
		Error string `json:"error"`
	} `json:"detail"`
}

func tavilyRefuse(w http.ResponseWriter, _ *Server, status int, msg string) {
	var e tavilyError
	e.Detail.Error = msg
	writeJSON(w, status, e)
}

func tavilyFault(w http.ResponseWriter, s *Server, f Fault) {
	switch f {
	case RateLimited:
		tavilyRefuse(w, s, http.StatusTooManyRequests, "Your request has been blocked due to excessive requests. Please reduce rate of requests.")
	case OutOfCredit:
		tavilyRefuse(w, s, 432, "This request exceeds your plan's set usage limit. Please upgrade your plan or contact support@tavily.com")
	case Garbage:
		writeGarbage(w)
	default:
		tavilyRefuse(w, s, http.StatusInternalServerError, "Internal Server Error")
	}
}

// The shapes of Tavily's answer.
type (
	tavilyAnswerBody struct {
		Query             string         `json:"query"`
		FollowUpQuestions any            `json:"follow_up_questions"`
		Answer            *string        `json:"answer"`
		Images            []any          `json:"images"`
		Results           []tavilyResult `json:"results"`
		ResponseTime      float64        `json:"response_time"`
		RequestID         string         `json:"request_id"`
	}
	tavilyResult struct {
		URL        string  `json:"url"`
		Title      string  `json:"title"`
		Content    string  `json:"content"`
		Score      float64 `json:"score"`
		RawContent *string `json:"raw_content"`
	}
)

func tavilyAnswer(w http.ResponseWriter, s *Server, search Search, pages []Page) {
	results := make([]tavilyResult, 0, len(pages))
	for i, p := range pages {
		results = append(results, tavilyResult{URL: p.URL, Title: p.Title, Content: p.Snippet, Score: 0.9 - 0.01*float64(i)})
	}
	s.mu.Lock()
	id := fmt.Sprintf("00000000-0000-4000-8000-%012x", len(s.searches))
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, tavilyAnswerBody{
		Query: search.Query, Images: []any{}, Results: results, ResponseTime: 0.42, RequestID: id,
	})
}
