package openaitest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

const safety = 30 * time.Second

func newServer(t *testing.T, r openaitest.Responder) *openaitest.Server {
	t.Helper()
	srv := openaitest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// post sends body to path under the server's base URL and returns the
// status, the headers and the body.
func post(t *testing.T, srv *openaitest.Server, path, auth, body string) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return m
}

func TestCompletionHasOpenAIsShape(t *testing.T) {
	srv := newServer(t, openaitest.Answer("你好"))
	status, hdr, body := post(t, srv, "/chat/completions", "Bearer k",
		`{"model":"gpt-4.1-mini","messages":[{"role":"user","content":"hi"}]}`)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, content type %q", status, hdr.Get("Content-Type"))
	}
	m := decode(t, body)
	if id, _ := m["id"].(string); !strings.HasPrefix(id, "chatcmpl-") {
		t.Errorf("id = %v", m["id"])
	}
	if m["object"] != "chat.completion" || m["model"] != "gpt-4.1-mini" {
		t.Errorf("object %v, model %v", m["object"], m["model"])
	}
	if created, _ := m["created"].(float64); created < 1.7e9 {
		t.Errorf("created = %v, want a Unix time", m["created"])
	}
	choices, _ := m["choices"].([]any)
	if len(choices) != 1 {
		t.Fatalf("choices = %v", m["choices"])
	}
	want := map[string]any{
		"index":         0.0,
		"message":       map[string]any{"role": "assistant", "content": "你好"},
		"logprobs":      nil,
		"finish_reason": "stop",
	}
	if !reflect.DeepEqual(choices[0], want) {
		t.Errorf("choice = %v, want %v", choices[0], want)
	}
	u, _ := m["usage"].(map[string]any)
	if u["prompt_tokens"].(float64)+u["completion_tokens"].(float64) != u["total_tokens"].(float64) || u["completion_tokens"].(float64) < 1 {
		t.Errorf("usage = %v", u)
	}
}

func TestErrorsHaveOpenAIsShape(t *testing.T) {
	tests := []struct {
		name       string
		key        string
		auth       string
		resp       openaitest.Response
		wantStatus int
		wantBody   map[string]any
		retryAfter string
	}{
		{
			name: "wrong key, shown masked", key: "sk-right", auth: "Bearer sk-wrong-0123456789",
			wantStatus: 401,
			wantBody: map[string]any{"message": "Incorrect API key provided: sk-************6789. You can find your API key at https://platform.openai.com/account/api-keys.",
				"type": "invalid_request_error", "param": nil, "code": "invalid_api_key"},
		},
		{
			name: "no key", key: "sk-right", wantStatus: 401,
			wantBody: map[string]any{"message": "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
				"type": "invalid_request_error", "param": nil, "code": nil},
		},
		{
			name: "unknown model", resp: openaitest.Response{Status: 404, ErrorMessage: "The model `xyz` does not exist"},
			wantStatus: 404,
			wantBody:   map[string]any{"message": "The model `xyz` does not exist", "type": "invalid_request_error", "param": nil, "code": "model_not_found"},
		},
		{
			name: "rate limited", resp: openaitest.Response{Status: 429, RetryAfter: "2"},
			wantStatus: 429, retryAfter: "2",
			wantBody: map[string]any{"message": "Too Many Requests", "type": "requests", "param": nil, "code": "rate_limit_exceeded"},
		},
		{
			name: "quota", resp: openaitest.Response{Status: 429, ErrorCode: "insufficient_quota", ErrorMessage: "You exceeded your current quota"},
			wantStatus: 429,
			wantBody:   map[string]any{"message": "You exceeded your current quota", "type": "insufficient_quota", "param": nil, "code": "insufficient_quota"},
		},
		{
			name: "server error", resp: openaitest.Response{Status: 500},
			wantStatus: 500,
			wantBody:   map[string]any{"message": "Internal Server Error", "type": "server_error", "param": nil, "code": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, openaitest.Fixed(tt.resp))
			srv.RequireAPIKey(tt.key)
			status, hdr, body := post(t, srv, "/chat/completions", tt.auth, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d", status, tt.wantStatus)
			}
			if got := decode(t, body)["error"]; !reflect.DeepEqual(got, tt.wantBody) {
				t.Errorf("error = %v\nwant %v", got, tt.wantBody)
			}
			if hdr.Get("Retry-After") != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", hdr.Get("Retry-After"), tt.retryAfter)
			}
		})
	}
}

