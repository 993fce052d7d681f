// Package searchtest has fakes of the Bocha and Tavily web search APIs.
//
// Each fake is an http.Handler (for httptest.NewServer, or
// pipenet.Start for a test in a testing/synctest bubble) that answers as
// the real service does, in its JSON shapes and with its error bodies
// (docs/protocols.md §17): it wants the Bearer key, refuses
// a missing or empty query and an out-of-range count with 400, and finds
// for each query the same pages (Pages), so that a test can check that an
// answer cites them. A test can make it fail (SetFault), serve pages of
// its own (SetPages), hold searches in flight until it lets them go
// (Hold), and read every search it received (Searches).
package searchtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"time"
)

// Page is a web page the fake finds.
type Page struct {
	Title   string
	URL     string
	Snippet string
	// Summary is the longer abstract Bocha gives when asked for one.
	Summary string
	Site    string
	// Published is an RFC 3339 time, as Bocha's datePublished.
	Published string
}

// Pages returns the n pages the fakes find for query: the same for the
// same query, each with a title, snippet and summary that quote it and a
// URL of its own under https://example.com/.
func Pages(query string, n int) []Page {
	sum := sha256.Sum256([]byte(query))
	id := hex.EncodeToString(sum[:4])
	day := time.Date(2025, 6, 30, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))
	pages := make([]Page, 0, max(n, 0))
	for i := 1; i <= n; i++ {
		pages = append(pages, Page{
			Title:     fmt.Sprintf("%s：第 %d 条结果", query, i),
			URL:       fmt.Sprintf("https://example.com/%s/%d", id, i),
			Snippet:   fmt.Sprintf("关于「%s」的第 %d 个网页的摘要。", query, i),
			Summary:   fmt.Sprintf("关于「%s」的第 %d 个网页的详细摘要：这里是页面正文的要点。", query, i),
			Site:      fmt.Sprintf("示例网站 %d", i),
			Published: day.AddDate(0, 0, 1-i).Format(time.RFC3339),
		})
	}
	return pages
}

// Fault is a way for the fake to fail, as the real service does.
type Fault int

const (
	// NoFault answers searches.
	NoFault Fault = iota
	// RateLimited answers 429 with the service's body.
	RateLimited
	// OutOfCredit answers as the service does for an exhausted account:
	// Bocha 403 "You do not have enough money", Tavily 432 (plan limit).
	OutOfCredit
	// ServerError answers 500 with the service's body.
	ServerError
	// Garbage answers 200 with an HTML page, as a gateway in the way does.
	Garbage
	// DropConnection closes the connection without answering.
	DropConnection
)

// Search is one search request the fake received.
type Search struct {
	// Query is the body's query ("" when missing or not a string).
	Query string
	// Count is Bocha's count or Tavily's max_results; -1 when the body
	// had none, or not a whole number.
	Count int
	// Summary is Bocha's summary.
	Summary bool
	// Method, Path, Authorization and ContentType are the request's.
	Method        string
	Path          string
	Authorization string
	ContentType   string
	// Body is the body as it arrived.
	Body []byte
}

// Server is a fake search API.
type Server struct {
	api    api
	apiKey string
	mux    *http.ServeMux
	done   chan struct{}
	once   sync.Once

	mu        sync.Mutex
	fault     Fault
	pages     func(query string, n int) []Page
	hold      *Hold
	searches  []Search
	abandoned int
	answered  int
}

// api is what differs between the fakes.
type api struct {
	name         string
	path         string
	defaultCount int
	countKey     string
	// check refuses what the service refuses in a body; "" accepts it.
	check func(s Search, fields map[string]json.RawMessage) string
	// authorize refuses a request without the key, as the service does;
	// false when it answered.
	authorize func(w http.ResponseWriter, s *Server, header string) bool
	// refuse answers a refusal of status with msg in the service's shape.
	refuse func(w http.ResponseWriter, s *Server, status int, msg string)
	// fault answers f.
	fault func(w http.ResponseWriter, s *Server, f Fault)
	// answer answers a search with pages.
	answer func(w http.ResponseWriter, s *Server, search Search, pages []Page)
}

func newServer(a api, apiKey string) *Server {
	s := &Server{api: a, apiKey: apiKey, done: make(chan struct{}), pages: Pages}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST "+a.path, s.handleSearch)
	s.mux.HandleFunc(a.path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		s.api.refuse(w, s, http.StatusMethodNotAllowed, "Method Not Allowed")
	})
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.api.refuse(w, s, http.StatusNotFound, "Not Found")
	})
	return s
}

