package dingtalktest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

// safety bounds a wait that should end at once; it is never a pass/fail
// timing check.
const safety = 30 * time.Second

type answer struct {
	Errcode int    `json:"errcode"`
	Errmsg  string `json:"errmsg"`
}

// post sends a raw body to a webhook and decodes DingTalk's answer.
func post(t *testing.T, s *dingtalktest.Server, webhook, body string) answer {
	t.Helper()
	resp, err := s.Client().Post(webhook, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d, want 200 whatever the errcode", resp.StatusCode)
	}
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return a
}

func TestWebhookAnswers(t *testing.T) {
	text := func(content string) string {
		b, _ := json.Marshal(map[string]any{"msgtype": "text", "text": map[string]string{"content": content}})
		return string(b)
	}
	tests := []struct {
		name    string
		body    string
		session string
		expire  bool
		want    int
	}{
		{name: "text", body: text("你好"), want: 0},
		{name: "text with at", body: `{"msgtype":"text","text":{"content":"@u1 hi"},"at":{"atUserIds":["u1"],"isAtAll":false}}`, want: 0},
		{name: "markdown", body: `{"msgtype":"markdown","markdown":{"title":"t","text":"**x**"}}`, want: 0},
		{name: "actionCard is DingTalk's too", body: `{"msgtype":"actionCard","actionCard":{"title":"t","text":"x"}}`, want: 0},
		{name: "content of exactly 20000 bytes", body: text(strings.Repeat("a", 20000)), want: 0},
		{name: "content of 20001 bytes", body: text(strings.Repeat("a", 20001)), want: 460101},
		{name: "content of 6667 three-byte characters", body: text(strings.Repeat("字", 6667)), want: 460101},
		{name: "not JSON", body: `msgtype=text`, want: 400105},
		{name: "empty body", body: ``, want: 400105},
		{name: "unsupported msgtype", body: `{"msgtype":"image","image":{"url":"x"}}`, want: 400105},
		{name: "the callback-only empty msgtype", body: `{"msgtype":"empty"}`, want: 400105},
		{name: "no msgtype", body: `{"text":{"content":"hi"}}`, want: 400105},
		{name: "text of the wrong shape", body: `{"msgtype":"text","text":"hi"}`, want: 400105},
		{name: "text without content", body: `{"msgtype":"text","text":{}}`, want: dingtalktest.ErrcodeMissingParameter},
		{name: "markdown without title", body: `{"msgtype":"markdown","markdown":{"text":"x"}}`, want: dingtalktest.ErrcodeMissingParameter},
		{name: "expired session", body: text("hi"), expire: true, want: 300001},
		{name: "no session", body: text("hi"), session: "-", want: 300001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := dingtalktest.NewServer()
			defer s.Close()
			session := "sess-" + strings.ReplaceAll(tt.name, " ", "-")
			webhook := s.WebhookURL(session)
			if tt.session == "-" {
				session = ""
				webhook = s.URL() + dingtalktest.WebhookPath
			}
			if tt.expire {
				s.ExpireSession(session)
			}
			got := post(t, s, webhook, tt.body)
			if got.Errcode != tt.want {
				t.Fatalf("errcode %d (%s), want %d", got.Errcode, got.Errmsg, tt.want)
			}
			if tt.want == 0 && got.Errmsg != "ok" {
				t.Errorf("errmsg %q, want ok", got.Errmsg)
			}
			posts := s.Posts()
			if len(posts) != 1 {
				t.Fatalf("recorded %d posts, want 1", len(posts))
			}
			p := posts[0]
			if p.Session != session || p.Errcode != tt.want || p.Errmsg != got.Errmsg || string(p.Raw) != tt.body {
				t.Errorf("recorded %+v, want session %q, errcode %d, the body as sent", p, session, tt.want)
			}
		})
	}
}

func TestWebhookRefusesOtherMethodsAndPaths(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	resp, err := s.Client().Get(s.WebhookURL("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: HTTP %d, want 405", resp.StatusCode)
	}
	resp, err = s.Client().Post(s.URL()+"/robot/send?access_token=x", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST to another path: HTTP %d, want 404", resp.StatusCode)
	}
	if n := len(s.Posts()); n != 0 {
		t.Errorf("recorded %d posts, want none", n)
	}
}