func TestMalformedRequestsAreRefused(t *testing.T) {
	srv := newServer(t, openaitest.Answer("unused"))
	tests := []struct {
		name, path, body, wantMsg string
		wantStatus                int
	}{
		{"not JSON", "/chat/completions", "{", "could not parse the JSON body", 400},
		{"no model", "/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, "you must provide a model parameter", 400},
		{"no messages", "/chat/completions", `{"model":"m","messages":[]}`, "too short", 400},
		{"bad content", "/chat/completions", `{"model":"m","messages":[{"role":"user","content":42}]}`, "messages[0].content", 400},
		{"wrong path", "/chat/completion", `{}`, "Invalid URL (POST /v1/chat/completion)", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := post(t, srv, tt.path, "", tt.body)
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d", status, tt.wantStatus)
			}
			e, _ := decode(t, body)["error"].(map[string]any)
			if msg, _ := e["message"].(string); !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q, want %q", msg, tt.wantMsg)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d malformed requests recorded", n)
	}
}

// TestWrongMethodIsAnInvalidURL: as OpenAI does, a path answered with
// another method is not a 405 but the 404 of a path it does not serve.
func TestWrongMethodIsAnInvalidURL(t *testing.T) {
	srv := newServer(t, openaitest.Answer("unused"))
	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, "/chat/completions"},
		{http.MethodPost, "/models"},
	} {
		req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL()+tt.path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		e, _ := decode(t, body)["error"].(map[string]any)
		want := "Invalid URL (" + tt.method + " /v1" + tt.path + ")"
		if msg, _ := e["message"].(string); resp.StatusCode != http.StatusNotFound || msg != want {
			t.Errorf("%s %s: HTTP %d, message %q; want 404, %q", tt.method, tt.path, resp.StatusCode, msg, want)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests recorded", n)
	}
}

func TestRequestsAreRecorded(t *testing.T) {
	srv := newServer(t, openaitest.Answer("ok"))
	post(t, srv, "/chat/completions", "Bearer k1", `{"model":"m1","temperature":0.7,"messages":[
		{"role":"system","content":"sys"},
		{"role":"user","content":[{"type":"text","text":"look at "},{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}},{"type":"text","text":"this"}]}]}`)
	post(t, srv, "/chat/completions", "", `{"model":"m2","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"q"}]}`)

	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	temp := 0.7
	want := []openaitest.Request{
		{Model: "m1", Temperature: &temp, Authorization: "Bearer k1", Messages: []openaitest.Message{{Role: "system", Content: "sys"}, {Role: "user", Content: "look at this"}},
			Images: []openaitest.Image{{URL: "https://example.com/cat.png"}}},
		{Model: "m2", Stream: true, IncludeUsage: true, Messages: []openaitest.Message{{Role: "user", Content: "q"}}},
	}
	if !reflect.DeepEqual(reqs, want) {
		t.Errorf("requests = %+v\nwant %+v", reqs, want)
	}
}

// readSSE returns the data payloads of an event stream, checking that every
// event is a "data: " line followed by a blank line.
func readSSE(t *testing.T, body []byte) []string {
	t.Helper()
	var data []string
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	expectBlank := false
	for sc.Scan() {
		line := sc.Text()
		if expectBlank {
			if line != "" {
				t.Fatalf("event not followed by a blank line: %q", line)
			}
			expectBlank = false
			continue
		}
		payload, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("line %q is not an SSE data line", line)
		}
		data = append(data, payload)
		expectBlank = true
	}
	return data
}

