package search_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/pipenet"
	"github.com/dingtalk-llm/fcrobot/internal/search"
	"github.com/dingtalk-llm/fcrobot/internal/search/searchtest"
)

const testKey = "sk-test-0123456789abcdef"

var providers = []string{search.ProviderBocha, search.ProviderTavily}

func newFake(provider, key string) *searchtest.Server {
	if provider == search.ProviderBocha {
		return searchtest.NewBocha(key)
	}
	return searchtest.NewTavily(key)
}

// serve starts fake on a loopback httptest server, closed with the test.
func serve(t *testing.T, fake *searchtest.Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	t.Cleanup(fake.Close) // first: it ends the waits ts.Close waits for
	return ts
}

func newClient(t *testing.T, cfg search.Config) *search.Client {
	t.Helper()
	if cfg.APIKey == "" {
		cfg.APIKey = testKey
	}
	c, err := search.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return c
}

// fakeClient is a client of provider's fake, which accepts testKey.
func fakeClient(t *testing.T, provider string) (*search.Client, *searchtest.Server) {
	t.Helper()
	fake := newFake(provider, testKey)
	ts := serve(t, fake)
	return newClient(t, search.Config{Provider: provider, Endpoint: ts.URL, HTTPClient: ts.Client()}), fake
}

func TestSearchSendsTheRequestEachAPIDocuments(t *testing.T) {
	for _, provider := range providers {
		t.Run(provider, func(t *testing.T) {
			c, fake := fakeClient(t, provider)
			if _, err := c.Search(context.Background(), "  杭州  明天\n天气 "); err != nil {
				t.Fatal(err)
			}
			got := fake.Searches()
			if len(got) != 1 {
				t.Fatalf("the fake received %d searches, want 1", len(got))
			}
			s := got[0]
			wantPath := map[string]string{"bocha": "/v1/web-search", "tavily": "/search"}[provider]
			if s.Method != http.MethodPost || s.Path != wantPath {
				t.Errorf("request %s %s, want POST %s", s.Method, s.Path, wantPath)
			}
			if s.Authorization != "Bearer "+testKey {
				t.Errorf("Authorization %q, want the Bearer key", s.Authorization)
			}
			if s.ContentType != "application/json" {
				t.Errorf("Content-Type %q", s.ContentType)
			}
			var body map[string]any
			if err := json.Unmarshal(s.Body, &body); err != nil {
				t.Fatalf("body %q: %v", s.Body, err)
			}
			want := map[string]any{"query": "杭州 明天 天气", "max_results": 5.0}
			if provider == search.ProviderBocha {
				want = map[string]any{"query": "杭州 明天 天气", "summary": true, "count": 5.0}
			}
			if !reflect.DeepEqual(body, want) {
				t.Errorf("body %s, want %v", s.Body, want)
			}
		})
	}
}

func TestSearchReturnsThePagesFound(t *testing.T) {
	for _, provider := range providers {
		t.Run(provider, func(t *testing.T) {
			c, _ := fakeClient(t, provider)
			const query = "Go 1.25 发布了什么"
			got, err := c.Search(context.Background(), query)
			if err != nil {
				t.Fatal(err)
			}
			pages := searchtest.Pages(query, 5)
			if len(got) != len(pages) {
				t.Fatalf("%d results, want %d", len(got), len(pages))
			}
			for i, p := range pages {
				want := search.Result{Title: p.Title, URL: p.URL, Snippet: p.Snippet, Site: "example.com"}
				if provider == search.ProviderBocha {
					// Bocha's summary, asked for, is preferred; its site
					// name and date are given.
					want.Snippet, want.Site, want.Published = p.Summary, p.Site, p.Published[:10]
				}
				if got[i] != want {
					t.Errorf("result %d:\n got %+v\nwant %+v", i, got[i], want)
				}
			}
		})
	}
}