func TestWebhookURLAndHost(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	if s.Host() != "127.0.0.1" {
		t.Errorf("Host() = %q, want 127.0.0.1", s.Host())
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL() = %q, want loopback", s.URL())
	}
	if got, want := s.WebhookURL("a+b/c"), s.URL()+"/robot/sendBySession?session=a%2Bb%2Fc"; got != want {
		t.Errorf("WebhookURL = %q, want %q", got, want)
	}
	// A session with URL-special characters arrives intact.
	post(t, s, s.WebhookURL("a+b/c"), `{"msgtype":"text","text":{"content":"x"}}`)
	if got := s.Posts()[0].Session; got != "a+b/c" {
		t.Errorf("recorded session %q, want a+b/c", got)
	}
}

func TestFailNext(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	s.FailNext(2, 130101, "send too fast")
	body := `{"msgtype":"text","text":{"content":"hi"}}`
	var got []int
	for _, session := range []string{"a", "b", "a"} {
		got = append(got, post(t, s, s.WebhookURL(session), body).Errcode)
	}
	if want := []int{130101, 130101, 0}; !equalInts(got, want) {
		t.Fatalf("errcodes %v, want %v", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestWaitPosts(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), safety)
	defer cancel()

	type result struct {
		posts []dingtalktest.Post
		err   error
	}
	done := make(chan result, 1)
	go func() {
		posts, err := s.WaitPosts(ctx, "mine", 2)
		done <- result{posts, err}
	}()

	post(t, s, s.WebhookURL("other"), `{"msgtype":"text","text":{"content":"not mine"}}`)
	s.FailNext(1, 130101, "send too fast")
	post(t, s, s.WebhookURL("mine"), `{"msgtype":"text","text":{"content":"failed"}}`)
	post(t, s, s.WebhookURL("mine"), `{"msgtype":"text","text":{"content":"one"}}`)
	post(t, s, s.WebhookURL("mine"), `{"msgtype":"markdown","markdown":{"title":"t","text":"two"}}`)

	r := <-done
	if r.err != nil {
		t.Fatalf("WaitPosts: %v", r.err)
	}
	var contents []string
	for _, p := range r.posts {
		contents = append(contents, p.Content())
	}
	if strings.Join(contents, ",") != "one,two" {
		t.Fatalf("WaitPosts returned %q, want the two successful posts to the session", contents)
	}
}

func TestWaitPostsGivesUp(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	post(t, s, s.WebhookURL("mine"), `{"msgtype":"text","text":{"content":"one"}}`)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	posts, err := s.WaitPosts(ctx, "mine", 2)
	if !errors.Is(err, context.Canceled) || len(posts) != 1 {
		t.Fatalf("WaitPosts(cancelled) = %d posts, %v; want the 1 so far and context.Canceled", len(posts), err)
	}

	// A context that ends while waiting wakes the waiter.
	ctx, cancel = context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := s.WaitPosts(ctx, "mine", 2)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitPosts = %v, want context.Canceled", err)
	}

	// So does Close.
	ctx, cancel = context.WithTimeout(t.Context(), safety)
	defer cancel()
	go func() {
		_, err := s.WaitPosts(ctx, "mine", 2)
		done <- err
	}()
	s.Close()
	if err := <-done; !errors.Is(err, dingtalktest.ErrClosed) {
		t.Fatalf("WaitPosts after Close = %v, want ErrClosed", err)
	}
}

func TestSubscribe(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	post(t, s, s.WebhookURL("a"), `{"msgtype":"text","text":{"content":"before"}}`)

	ctx, cancel := context.WithTimeout(t.Context(), safety)
	defer cancel()
	posts := s.Subscribe(ctx)

	// The handler does not wait for the subscriber: all three are answered
	// before anything is read.
	post(t, s, s.WebhookURL("a"), `{"msgtype":"text","text":{"content":"1"}}`)
	post(t, s, s.WebhookURL("b"), `not json`)
	post(t, s, s.WebhookURL("a"), `{"msgtype":"text","text":{"content":"3"}}`)

	var got []string
	for range 3 {
		p, ok := <-posts
		if !ok {
			t.Fatalf("channel closed after %v: %v", got, ctx.Err())
		}
		got = append(got, p.Session+":"+p.Content())
	}
	if want := "a:1,b:,a:3"; strings.Join(got, ",") != want {
		t.Fatalf("received %s, want %s", strings.Join(got, ","), want)
	}

	cancel()
	for p := range posts {
		t.Errorf("received %+v after the context ended", p)
	}
}

