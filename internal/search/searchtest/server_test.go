package searchtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/search/searchtest"
)

const key = "sk-fake"

type reply struct {
	status int
	body   map[string]any
	raw    string
}

// post sends body to the fake as a client of the real API would. It may
// run on a goroutine of its own.
func post(t *testing.T, ts *httptest.Server, path, auth, body string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return reply{}
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Error(err)
		return reply{}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func start(t *testing.T, fake *searchtest.Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	t.Cleanup(fake.Close)
	return ts
}

// get follows path (keys and indexes) into v.
func get(v any, path ...any) any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[p]
		case int:
			a, _ := v.([]any)
			if p >= len(a) {
				return nil
			}
			v = a[p]
		}
	}
	return v
}

func TestBochaAnswersInItsShape(t *testing.T) {
	fake := searchtest.NewBocha(key)
	ts := start(t, fake)
	r := post(t, ts, "/v1/web-search", "Bearer "+key, `{"query":"阿里巴巴 ESG","summary":true,"count":3}`)
	if r.status != 200 || get(r.body, "code") != 200.0 || get(r.body, "msg") != nil {
		t.Fatalf("answer %d %s", r.status, r.raw)
	}
	if !strings.Contains(r.raw, `"msg":null`) || len(get(r.body, "log_id").(string)) != 16 {
		t.Errorf("envelope %s", r.raw)
	}
	value := get(r.body, "data", "webPages", "value").([]any)
	pages := searchtest.Pages("阿里巴巴 ESG", 3)
	if len(value) != 3 {
		t.Fatalf("%d pages, want 3", len(value))
	}
	for i, p := range pages {
		v := value[i]
		for field, want := range map[string]string{"name": p.Title, "url": p.URL, "snippet": p.Snippet, "summary": p.Summary, "siteName": p.Site, "datePublished": p.Published, "dateLastCrawled": p.Published} {
			if got := get(v, field); got != want {
				t.Errorf("page %d %s = %v, want %q", i, field, got, want)
			}
		}
	}
	if get(r.body, "data", "queryContext", "originalQuery") != "阿里巴巴 ESG" || get(r.body, "data", "_type") != "SearchResponse" {
		t.Errorf("data %s", r.raw)
	}

	// Without summary, no summary; without count, Bocha's default of 10.
	r = post(t, ts, "/v1/web-search", "Bearer "+key, `{"query":"q"}`)
	value = get(r.body, "data", "webPages", "value").([]any)
	if len(value) != 10 || get(value[0], "summary") != nil {
		t.Errorf("default answer %d pages, summary %v", len(value), get(value[0], "summary"))
	}
}