func TestSearchFindingNothingIsNotAnError(t *testing.T) {
	for _, provider := range providers {
		t.Run(provider, func(t *testing.T) {
			c, fake := fakeClient(t, provider)
			fake.SetPages(func(string, int) []searchtest.Page { return nil })
			got, err := c.Search(context.Background(), "没有结果的问题")
			if err != nil || len(got) != 0 {
				t.Fatalf("Search = %v, %v; want no results and no error", got, err)
			}
		})
	}
}

func TestSearchFailuresAreClassified(t *testing.T) {
	tests := []struct {
		fault  searchtest.Fault
		kind   error
		reason error
	}{
		{searchtest.RateLimited, search.ErrRateLimited, nil},
		{searchtest.OutOfCredit, search.ErrRateLimited, search.ErrOutOfCredit},
		{searchtest.ServerError, search.ErrUnavailable, nil},
		{searchtest.Garbage, search.ErrUnavailable, nil},
		{searchtest.DropConnection, search.ErrUnavailable, nil},
	}
	for _, provider := range providers {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%d", provider, tt.fault), func(t *testing.T) {
				c, fake := fakeClient(t, provider)
				fake.SetFault(tt.fault)
				_, err := c.Search(context.Background(), "天气")
				assertKind(t, err, tt.kind, tt.reason)
				if strings.Contains(err.Error(), testKey) {
					t.Errorf("the error holds the key: %v", err)
				}
			})
		}
		t.Run(provider+"/wrong key", func(t *testing.T) {
			fake := newFake(provider, "sk-the-right-key")
			ts := serve(t, fake)
			c := newClient(t, search.Config{Provider: provider, Endpoint: ts.URL, HTTPClient: ts.Client()})
			_, err := c.Search(context.Background(), "天气")
			assertKind(t, err, search.ErrUnauthorized, nil)
		})
	}
}

func assertKind(t *testing.T, err, kind, reason error) {
	t.Helper()
	var e *search.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want a *search.Error", err, err)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %v, want kind %v", err, kind)
	}
	if reason != nil && !errors.Is(err, reason) {
		t.Errorf("error %v, want reason %v", err, reason)
	}
	if reason == nil && e.Reason != nil {
		t.Errorf("error %v has reason %v, want none", err, e.Reason)
	}
}

