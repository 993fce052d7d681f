package search

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostileAnswers are seeds for the decoders' fuzzing: the shapes an
// answer from a broken, hostile or misaddressed service takes.
func hostileAnswers() [][]byte {
	bocha := `{"code":200,"log_id":"d71841ad20095f61","msg":null,"data":{"_type":"SearchResponse","webPages":{"value":[` +
		`{"name":"阿里巴巴发布2024年ESG报告","url":"https://www.alibabagroup.com/document-1752073403914780672","snippet":"阿里巴巴集团发布……","summary":"详细摘要","siteName":"www.alibabagroup.com","datePublished":"2024-07-22T11:58:00+08:00"},` +
		`{"name":"x","url":"javascript:alert(1)"}]}}}`
	tavily := `{"query":"Who is Leo Messi?","results":[{"title":"Lionel Messi Facts | Britannica","url":"https://www.britannica.com/facts/Lionel-Messi","content":"Lionel Messi, an Argentine footballer","score":0.81}],"response_time":1.67}`
	huge := strings.Repeat("A", 1<<20)
	seeds := []string{
		bocha, tavily, "", "null", "{}", "[]", `""`, "0", "<html></html>",
		`{"code":"403","message":"You do not have enough money","log_id":"c66aac17eab1bb7e"}`,
		`{"detail":{"error":"Unauthorized: missing or invalid API key."}}`,
		`{"detail":[{"loc":["body"],"msg":"field required"}]}`,
		`{"code":{"x":1},"msg":[1],"data":"x","results":7}`,
		`{"code":1e400,"data":{"webPages":{"value":{}}}}`,
		`{"code":-200}`, `{"code":"２００"}`,
		`{"data":{"webPages":{"value":[null,1,"x",[],{}]}},"results":[null,{},{"url":null}]}`,
		`{"data":{"webPages":{"value":[{"url":"https://a.example/\u0000\u202e","name":"\ud800\u0000[x](y)"}]}},"results":[{"url":"https://a.example/\u2028","title":"\n\n"}]}`,
		`{"data":{"webPages":{"value":[{"url":"https://a.example/","url":"javascript:x"}]}},"results":[{"url":"javascript:x","url":"https://a.example/"}]}`,
		`{"data":{"webPages":{"value":[{"url":"https://a.example/","name":"` + huge + `","summary":"` + huge + `"}]}},"results":[{"url":"https://a.example/","title":"` + huge + `"}]}`,
		strings.Repeat(`{"data":`, 100000) + "1" + strings.Repeat("}", 100000),
		`{"results":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "}",
		`{"data":{"webPages":{"value":[` + strings.Repeat(`{"url":"https://a.example/"},`, 10000) + `{}]}}}`,
		"\xff\xfe{\"code\":200}",
	}
	for _, valid := range []string{bocha, tavily} {
		for _, cut := range []int{1, 10, len(valid) / 2, len(valid) - 1} {
			seeds = append(seeds, valid[:cut])
		}
	}
	out := make([][]byte, len(seeds))
	for i, s := range seeds {
		out[i] = []byte(s)
	}
	return out
}

func FuzzParseBocha(f *testing.F) { fuzzParse(f, parseBocha) }

func FuzzParseTavily(f *testing.F) { fuzzParse(f, parseTavily) }

func fuzzParse(f *testing.F, parse func(int, []byte, int) ([]Result, error)) {
	for _, body := range hostileAnswers() {
		f.Add(200, body, 5)
		if len(body) < 4096 {
			for _, status := range []int{400, 403, 432, 500} {
				f.Add(status, body, 5)
			}
		}
	}
	f.Fuzz(func(t *testing.T, status int, body []byte, count int) {
		count = 1 + abs(count)%50
		results, err := parse(status, body, count)
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Kind == nil || results != nil {
				t.Fatalf("error %#v with %d results, want an *Error with a kind and no results", err, len(results))
			}
			if len(e.Message) > 2*maxMessageBytes {
				t.Fatalf("message of %d bytes", len(e.Message))
			}
			return
		}
		if status/100 != 2 {
			t.Fatalf("status %d read as a success", status)
		}
		if len(results) > count {
			t.Fatalf("%d results, asked for %d", len(results), count)
		}
		for _, r := range results {
			checkResult(t, r)
		}
	})
}

// checkResult fails t unless r is fit to be shown as Result promises.
func checkResult(t *testing.T, r Result) {
	t.Helper()
	if !strings.HasPrefix(r.URL, "http://") && !strings.HasPrefix(r.URL, "https://") ||
		strings.ContainsAny(r.URL, " ()<>\"'`\\[]\n\r\t") || len(r.URL) > maxURLBytes {
		t.Fatalf("URL %q is not fit for a markdown link", r.URL)
	}
	if again, ok := safeURL(r.URL); !ok || again != r.URL {
		t.Fatalf("URL %q cleaned again is %q, %v", r.URL, again, ok)
	}
	if strings.ContainsAny(r.Title+r.Site, "[]()<>\\") {
		t.Fatalf("title %q or site %q would break a markdown link", r.Title, r.Site)
	}
	for name, field := range map[string]string{"title": r.Title, "snippet": r.Snippet, "site": r.Site, "published": r.Published} {
		if !utf8.ValidString(field) || strings.ContainsAny(field, "\n\r\t\x00\u202e") {
			t.Fatalf("%s %q is not one clean line", name, field)
		}
		if utf8.RuneCountInString(field) > maxSnippetRunes {
			t.Fatalf("%s of %d runes", name, utf8.RuneCountInString(field))
		}
	}
	if r.Title == "" {
		t.Fatalf("result %+v without a title", r)
	}
}