func TestBochaRefusesAsBochaDoes(t *testing.T) {
	tests := []struct {
		name, auth, body string
		status           int
		message          string
	}{
		{"no key", "", `{"query":"q"}`, 400, "The API KEY is missing"},
		{"empty bearer", "Bearer ", `{"query":"q"}`, 400, "The API KEY is missing"},
		{"wrong key", "Bearer sk-other", `{"query":"q"}`, 401, "Invalid API KEY"},
		{"not bearer", key, `{"query":"q"}`, 401, "Invalid API KEY"},
		{"no query", "Bearer " + key, `{"count":5}`, 400, "Missing parameter query"},
		{"empty query", "Bearer " + key, `{"query":"  "}`, 400, "Missing parameter query"},
		{"query not a string", "Bearer " + key, `{"query":5}`, 400, "Missing parameter query"},
		{"count 0", "Bearer " + key, `{"query":"q","count":0}`, 400, "count"},
		{"count 51", "Bearer " + key, `{"query":"q","count":51}`, 400, "count"},
		{"count fraction", "Bearer " + key, `{"query":"q","count":2.5}`, 400, "count"},
		{"count string", "Bearer " + key, `{"query":"q","count":"5"}`, 400, "count"},
		{"not JSON", "Bearer " + key, `query=q`, 400, "JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := start(t, searchtest.NewBocha(key))
			r := post(t, ts, "/v1/web-search", tt.auth, tt.body)
			if r.status != tt.status || get(r.body, "code") != itoa(tt.status) ||
				!strings.Contains(get(r.body, "message").(string), tt.message) {
				t.Errorf("answer %d %s, want %d with code %q and message %q", r.status, r.raw, tt.status, itoa(tt.status), tt.message)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestTavilyAnswersInItsShape(t *testing.T) {
	ts := start(t, searchtest.NewTavily(key))
	r := post(t, ts, "/search", "Bearer "+key, `{"query":"Who is Leo Messi?","max_results":2}`)
	if r.status != 200 || get(r.body, "query") != "Who is Leo Messi?" || get(r.body, "request_id") == nil {
		t.Fatalf("answer %d %s", r.status, r.raw)
	}
	results := get(r.body, "results").([]any)
	for i, p := range searchtest.Pages("Who is Leo Messi?", 2) {
		for field, want := range map[string]string{"title": p.Title, "url": p.URL, "content": p.Snippet} {
			if got := get(results[i], field); got != want {
				t.Errorf("result %d %s = %v, want %q", i, field, got, want)
			}
		}
		if _, ok := get(results[i], "score").(float64); !ok {
			t.Errorf("result %d has no score", i)
		}
	}
	if len(results) != 2 {
		t.Errorf("%d results, want 2", len(results))
	}
	// Without max_results, Tavily's default of 5; 0 is allowed.
	if r := post(t, ts, "/search", "Bearer "+key, `{"query":"q"}`); len(get(r.body, "results").([]any)) != 5 {
		t.Errorf("default answer %s", r.raw)
	}
	if r := post(t, ts, "/search", "Bearer "+key, `{"query":"q","max_results":0}`); r.status != 200 || len(get(r.body, "results").([]any)) != 0 {
		t.Errorf("max_results 0: %d %s", r.status, r.raw)
	}
}

func TestTavilyRefusesAsTavilyDoes(t *testing.T) {
	tests := []struct {
		name, auth, body string
		status           int
		message          string
	}{
		{"no key", "", `{"query":"q"}`, 401, "Unauthorized: missing or invalid API key."},
		{"wrong key", "Bearer tvly-other", `{"query":"q"}`, 401, "Unauthorized"},
		{"no query", "Bearer " + key, `{}`, 400, "Query is missing"},
		{"long query", "Bearer " + key, `{"query":"` + strings.Repeat("长", 401) + `"}`, 400, "Max query length is 400 characters"},
		{"max_results 21", "Bearer " + key, `{"query":"q","max_results":21}`, 400, "max_results"},
		{"max_results negative", "Bearer " + key, `{"query":"q","max_results":-1}`, 400, "max_results"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := start(t, searchtest.NewTavily(key))
			r := post(t, ts, "/search", tt.auth, tt.body)
			msg, _ := get(r.body, "detail", "error").(string)
			if r.status != tt.status || !strings.Contains(msg, tt.message) {
				t.Errorf("answer %d %s, want %d with detail.error %q", r.status, r.raw, tt.status, tt.message)
			}
		})
	}
	ts := start(t, searchtest.NewTavily(key))
	if r := post(t, ts, "/search", "Bearer "+key, `{"query":"`+strings.Repeat("长", 400)+`"}`); r.status != 200 {
		t.Errorf("a query of 400 characters: %d %s", r.status, r.raw)
	}
}

func TestFaultsAnswerAsTheServicesDo(t *testing.T) {
	tests := []struct {
		fault         searchtest.Fault
		bocha, tavily int
		bochaMessage  string
		tavilyMessage string
	}{
		{searchtest.RateLimited, 429, 429, "You have reached the request limit", "excessive requests"},
		{searchtest.OutOfCredit, 403, 432, "You do not have enough money", "usage limit"},
		{searchtest.ServerError, 500, 500, "Internal Server Error", "Internal Server Error"},
	}
	for _, tt := range tests {
		bocha := searchtest.NewBocha(key)
		bocha.SetFault(tt.fault)
		r := post(t, start(t, bocha), "/v1/web-search", "Bearer "+key, `{"query":"q"}`)
		if r.status != tt.bocha || get(r.body, "code") != itoa(tt.bocha) || get(r.body, "message") != tt.bochaMessage {
			t.Errorf("bocha fault %d: %d %s", tt.fault, r.status, r.raw)
		}
		tavily := searchtest.NewTavily(key)
		tavily.SetFault(tt.fault)
		r = post(t, start(t, tavily), "/search", "Bearer "+key, `{"query":"q"}`)
		if msg, _ := get(r.body, "detail", "error").(string); r.status != tt.tavily || !strings.Contains(msg, tt.tavilyMessage) {
			t.Errorf("tavily fault %d: %d %s", tt.fault, r.status, r.raw)
		}
		// A key refused is refused before any fault.
		if r := post(t, start(t, tavily), "/search", "", `{"query":"q"}`); r.status != 401 {
			t.Errorf("tavily fault %d without a key: %d", tt.fault, r.status)
		}
		tavily.SetFault(searchtest.NoFault)
		if r := post(t, start(t, tavily), "/search", "Bearer "+key, `{"query":"q"}`); r.status != 200 {
			t.Errorf("NoFault after fault %d: %d", tt.fault, r.status)
		}
	}

	for path, fake := range map[string]*searchtest.Server{"/v1/web-search": searchtest.NewBocha(key), "/search": searchtest.NewTavily(key)} {
		ts := start(t, fake)
		fake.SetFault(searchtest.Garbage)
		if r := post(t, ts, path, "Bearer "+key, `{"query":"q"}`); r.status != 200 || !strings.HasPrefix(r.raw, "<html>") {
			t.Errorf("garbage: %d %q", r.status, r.raw)
		}
		fake.SetFault(searchtest.DropConnection)
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(`{"query":"q"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		if resp, err := ts.Client().Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("DropConnection answered %d", resp.StatusCode)
		}
	}
}

func TestFakesRecordEverySearch(t *testing.T) {
	fake := searchtest.NewBocha(key)
	ts := start(t, fake)
	post(t, ts, "/v1/web-search", "Bearer "+key, `{"query":"一","count":3,"summary":true}`)
	post(t, ts, "/v1/web-search", "Bearer wrong", `{"query":"二"}`)
	post(t, ts, "/v1/web-search", "Bearer "+key, `not json`)
	if got, want := fake.Queries(), []string{"一", "二", ""}; !reflect.DeepEqual(got, want) {
		t.Errorf("Queries %q, want %q", got, want)
	}
	s := fake.Searches()
	if s[0].Count != 3 || !s[0].Summary || s[1].Count != -1 || s[1].Authorization != "Bearer wrong" || s[2].Body == nil {
		t.Errorf("Searches %+v", s)
	}
	if fake.Answered() != 1 {
		t.Errorf("Answered %d, want 1", fake.Answered())
	}
}

func TestPagesDependOnTheQueryAlone(t *testing.T) {
	a, b := searchtest.Pages("同一个问题", 3), searchtest.Pages("同一个问题", 3)
	if !reflect.DeepEqual(a, b) {
		t.Error("two searches of one query found different pages")
	}
	c := searchtest.Pages("另一个问题", 3)
	for i := range a {
		if a[i].URL == c[i].URL || !strings.Contains(a[i].Title, "同一个问题") || !strings.HasPrefix(a[i].URL, "https://example.com/") {
			t.Errorf("page %d: %+v vs %+v", i, a[i], c[i])
		}
	}
	if len(searchtest.Pages("q", 0)) != 0 || len(searchtest.Pages("q", 50)) != 50 {
		t.Error("Pages does not find n pages")
	}
}

func TestFakesServeOnlyTheirAPI(t *testing.T) {
	ts := start(t, searchtest.NewBocha(key))
	if r := post(t, ts, "/search", "Bearer "+key, `{"query":"q"}`); r.status != 404 {
		t.Errorf("Bocha's fake answered Tavily's path: %d", r.status)
	}
	resp, err := ts.Client().Get(ts.URL + "/v1/web-search")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET answered %d", resp.StatusCode)
	}
}

func TestHoldKeepsSearchesUntilReleased(t *testing.T) {
	fake := searchtest.NewTavily(key)
	ts := start(t, fake)
	hold := fake.Hold()
	done := make(chan reply)
	go func() { done <- post(t, ts, "/search", "Bearer "+key, `{"query":"等"}`) }()
	if q := <-hold.Arrived(); q != "等" {
		t.Errorf("held %q", q)
	}
	if fake.Answered() != 0 || len(fake.Queries()) != 1 {
		t.Errorf("a held search: answered %d, recorded %d", fake.Answered(), len(fake.Queries()))
	}
	hold.Release()
	if r := <-done; r.status != 200 {
		t.Errorf("released search answered %d", r.status)
	}
	// Released, the gate stays open.
	if r := post(t, ts, "/search", "Bearer "+key, `{"query":"q"}`); r.status != 200 {
		t.Errorf("after release: %d", r.status)
	}
}

func TestCloseDropsHeldSearches(t *testing.T) {
	fake := searchtest.NewBocha(key)
	ts := start(t, fake)
	hold := fake.Hold()
	done := make(chan error)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/web-search", strings.NewReader(`{"query":"q"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := ts.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-hold.Arrived()
	fake.Close()
	if err := <-done; err == nil {
		t.Error("a held search was answered when the fake closed")
	}
}