func TestStreamHasOpenAIsShape(t *testing.T) {
	srv := newServer(t, openaitest.Fixed(openaitest.Response{Content: "流式回答 streamed"}))
	status, hdr, body := post(t, srv, "/chat/completions", "", `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", status, hdr.Get("Content-Type"))
	}
	data := readSSE(t, body)
	if len(data) < 4 || data[len(data)-1] != "[DONE]" {
		t.Fatalf("events = %q, want chunks then [DONE]", data)
	}

	var content strings.Builder
	var finish []string
	var sawRole, sawUsage bool
	for _, d := range data[:len(data)-1] {
		var chunk struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Model   string `json:"model"`
			Choices []struct {
				Delta struct {
					Role    string `json:"role"`
					Content string `json:"content"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *struct {
				TotalTokens int `json:"total_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(d), &chunk); err != nil {
			t.Fatalf("chunk %s: %v", d, err)
		}
		if chunk.Object != "chat.completion.chunk" || chunk.Model != "m" || !strings.HasPrefix(chunk.ID, "chatcmpl-") {
			t.Errorf("chunk header %s", d)
		}
		if chunk.Usage != nil {
			sawUsage = chunk.Usage.TotalTokens > 0 && len(chunk.Choices) == 0
			continue
		}
		for _, c := range chunk.Choices {
			sawRole = sawRole || c.Delta.Role == "assistant"
			content.WriteString(c.Delta.Content)
			if c.FinishReason != nil {
				finish = append(finish, *c.FinishReason)
			}
		}
	}
	if content.String() != "流式回答 streamed" {
		t.Errorf("content = %q", content.String())
	}
	if !sawRole || !reflect.DeepEqual(finish, []string{"stop"}) || !sawUsage {
		t.Errorf("role %v, finish reasons %q, usage chunk %v", sawRole, finish, sawUsage)
	}
}

// TestGoOpenAIReadsTheFake checks the fake against the library the robot
// uses, streamed and not.
func TestGoOpenAIReadsTheFake(t *testing.T) {
	srv := newServer(t, openaitest.Fixed(openaitest.Response{Chunks: []string{"一", "二", "三"}, Content: "一二三"}))
	cfg := goopenai.DefaultConfig("k")
	cfg.BaseURL = srv.URL()
	api := goopenai.NewClientWithConfig(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	req := goopenai.ChatCompletionRequest{Model: "m", Messages: []goopenai.ChatCompletionMessage{{Role: "user", Content: "数数"}}}

	resp, err := api.CreateChatCompletion(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content != "一二三" || resp.Choices[0].FinishReason != goopenai.FinishReasonStop {
		t.Errorf("response = %+v", resp)
	}

	stream, err := api.CreateChatCompletionStream(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var pieces []string
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(chunk.Choices) > 0 && chunk.Choices[0].Delta.Content != "" {
			pieces = append(pieces, chunk.Choices[0].Delta.Content)
		}
	}
	if !reflect.DeepEqual(pieces, []string{"一", "二", "三"}) {
		t.Errorf("pieces = %q", pieces)
	}

	models, err := api.ListModels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range models.Models {
		ids = append(ids, m.ID)
	}
	if !reflect.DeepEqual(ids, []string{openaitest.DefaultModel, "m"}) {
		t.Errorf("models = %q", ids)
	}

	srv.RequireAPIKey("other")
	_, err = api.CreateChatCompletion(ctx, req)
	var apiErr *goopenai.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != 401 || apiErr.Code != "invalid_api_key" {
		t.Errorf("error = %v, want a 401 APIError", err)
	}
}

func TestDefaultChunksSplitOnRunes(t *testing.T) {
	const content = "汉字和English混在一起的回答。"
	srv := newServer(t, openaitest.Answer(content))
	_, _, body := post(t, srv, "/chat/completions", "", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	var pieces []string
	for _, d := range readSSE(t, body) {
		var chunk struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if d == "[DONE]" || json.Unmarshal([]byte(d), &chunk) != nil || len(chunk.Choices) == 0 || chunk.Choices[0].Delta.Content == "" {
			continue
		}
		pieces = append(pieces, chunk.Choices[0].Delta.Content)
	}
	if strings.Join(pieces, "") != content || len(pieces) < 4 {
		t.Fatalf("pieces = %q", pieces)
	}
	for _, p := range pieces {
		if !utf8.ValidString(p) {
			t.Errorf("piece %q splits a character", p)
		}
	}
}

func TestDropConnection(t *testing.T) {
	srv := newServer(t, openaitest.Fixed(openaitest.Response{DropConnection: true}))
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL()+"/chat/completions",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d, want the connection dropped", resp.StatusCode)
	}
	if len(srv.Requests()) != 1 {
		t.Error("dropped request not recorded")
	}
}

func TestDelayEndsWhenTheClientGoes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := openaitest.NewInMemoryServer(openaitest.Fixed(openaitest.Response{Content: "late", Delay: time.Hour}))
		t.Cleanup(srv.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL()+"/chat/completions",
			strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
		if resp, err := srv.Client().Do(req); err == nil {
			resp.Body.Close()
			t.Fatal("got an answer despite the delay")
		}
		synctest.Wait() // the server sees the client go
		if n := srv.Abandoned(); n != 1 {
			t.Fatalf("the server saw %d clients go, want 1", n)
		}
	})
}

func TestCloseEndsRequestsInFlight(t *testing.T) {
	started := make(chan struct{})
	srv := openaitest.NewServer(func(context.Context, openaitest.Request) openaitest.Response {
		close(started)
		return openaitest.Response{Content: "late", Delay: time.Hour}
	})
	go func() {
		resp, err := http.Post(srv.URL()+"/chat/completions", "application/json",
			strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-started

	closed := make(chan struct{})
	go func() {
		srv.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(safety):
		t.Fatal("Close waited for the delayed answer")
	}
	if srv.Abandoned() != 0 {
		t.Error("closing the server counted as the client going away")
	}
}

func TestSetResponder(t *testing.T) {
	srv := newServer(t, openaitest.Answer("first"))
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	_, _, b1 := post(t, srv, "/chat/completions", "", body)
	srv.SetResponder(openaitest.Answer("second"))
	_, _, b2 := post(t, srv, "/chat/completions", "", body)
	content := func(b []byte) any {
		return decode(t, b)["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"]
	}
	if content(b1) != "first" || content(b2) != "second" {
		t.Errorf("answers %v, %v", content(b1), content(b2))
	}
}

// Picture bytes as the fake sniffs them: a PNG and a JPEG signature.
var (
	pngData  = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	jpegData = []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00")
)

func dataURL(mediaType string, data []byte) string {
	return "data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(data)
}

func TestImagesAreDecoded(t *testing.T) {
	srv := newServer(t, openaitest.Echo(""))
	body := `{"model":"gpt-4o","messages":[
		{"role":"user","content":[{"type":"image_url","image_url":{"url":"` + dataURL("image/jpeg", jpegData) + `"}}]},
		{"role":"assistant","content":"一只猫"},
		{"role":"user","content":[
			{"type":"text","text":"和这两张比呢？"},
			{"type":"image_url","image_url":{"url":"` + dataURL("image/png", pngData) + `","detail":"auto"}},
			{"type":"image_url","image_url":{"url":"https://example.com/dog.webp","detail":"low"}}]}]}`
	status, _, resp := post(t, srv, "/chat/completions", "", body)
	if status != 200 {
		t.Fatalf("status %d: %s", status, resp)
	}

	req := srv.Requests()[0]
	want := []openaitest.Image{
		{MediaType: "image/png", Data: pngData, Detail: "auto"},
		{URL: "https://example.com/dog.webp", Detail: "low"},
	}
	if !reflect.DeepEqual(req.Images, want) {
		t.Errorf("images = %+v\nwant the last user message's %+v", req.Images, want)
	}
	if got := req.LastUserMessage(); got != "和这两张比呢？" {
		t.Errorf("LastUserMessage() = %q, want the text", got)
	}
	if want := []openaitest.Message{{Role: "user", Content: ""}, {Role: "assistant", Content: "一只猫"}, {Role: "user", Content: "和这两张比呢？"}}; !reflect.DeepEqual(req.Messages, want) {
		t.Errorf("messages = %+v, want %+v", req.Messages, want)
	}
}

func TestInvalidImagesAreRefused(t *testing.T) {
	part := func(url, detail string) string {
		return `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"看"},{"type":"image_url","image_url":{"url":"` + url + `","detail":"` + detail + `"}}]}]}`
	}
	urlParam := "messages[0].content[1].image_url.url"
	tests := []struct {
		name, body string
		want       map[string]any
	}{
		{"not a URL", part("cat.png", "auto"), map[string]any{
			"message": "Invalid image URL: 'messages[0].content[1].image_url.url'. Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got a value without the 'data:' prefix.",
			"type":    "invalid_request_error", "param": urlParam, "code": "invalid_value"}},
		{"not an image type", part(dataURL("application/pdf", []byte("%PDF-1.7")), ""), map[string]any{
			"message": "Invalid image URL: 'messages[0].content[1].image_url.url'. Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got unsupported MIME type 'application/pdf'.",
			"type":    "invalid_request_error", "param": urlParam, "code": "invalid_value"}},
		{"not base64", part("data:image/png,rawbytes", ""), map[string]any{
			"message": "Invalid base64 image_url.", "type": "invalid_request_error", "param": nil, "code": nil}},
		{"broken base64", part("data:image/png;base64,@@@", ""), map[string]any{
			"message": "Invalid base64 image_url.", "type": "invalid_request_error", "param": nil, "code": nil}},
		{"bytes that are no PNG, JPEG, GIF or WebP", part(dataURL("image/png", []byte("just text")), ""), map[string]any{
			"message": "You uploaded an unsupported image. Please make sure your image has of one the following formats: ['png', 'jpeg', 'gif', 'webp'].",
			"type":    "invalid_request_error", "param": nil, "code": "invalid_image_format"}},
		{"unknown detail", part(dataURL("image/png", pngData), "ultra"), map[string]any{
			"message": "Invalid value: 'ultra'. Supported values are: 'auto', 'low', and 'high'.",
			"type":    "invalid_request_error", "param": "messages[0].content[1].image_url.detail", "code": "invalid_value"}},
	}
	srv := newServer(t, openaitest.Answer("unused"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := post(t, srv, "/chat/completions", "", tt.body)
			if status != 400 {
				t.Errorf("status = %d, want 400", status)
			}
			if got := decode(t, body)["error"]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("error = %v\nwant %v", got, tt.want)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d refused requests recorded", n)
	}
}

func TestRefuseImagesAnswersLikeAModelThatCannotSee(t *testing.T) {
	srv := newServer(t, openaitest.Fixed(openaitest.Response{Content: "看不见也能答", RefuseImages: true}))

	withImage := `{"model":"gpt-3.5-turbo","messages":[{"role":"system","content":"sys"},{"role":"user","content":[
		{"type":"text","text":"看"},{"type":"image_url","image_url":{"url":"` + dataURL("image/png", pngData) + `"}}]}]}`
	status, _, body := post(t, srv, "/chat/completions", "", withImage)
	want := map[string]any{
		"message": "Invalid content type. image_url is only supported by certain models.",
		"type":    "invalid_request_error",
		"param":   "messages.[1].content.[1].type",
		"code":    nil,
	}
	if got := decode(t, body)["error"]; status != 400 || !reflect.DeepEqual(got, want) {
		t.Errorf("status %d, error %v\nwant 400, %v", status, got, want)
	}

	status, _, body = post(t, srv, "/chat/completions", "", `{"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"看"}]}`)
	if status != 200 || !strings.Contains(string(body), "看不见也能答") {
		t.Errorf("a request without pictures: status %d, body %s", status, body)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("%d requests recorded, want both", n)
	}
}