func abs(n int) int {
	if n < 0 {
		if n == -n { // the smallest int
			return 0
		}
		return -n
	}
	return n
}

func FuzzParseQuery(f *testing.F) {
	for _, seed := range []string{
		`{"query":"杭州天气"}`, `"杭州天气"`, `杭州天气`, `"{\"query\":\"x\"}"`, "```json\n{\"query\":\"x\"}\n```", "```", "``````",
		`{"keywords":["a",1,null]}`, `{}`, ``, `[`, strings.Repeat(`{"query":`, 50000), strings.Repeat(`"`, 1000),
		`{"query":"` + strings.Repeat("长", 100000) + `"}`, "\xff\xfe", `{"query":"\u0000\u202e"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, arguments string) {
		q, err := ParseQuery(arguments)
		if err != nil {
			if q != "" || !strings.Contains(err.Error(), `{"query": "..."}`) {
				t.Fatalf("ParseQuery = %q, %v", q, err)
			}
			return
		}
		if q == "" || !utf8.ValidString(q) || utf8.RuneCountInString(q) > MaxQueryRunes || strings.ContainsAny(q, "\n\r\t\x00") {
			t.Fatalf("query %q is not one bounded line", q)
		}
	})
}

func FuzzFormat(f *testing.F) {
	f.Add("q", "标题", "https://a.example/", "摘要", "站点", "2024-07-22", 3)
	f.Add("", "x](javascript:alert(1))", "javascript:alert(1)", "", "", "", 1)
	f.Add(strings.Repeat("长", 10000), strings.Repeat("[", 10000), "https://a.example/"+strings.Repeat("(", 3000), strings.Repeat("x", 100000), "", "\xff", 60)
	f.Fuzz(func(t *testing.T, query, title, url, snippet, site, published string, n int) {
		n = abs(n) % 64
		results := make([]Result, n)
		for i := range results {
			results[i] = Result{Title: title, URL: fmt.Sprintf("%s%d", url, i), Snippet: snippet, Site: site, Published: published}
		}
		text := Format(query, results)
		if utf8.RuneCountInString(text) > MaxFormatRunes || !utf8.ValidString(text) {
			t.Fatalf("Format of %d runes", utf8.RuneCountInString(text))
		}
		for _, line := range strings.Split(text, "\n") {
			if u, ok := strings.CutPrefix(line, "链接："); ok {
				if again, ok := safeURL(u); !ok || again != u {
					t.Fatalf("Format shows the link %q", u)
				}
			}
		}
	})
}