// ServeHTTP answers as the service does.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close ends the waits of held searches, dropping their connections: call
// it before closing the httptest server, which waits for them.
func (s *Server) Close() { s.once.Do(func() { close(s.done) }) }

// SetFault makes the searches that follow fail as f says; NoFault ends it.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// SetPages makes the fake find pages(query, n) for the searches that
// follow, where n is the count asked for; nil restores Pages. A page of
// pages is sent as it is: a test can serve hostile ones.
func (s *Server) SetPages(pages func(query string, n int) []Page) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pages == nil {
		pages = Pages
	}
	s.pages = pages
}

// Searches returns every search received, in order, answered or not.
func (s *Server) Searches() []Search {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Search(nil), s.searches...)
}

// Queries returns the query of every search received, in order.
func (s *Server) Queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	queries := make([]string, len(s.searches))
	for i, search := range s.searches {
		queries[i] = search.Query
	}
	return queries
}

// Answered counts the searches answered with results (or with none).
func (s *Server) Answered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answered
}

// Abandoned counts the searches whose client went away while they were
// held.
func (s *Server) Abandoned() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.abandoned
}

// Hold is a gate: the searches that arrive while it is closed wait, after
// they are recorded and before they are answered, until it is released.
type Hold struct {
	arrived  chan string
	released chan struct{}
	once     sync.Once
}

// Hold closes a new gate for the searches that follow.
func (s *Server) Hold() *Hold {
	h := &Hold{arrived: make(chan string, 64), released: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = h
	return h
}

// Arrived delivers the query of each search as it starts to wait.
func (h *Hold) Arrived() <-chan string { return h.arrived }

// Release lets the held searches, and those that follow, through. It may
// be called more than once.
func (h *Hold) Release() { h.once.Do(func() { close(h.released) }) }

// wait holds a search at the gate; false when the client went away or the
// fake closed.
func (h *Hold) wait(ctx context.Context, done <-chan struct{}, query string) bool {
	select {
	case <-h.released:
		return true
	default:
	}
	select {
	case h.arrived <- query:
	default:
	}
	select {
	case <-h.released:
		return true
	case <-ctx.Done():
	case <-done:
	}
	return false
}

// maxBody bounds the request body the fake reads.
const maxBody = 1 << 20

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return
	}
	search := Search{
		Count: -1, Method: r.Method, Path: r.URL.Path, Authorization: r.Header.Get("Authorization"),
		ContentType: r.Header.Get("Content-Type"), Body: body,
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) == nil {
		_ = json.Unmarshal(fields["query"], &search.Query)
		if c, ok := integer(fields[s.api.countKey]); ok {
			search.Count = c
		}
		_ = json.Unmarshal(fields["summary"], &search.Summary)
	}

	s.mu.Lock()
	s.searches = append(s.searches, search)
	hold, fault, pages := s.hold, s.fault, s.pages
	s.mu.Unlock()

	if hold != nil && !hold.wait(r.Context(), s.done, search.Query) {
		select {
		case <-s.done:
			// Closed: the client sees the connection drop, not an answer.
			panic(http.ErrAbortHandler)
		default:
		}
		s.mu.Lock()
		s.abandoned++
		s.mu.Unlock()
		return
	}
	if !s.api.authorize(w, s, search.Authorization) {
		return
	}
	if fields == nil {
		s.api.refuse(w, s, http.StatusBadRequest, "Invalid JSON body")
		return
	}
	if msg := s.api.check(search, fields); msg != "" {
		s.api.refuse(w, s, http.StatusBadRequest, msg)
		return
	}
	if fault == DropConnection {
		dropConnection(w)
		return
	}
	if fault != NoFault {
		s.api.fault(w, s, fault)
		return
	}
	n := search.Count
	if n < 0 {
		n = s.api.defaultCount
	}
	s.mu.Lock()
	s.answered++
	s.mu.Unlock()
	s.api.answer(w, s, search, pages(search.Query, n))
}

// integer returns raw when it is a JSON integer of a sane size.
func integer(raw json.RawMessage) (int, bool) {
	var f float64
	if raw == nil || json.Unmarshal(raw, &f) != nil || f != math.Trunc(f) || f < 0 || f > 1<<20 {
		return 0, false
	}
	return int(f), true
}

// bearer reports whether header carries the key.
func (s *Server) bearer(header string) bool {
	return s.apiKey != "" && header == "Bearer "+s.apiKey
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// garbagePage is what a gateway in front of the service answers.
const garbagePage = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n"

func writeGarbage(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, garbagePage)
}

// dropConnection closes the connection under the request.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}