// answer is a handler that answers every request with status and body.
func answer(status int, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

func searchWith(t *testing.T, provider string, h http.Handler) ([]search.Result, error) {
	t.Helper()
	ts := httptest.NewServer(h)
	defer ts.Close()
	c := newClient(t, search.Config{Provider: provider, Endpoint: ts.URL, HTTPClient: ts.Client()})
	return c.Search(context.Background(), "天气")
}

func TestSearchReadsEachServicesRefusals(t *testing.T) {
	tests := []struct {
		name     string
		provider string
		status   int
		body     string
		kind     error
		reason   error
		message  string
	}{
		// Bocha's documented error bodies.
		{"bocha key missing", "bocha", 400, `{"code":"400","message":"The API KEY is missing","log_id":"c66aac17eab1bb7e"}`, search.ErrUnauthorized, nil, "The API KEY is missing"},
		{"bocha key invalid", "bocha", 401, `{"code":"401","message":"Invalid API KEY","log_id":"c66aac17eab1bb7e"}`, search.ErrUnauthorized, nil, "Invalid API KEY"},
		{"bocha balance", "bocha", 403, `{"code":"403","message":"You do not have enough money","log_id":"c66aac17eab1bb7e"}`, search.ErrRateLimited, search.ErrOutOfCredit, "enough money"},
		{"bocha missing query", "bocha", 400, `{"code":"400","message":"Missing parameter query","log_id":"c66aac17eab1bb7e"}`, search.ErrBadQuery, nil, "Missing parameter query"},
		{"bocha rate", "bocha", 429, `{"code":"429","message":"You have reached the request limit","log_id":"c66aac17eab1bb7e"}`, search.ErrRateLimited, nil, "request limit"},
		{"bocha failing", "bocha", 500, `{"code":"500","message":"xxxx","log_id":"c66aac17eab1bb7e"}`, search.ErrUnavailable, nil, "xxxx"},
		// The same said only in the body of a 200.
		{"bocha 200 with 403", "bocha", 200, `{"code":403,"msg":"You do not have enough money","data":null}`, search.ErrRateLimited, search.ErrOutOfCredit, "enough money"},
		{"bocha 200 with 500", "bocha", 200, `{"code":"500","msg":"busy"}`, search.ErrUnavailable, nil, "busy"},
		{"bocha 200 with 401", "bocha", 200, `{"code":401,"message":"Invalid API KEY"}`, search.ErrUnauthorized, nil, "Invalid API KEY"},
		// Tavily's documented error bodies.
		{"tavily key", "tavily", 401, `{"detail":{"error":"Unauthorized: missing or invalid API key."}}`, search.ErrUnauthorized, nil, "missing or invalid"},
		{"tavily forbidden", "tavily", 403, `{"detail":{"error":"Forbidden"}}`, search.ErrUnauthorized, nil, "Forbidden"},
		{"tavily rate", "tavily", 429, `{"detail":{"error":"Your request has been blocked due to excessive requests. Please reduce rate of requests."}}`, search.ErrRateLimited, nil, "excessive requests"},
		{"tavily plan", "tavily", 432, `{"detail":{"error":"This request exceeds your plan's set usage limit."}}`, search.ErrRateLimited, search.ErrOutOfCredit, "usage limit"},
		{"tavily paygo", "tavily", 433, `{"detail":{"error":"This request exceeds the pay-as-you-go limit."}}`, search.ErrRateLimited, search.ErrOutOfCredit, "pay-as-you-go"},
		{"tavily bad", "tavily", 400, `{"detail":{"error":"Query is too long. Max query length is 400 characters."}}`, search.ErrBadQuery, nil, "too long"},
		{"tavily validation", "tavily", 422, `{"detail":[{"loc":["body","query"],"msg":"field required","type":"value_error.missing"}]}`, search.ErrBadQuery, nil, "field required"},
		{"tavily failing", "tavily", 500, `{"detail":{"error":"Internal Server Error"}}`, search.ErrUnavailable, nil, "Internal Server Error"},
		// What a gateway or a wrong endpoint answers.
		{"gateway page", "bocha", 502, "<html><body>502 Bad Gateway</body></html>", search.ErrUnavailable, nil, "Bad Gateway"},
		{"gateway timeout", "tavily", 504, "", search.ErrUnavailable, search.ErrTimeout, ""},
		{"not found", "tavily", 404, "<html>Not Found</html>", search.ErrUnavailable, nil, "Not Found (not an answer of the search API; check SEARCH_ENDPOINT)"},
		{"redirected", "bocha", 302, "", search.ErrUnavailable, nil, "SEARCH_ENDPOINT"},
		{"plain text", "bocha", 503, "upstream connect error", search.ErrUnavailable, nil, "upstream connect error"},
		{"bocha not json", "bocha", 200, "<html>hello</html>", search.ErrUnavailable, nil, "SEARCH_ENDPOINT"},
		{"bocha truncated", "bocha", 200, `{"code":200,"data":{"webPages":{"value":[{"name":"a"`, search.ErrUnavailable, nil, "SEARCH_ENDPOINT"},
		{"bocha other api", "bocha", 200, `{"results":[]}`, search.ErrUnavailable, nil, "SEARCH_ENDPOINT"},
		{"tavily other api", "tavily", 200, `{"code":200,"data":{}}`, search.ErrUnavailable, nil, "SEARCH_ENDPOINT"},
		{"tavily results not a list", "tavily", 200, `{"results":{"title":"x"}}`, search.ErrUnavailable, nil, "SEARCH_ENDPOINT"},
		{"tavily array", "tavily", 200, `[]`, search.ErrUnavailable, nil, "SEARCH_ENDPOINT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := searchWith(t, tt.provider, answer(tt.status, tt.body))
			assertKind(t, err, tt.kind, tt.reason)
			var e *search.Error
			if errors.As(err, &e) && !strings.Contains(e.Message, tt.message) {
				t.Errorf("message %q, want it to say %q", e.Message, tt.message)
			}
			if e != nil && e.Provider != tt.provider {
				t.Errorf("provider %q, want %q", e.Provider, tt.provider)
			}
		})
	}
}

