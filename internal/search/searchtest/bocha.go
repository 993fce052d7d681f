package searchtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// NewBocha returns a fake of Bocha's web search API (POST /v1/web-search)
// that accepts apiKey as the Bearer key. Its base URL is the httptest
// server's.
func NewBocha(apiKey string) *Server {
	return newServer(api{
		name: "bocha", path: "/v1/web-search", countKey: "count",
		defaultCount: 10,
		check:        bochaCheck, authorize: bochaAuthorize, refuse: bochaRefuse, fault: bochaFault, answer: bochaAnswer,
	}, apiKey)
}

func bochaCheck(s Search, fields map[string]json.RawMessage) string {
	if strings.TrimSpace(s.Query) == "" {
		return "Missing parameter query"
	}
	if raw, ok := fields["count"]; ok && string(raw) != "null" {
		if n, ok := integer(raw); !ok || n < 1 || n > 50 {
			return "Parameter count must be between 1 and 50"
		}
	}
	return ""
}

// bochaAuthorize refuses as Bocha's documentation says: a request without
// the header with 400 "The API KEY is missing", a wrong key with 401
// "Invalid API KEY".
func bochaAuthorize(w http.ResponseWriter, s *Server, header string) bool {
	switch {
	case s.bearer(header):
		return true
	case strings.TrimSpace(strings.TrimPrefix(header, "Bearer")) == "":
		bochaRefuse(w, s, http.StatusBadRequest, "The API KEY is missing")
	default:
		bochaRefuse(w, s, http.StatusUnauthorized, "Invalid API KEY")
	}
	return false
}

// bochaError is Bocha's error body: the code a string, the text in
// "message" (its answers say "msg").
type bochaError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	LogID   string `json:"log_id"`
}

func bochaRefuse(w http.ResponseWriter, s *Server, status int, msg string) {
	writeJSON(w, status, bochaError{Code: fmt.Sprint(status), Message: msg, LogID: s.logID()})
}

func bochaFault(w http.ResponseWriter, s *Server, f Fault) {
	switch f {
	case RateLimited:
		bochaRefuse(w, s, http.StatusTooManyRequests, "You have reached the request limit")
	case OutOfCredit:
		bochaRefuse(w, s, http.StatusForbidden, "You do not have enough money")
	case Garbage:
		writeGarbage(w)
	default:
		bochaRefuse(w, s, http.StatusInternalServerError, "Internal Server Error")
	}
}

// The shapes of Bocha's answer, in its order of fields.
type (
	bochaAnswerBody struct {
		Code  int       `json:"code"`
		LogID string    `json:"log_id"`
		Msg   *string   `json:"msg"`
		Data  bochaData `json:"data"`
	}
	bochaData struct {
		Type         string            `json:"_type"`
		QueryContext map[string]string `json:"queryContext"`
		WebPages     bochaWebPages     `json:"webPages"`
		Images       any               `json:"images"`
		Videos       any               `json:"videos"`
	}
	bochaWebPages struct {
		WebSearchURL          string      `json:"webSearchUrl"`
		TotalEstimatedMatches int         `json:"totalEstimatedMatches"`
		Value                 []bochaPage `json:"value"`
		SomeResultsRemoved    bool        `json:"someResultsRemoved"`
	}
	bochaPage struct {
		ID               *string `json:"id"`
		Name             string  `json:"name"`
		URL              string  `json:"url"`
		DisplayURL       string  `json:"displayUrl"`
		Snippet          string  `json:"snippet"`
		Summary          *string `json:"summary,omitempty"`
		SiteName         string  `json:"siteName"`
		SiteIcon         string  `json:"siteIcon"`
		DatePublished    string  `json:"datePublished"`
		DateLastCrawled  string  `json:"dateLastCrawled"`
		CachedPageURL    *string `json:"cachedPageUrl"`
		Language         *string `json:"language"`
		IsFamilyFriendly *bool   `json:"isFamilyFriendly"`
		IsNavigational   *bool   `json:"isNavigational"`
	}
)

func bochaAnswer(w http.ResponseWriter, s *Server, search Search, pages []Page) {
	value := make([]bochaPage, 0, len(pages))
	for _, p := range pages {
		page := bochaPage{
			Name: p.Title, URL: p.URL, DisplayURL: p.URL, Snippet: p.Snippet, SiteName: p.Site,
			SiteIcon:      "https://th.bochaai.com/favicon?domain_url=" + p.URL,
			DatePublished: p.Published, DateLastCrawled: p.Published,
		}
		if search.Summary {
			summary := p.Summary
			page.Summary = &summary
		}
		value = append(value, page)
	}
	writeJSON(w, http.StatusOK, bochaAnswerBody{
		Code: 200, LogID: s.logID(),
		Data: bochaData{
			Type:         "SearchResponse",
			QueryContext: map[string]string{"originalQuery": search.Query},
			WebPages:     bochaWebPages{TotalEstimatedMatches: 1000 * len(value), Value: value},
		},
	})
}

// logID is the log_id of an answer: Bocha's are 16 hex digits.
func (s *Server) logID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%016x", len(s.searches))
}