func TestSubscribeEndsOnClose(t *testing.T) {
	s := dingtalktest.NewServer()
	ctx, cancel := context.WithTimeout(t.Context(), safety)
	defer cancel()
	posts := s.Subscribe(ctx)
	s.Close()
	for range posts {
		t.Error("received a post from a closed server")
	}
	if ctx.Err() != nil {
		t.Fatal("the channel closed only when the safety timeout ended")
	}
}

func TestBodyLargerThanTheFakeReads(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	big := `{"msgtype":"text","text":{"content":"` + strings.Repeat("a", 2<<20) + `"}}`
	resp, err := s.Client().Post(s.WebhookURL("x"), "application/json", bytes.NewReader([]byte(big)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a answer
	if err := json.Unmarshal(b, &a); err != nil || a.Errcode != 460101 {
		t.Fatalf("answer %s, want errcode 460101", b)
	}
}

func TestALongMarkdownMessageIsTakenButShowsNothing(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	session := s.Session("cid")
	client := dingtalk.NewWebhookClient(dingtalk.WebhookConfig{HTTPClient: s.Client(), AllowedHosts: []string{s.Host()}})
	for _, n := range []int{dingtalktest.MarkdownRenderChars, dingtalktest.MarkdownRenderChars + 1} {
		if err := client.Send(t.Context(), s.WebhookURL(session), dingtalk.MarkdownMessage("标题", strings.Repeat("字", n))); err != nil {
			t.Fatalf("%d characters: %v", n, err)
		}
	}
	posts := s.Posts()
	if len(posts) != 2 || posts[0].Blank || !posts[1].Blank || posts[1].Errcode != 0 {
		t.Errorf("posts %+v; want the first shown, the second taken (errcode 0) and shown blank", posts)
	}
}

// A member the message @-mentions is shown by name, as DingTalk shows it; a
// staff id the message does not list, or of nobody the fake knows, stays.
func TestShownRendersMentionsByName(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	group := dingtalktest.Conversation{ID: "cid-group", Group: true, Title: "g"}
	s.TextCallback(group, dingtalktest.Sender{ID: "u1", StaffID: "staff-1", Nick: "张三"}, "hi")
	s.TextCallback(group, dingtalktest.Sender{ID: "u2", StaffID: "staff-2", Nick: "李四"}, "hi")
	s.TextCallback(group, dingtalktest.Sender{ID: "u10", StaffID: "staff-10", Nick: "王五"}, "hi")
	webhook := s.WebhookURL(s.Session(group.ID))
	post(t, s, webhook, `{"msgtype":"text","text":{"content":"@staff-1 答案；@staff-10 也是；@staff-2 没被 @；@staff-9 不认识"},"at":{"atUserIds":["staff-1","staff-9","staff-10"]}}`)
	post(t, s, webhook, `{"msgtype":"markdown","markdown":{"title":"t","text":"@staff-2 好"}}`)
	posts := s.Posts()
	if len(posts) != 2 {
		t.Fatalf("%d posts", len(posts))
	}
	if got, want := s.Shown(posts[0]), "@张三 答案；@王五 也是；@staff-2 没被 @；@staff-9 不认识"; got != want {
		t.Errorf("shown %q, want %q", got, want)
	}
	if got, want := s.Shown(posts[1]), "@staff-2 好"; got != want {
		t.Errorf("a message without at shows %q, want %q", got, want)
	}
}

// WaitChange wakes for a post, and gives up when its context ends.
func TestWaitChange(t *testing.T) {
	s := dingtalktest.NewServer()
	defer s.Close()
	v, err := s.WaitChange(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.WaitChange(ctx, v); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("nothing changed: %v, want the context's error", err)
	}
	// A waiter already waiting is woken by the post.
	woken := make(chan uint64, 1)
	go func() {
		next, err := s.WaitChange(context.Background(), v)
		if err != nil {
			t.Errorf("WaitChange: %v", err)
		}
		woken <- next
	}()
	post(t, s, s.WebhookURL("x"), `{"msgtype":"text","text":{"content":"a"}}`)
	next := <-woken
	if next <= v {
		t.Fatalf("after a post: version %d, was %d", next, v)
	}
	s.Close()
	if _, err := s.WaitChange(context.Background(), next); !errors.Is(err, dingtalktest.ErrClosed) {
		t.Fatalf("closed server: %v", err)
	}
}