func TestGoOpenAISendsImagesTheFakeReads(t *testing.T) {
	srv := newServer(t, func(_ context.Context, r openaitest.Request) openaitest.Response {
		return openaitest.Response{Content: fmt.Sprintf("%s|%d|%s", r.LastUserMessage(), len(r.Images), r.Images[0].MediaType)}
	})
	cfg := goopenai.DefaultConfig("k")
	cfg.BaseURL = srv.URL()
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()

	resp, err := goopenai.NewClientWithConfig(cfg).CreateChatCompletion(ctx, goopenai.ChatCompletionRequest{
		Model: "gpt-4o",
		Messages: []goopenai.ChatCompletionMessage{{Role: "user", MultiContent: []goopenai.ChatMessagePart{
			{Type: goopenai.ChatMessagePartTypeText, Text: "这是什么？"},
			{Type: goopenai.ChatMessagePartTypeImageURL, ImageURL: &goopenai.ChatMessageImageURL{URL: dataURL("image/jpeg", jpegData), Detail: goopenai.ImageURLDetailAuto}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content; got != "这是什么？|1|image/jpeg" {
		t.Errorf("answer = %q", got)
	}
	if !bytes.Equal(srv.Requests()[0].Images[0].Data, jpegData) {
		t.Error("the picture's bytes changed on the way")
	}
}