func TestSearchNeverRepeatsTheKey(t *testing.T) {
	// Some services echo what they were sent.
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"code":"401","message":"Invalid API KEY %s"}`, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	})
	for _, provider := range providers {
		_, err := searchWith(t, provider, echo)
		if err == nil || strings.Contains(err.Error(), testKey) {
			t.Errorf("%s: error %v holds the key", provider, err)
		}
	}
}

func TestSearchToleratesOddAnswers(t *testing.T) {
	tests := []struct {
		name     string
		provider string
		body     string
		want     []search.Result
	}{
		{"bocha no data", "bocha", `{"code":200,"msg":null,"data":null}`, nil},
		{"bocha no pages", "bocha", `{"code":200,"data":{"webPages":null}}`, nil},
		{"bocha wrong types", "bocha", `{"code":"200","data":{"webPages":{"value":[
			null, 7, "x", [], {"name": 5, "url": "https://a.example/1", "snippet": ["x"], "siteName": {}},
			{"name": "好", "url": "https://a.example/2", "summary": null, "snippet": "短", "datePublished": 20240722, "dateLastCrawled": "2024-07-22T00:00:00Z"}
		]}}}`, []search.Result{
			{Title: "a.example", URL: "https://a.example/1", Site: "a.example"},
			{Title: "好", URL: "https://a.example/2", Snippet: "短", Site: "a.example", Published: "2024-07-22"},
		}},
		{"bocha repeats", "bocha", `{"code":200,"data":{"webPages":{"value":[{"url":"https://a.example/"},{"url":"https://a.example/"}]}}}`,
			[]search.Result{{Title: "a.example", URL: "https://a.example/", Site: "a.example"}}},
		{"tavily null results", "tavily", `{"query":"x","results":null}`, nil},
		{"tavily wrong types", "tavily", `{"results":[{"title":null,"url":"http://b.example/x","content":1.5},{"url":false}]}`,
			[]search.Result{{Title: "b.example", URL: "http://b.example/x", Site: "b.example"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := searchWith(t, tt.provider, answer(200, tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) || len(got) > 0 && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSearchKeepsOnlyLinksFitToClick(t *testing.T) {
	hostile := []searchtest.Page{
		{Title: "脚本", URL: "javascript:alert(document.cookie)"},
		{Title: "大小写", URL: "JaVaScRiPt:alert(1)"},
		{Title: "空格", URL: " javascript:alert(1)"},
		{Title: "数据", URL: "data:text/html;base64,PHNjcmlwdD4="},
		{Title: "相对", URL: "/relative/path"},
		{Title: "无协议", URL: "//evil.example/x"},
		{Title: "文件", URL: "file:///etc/passwd"},
		{Title: "ftp", URL: "ftp://files.example/x"},
		{Title: "用户", URL: "https://trusted.example@evil.example/"},
		{Title: "无主机", URL: "http:///path"},
		{Title: "换行", URL: "https://a.example/\nx"},
		{Title: "IPv6", URL: "http://[::1]/"},
		{Title: "空", URL: ""},
		{Title: "vbscript", URL: "vbscript:msgbox(1)"},
		{Title: "太长", URL: "https://a.example/" + strings.Repeat("x", 5000)},
		{Title: "坏了](javascript:alert(1)) [又一个\n标题", URL: "https://ok.example/wiki/Go_(language) x\"y"},
		{Title: "大写协议", URL: "HTTPS://Ok.Example/Path"},
	}
	for _, provider := range providers {
		t.Run(provider, func(t *testing.T) {
			fake := newFake(provider, testKey)
			fake.SetPages(func(string, int) []searchtest.Page { return hostile })
			ts := serve(t, fake)
			c := newClient(t, search.Config{Provider: provider, Endpoint: ts.URL, HTTPClient: ts.Client(), Count: 20})
			got, err := c.Search(context.Background(), "q")
			if err != nil {
				t.Fatal(err)
			}
			var urls []string
			for _, r := range got {
				urls = append(urls, r.URL)
				if strings.ContainsAny(r.Title, "[]()\n<>\\") {
					t.Errorf("title %q would break a markdown link", r.Title)
				}
			}
			want := []string{"https://ok.example/wiki/Go_%28language%29%20x%22y", "https://Ok.Example/Path"}
			if !reflect.DeepEqual(urls, want) {
				t.Errorf("URLs kept %q, want %q", urls, want)
			}
			if len(got) > 0 && got[0].Title != "坏了］（javascript:alert（1）） ［又一个 标题" {
				t.Errorf("title %q", got[0].Title)
			}
		})
	}
}

func TestSearchCountStaysWithinEachAPIsRange(t *testing.T) {
	tests := []struct {
		provider string
		count    int
		sent     int // 0: New refuses it
	}{
		{"bocha", 0, search.DefaultCount},
		{"bocha", 1, 1},
		{"bocha", 50, 50},
		{"bocha", 51, 0},
		{"bocha", -1, 0},
		{"tavily", 0, search.DefaultCount},
		{"tavily", 20, 20},
		{"tavily", 21, 0},
		{"tavily", -3, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.provider, tt.count), func(t *testing.T) {
			fake := newFake(tt.provider, testKey)
			ts := serve(t, fake)
			c, err := search.New(search.Config{Provider: tt.provider, APIKey: testKey, Endpoint: ts.URL, HTTPClient: ts.Client(), Count: tt.count})
			if tt.sent == 0 {
				if err == nil || !strings.Contains(err.Error(), "range") {
					t.Fatalf("New with count %d: %v, want an out-of-range error", tt.count, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The fake refuses a count outside the API's range, as the
			// service does: a count sent is one accepted.
			got, err := c.Search(context.Background(), "q")
			if err != nil {
				t.Fatal(err)
			}
			if s := fake.Searches(); len(s) != 1 || s[0].Count != tt.sent || len(got) != tt.sent {
				t.Errorf("sent %+v, got %d results; want count %d", s, len(got), tt.sent)
			}
		})
	}
}

func TestSearchKeepsNoMoreResultsThanAskedFor(t *testing.T) {
	for _, provider := range providers {
		c, fake := fakeClient(t, provider)
		fake.SetPages(func(q string, n int) []searchtest.Page { return searchtest.Pages(q, 3*n) })
		got, err := c.Search(context.Background(), "q")
		if err != nil || len(got) != search.DefaultCount {
			t.Errorf("%s: %d results, %v; want %d", provider, len(got), err, search.DefaultCount)
		}
	}
}

func TestSearchBoundsWhatItReads(t *testing.T) {
	t.Run("too large", func(t *testing.T) {
		for _, provider := range providers {
			big := `{"code":200,"results":[],"data":{"x":"` + strings.Repeat("a", search.MaxAnswerBytes) + `"}}`
			_, err := searchWith(t, provider, answer(200, big))
			assertKind(t, err, search.ErrUnavailable, nil)
			if err != nil && !strings.Contains(err.Error(), "larger than") {
				t.Errorf("%s: %v, want it to say the answer is too large", provider, err)
			}
		}
	})
	t.Run("huge fields", func(t *testing.T) {
		// Just within the bound: one page of huge fields.
		huge := strings.Repeat("长", 100_000)
		pages := []searchtest.Page{{Title: huge, URL: "https://a.example/", Snippet: huge, Summary: huge, Site: huge, Published: huge}}
		for _, provider := range providers {
			c, fake := fakeClient(t, provider)
			fake.SetPages(func(string, int) []searchtest.Page { return pages })
			got, err := c.Search(context.Background(), "q")
			if err != nil || len(got) != 1 {
				t.Fatalf("%s: %v, %v", provider, got, err)
			}
			r := got[0]
			for name, field := range map[string]string{"title": r.Title, "snippet": r.Snippet, "site": r.Site, "published": r.Published} {
				if n := utf8.RuneCountInString(field); n > 800 {
					t.Errorf("%s: %s of %d runes", provider, name, n)
				}
			}
		}
	})
}

func TestSearchRefusesAnEmptyQueryWithoutAsking(t *testing.T) {
	for _, provider := range providers {
		c, fake := fakeClient(t, provider)
		_, err := c.Search(context.Background(), " \n\t\u202e ")
		assertKind(t, err, search.ErrBadQuery, nil)
		if n := len(fake.Searches()); n != 0 {
			t.Errorf("%s: %d searches sent for an empty query", provider, n)
		}
	}
}

func TestSearchCutsALongQuery(t *testing.T) {
	// Tavily refuses a query over 400 characters; a question pasted whole
	// is searched by its start.
	for _, provider := range providers {
		c, fake := fakeClient(t, provider)
		if _, err := c.Search(context.Background(), strings.Repeat("问", 1000)); err != nil {
			t.Fatalf("%s: %v", provider, err)
		}
		if q := fake.Queries(); len(q) != 1 || utf8.RuneCountInString(q[0]) != search.MaxQueryRunes {
			t.Errorf("%s: sent a query of %d runes, want %d", provider, utf8.RuneCountInString(q[0]), search.MaxQueryRunes)
		}
	}
}

func TestSearchGivesUpAtItsTimeout(t *testing.T) {
	for _, provider := range providers {
		t.Run(provider, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := newFake(provider, testKey)
				ts := httptest.NewUnstartedServer(fake)
				pipenet.Start(ts)
				defer ts.Close()
				defer fake.Close()
				hold := fake.Hold()
				defer hold.Release()
				c := newClient(t, search.Config{Provider: provider, Endpoint: ts.URL, HTTPClient: ts.Client(), Timeout: 7 * time.Second})

				start := time.Now()
				_, err := c.Search(context.Background(), "慢")
				assertKind(t, err, search.ErrUnavailable, search.ErrTimeout)
				if waited := time.Since(start); waited != 7*time.Second {
					t.Errorf("gave up after %v, want the timeout, 7s", waited)
				}
				synctest.Wait()
				if n := fake.Abandoned(); n != 1 {
					t.Errorf("the fake saw %d searches abandoned, want 1", n)
				}
			})
		})
	}
}

func TestSearchStopsWhenCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := searchtest.NewTavily(testKey)
		ts := httptest.NewUnstartedServer(fake)
		pipenet.Start(ts)
		defer ts.Close()
		defer fake.Close()
		hold := fake.Hold()
		c := newClient(t, search.Config{Provider: "tavily", Endpoint: ts.URL, HTTPClient: ts.Client()})

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			_, err := c.Search(ctx, "停")
			done <- err
		}()
		if q := <-hold.Arrived(); q != "停" {
			t.Errorf("held %q", q)
		}
		cancel()
		err := <-done
		var e *search.Error
		if !errors.Is(err, context.Canceled) || errors.As(err, &e) {
			t.Errorf("error %v, want context.Canceled, not a failure of the service", err)
		}
	})
}

func TestSearchHeldThenReleasedAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := searchtest.NewBocha(testKey)
		ts := httptest.NewUnstartedServer(fake)
		pipenet.Start(ts)
		defer ts.Close()
		defer fake.Close()
		hold := fake.Hold()
		c := newClient(t, search.Config{Provider: "bocha", Endpoint: ts.URL, HTTPClient: ts.Client()})

		done := make(chan []search.Result)
		go func() {
			r, _ := c.Search(context.Background(), "等一下")
			done <- r
		}()
		<-hold.Arrived()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("the search ended while held")
		default:
		}
		hold.Release()
		if r := <-done; len(r) != search.DefaultCount {
			t.Errorf("%d results after release", len(r))
		}
	})
}

func TestNewSaysWhatIsWrong(t *testing.T) {
	tests := []struct {
		name string
		cfg  search.Config
		want string
	}{
		{"no provider", search.Config{APIKey: "k"}, "no provider"},
		{"unknown provider", search.Config{Provider: "bing", APIKey: "k"}, `unknown provider "bing"`},
		{"no key", search.Config{Provider: "bocha"}, "SEARCH_API_KEY"},
		{"blank key", search.Config{Provider: "tavily", APIKey: "  \n"}, "SEARCH_API_KEY"},
		{"key with space", search.Config{Provider: "tavily", APIKey: "a b"}, "spaces"},
		{"key with newline", search.Config{Provider: "tavily", APIKey: "a\r\nX-Evil: 1"}, "spaces"},
		{"not a URL", search.Config{Provider: "bocha", APIKey: "k", Endpoint: "://x"}, "not a URL"},
		{"not http", search.Config{Provider: "bocha", APIKey: "k", Endpoint: "ftp://api.bocha.cn"}, "not an http(s) URL"},
		{"no scheme", search.Config{Provider: "bocha", APIKey: "k", Endpoint: "api.bocha.cn"}, "not an http(s) URL"},
		{"no host", search.Config{Provider: "bocha", APIKey: "k", Endpoint: "https://"}, "no host"},
		{"credentials", search.Config{Provider: "bocha", APIKey: "k", Endpoint: "https://u:secret@api.bocha.cn"}, "credentials"},
		{"query", search.Config{Provider: "bocha", APIKey: "k", Endpoint: "https://api.bocha.cn/?x=1"}, "query or fragment"},
		{"count", search.Config{Provider: "tavily", APIKey: "k", Count: 30}, "1 to 20"},
		{"timeout", search.Config{Provider: "tavily", APIKey: "k", Timeout: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := search.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, %v; want an error saying %q", c, err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error repeats the endpoint's password: %v", err)
			}
		})
	}
}

func TestNewTakesTheProviderInAnyCase(t *testing.T) {
	c, err := search.New(search.Config{Provider: " Bocha ", APIKey: " k\n"})
	if err != nil || c.Provider() != "bocha" || c.Count() != search.DefaultCount {
		t.Fatalf("New: %v, %v", c, err)
	}
}

func TestEndpointIsABaseURL(t *testing.T) {
	for _, provider := range providers {
		path := map[string]string{"bocha": "/v1/web-search", "tavily": "/search"}[provider]
		fake := newFake(provider, testKey)
		mux := http.NewServeMux()
		mux.Handle("/", fake)
		mux.Handle("/gateway/", http.StripPrefix("/gateway", fake))
		ts := serve(t, fake)
		ts.Config.Handler = mux
		for _, endpoint := range []string{ts.URL, ts.URL + "/", ts.URL + path, ts.URL + "/gateway", ts.URL + "/gateway/" + path[1:] + "/"} {
			c := newClient(t, search.Config{Provider: provider, Endpoint: endpoint, HTTPClient: ts.Client()})
			if _, err := c.Search(context.Background(), "q"); err != nil {
				t.Errorf("%s at %s: %v", provider, endpoint, err)
			}
		}
	}
}
