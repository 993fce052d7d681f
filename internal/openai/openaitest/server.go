// Package openaitest is a fake OpenAI-compatible chat-completions server.
//
// It answers like the real API does, in the same JSON and server-sent-event
// shapes and with the same error bodies, so that the code under test cannot
// tell it from a provider. Tests script its answers with a Responder; the
// Offline responder doubles as the built-in model of local runs that have no
// model endpoint configured.
package openaitest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/pipenet"
)

// Message is one message of a chat-completions request. The tool calls of
// an assistant message are in Request.ToolCalls.
type Message struct {
	Role    string
	Content string
	// Reasoning is an assistant message's reasoning_content, which a
	// thinking model wants back with its tool calls.
	Reasoning string
	// ToolCallID is the call a tool message answers.
	ToolCallID string
}

// Image is a picture of a request, from an image_url content part.
type Image struct {
	// MediaType and Data are decoded from a data URL; both are empty when
	// the picture was sent by URL.
	MediaType string
	Data      []byte
	// URL is an http(s) URL the picture was sent by; empty for a data URL.
	URL string
	// Detail is the part's detail ("auto", "low", "high"), empty when the
	// client sent none.
	Detail string
}

// Request is a chat-completions request as the server decoded it.
type Request struct {
	Model string
	// Messages hold the text of each message; the text parts of a message
	// sent as parts are joined.
	Messages []Message
	// Images are the pictures of the last user message, in order: what the
	// question asks the model to look at.
	Images []Image
	// Temperature is nil when the request did not carry one, which is what
	// clients do to leave the provider's default.
	Temperature *float64
	Stream      bool
	// IncludeUsage is stream_options.include_usage: the client asked for a
	// final chunk that carries the token usage.
	IncludeUsage bool
	// Authorization is the Authorization header as it arrived.
	Authorization string
	// Tools are the tools the request offers, in order; nil when it
	// offers none (and has no "tools" key).
	Tools []Tool
	// ToolCalls are the tool calls of the request's assistant messages,
	// in order.
	ToolCalls []ToolCall
	// Extra are the body's keys that the server does not read otherwise,
	// as sent: a provider's own parameters ("enable_search"...), and
	// "tool_choice". Nil when there are none.
	Extra map[string]json.RawMessage
}

// knownKeys are the body keys Request reads into fields of its own.
var knownKeys = []string{"model", "messages", "temperature", "stream", "stream_options", "tools"}

// LastUserMessage returns the text of the request's last user message:
// the question being asked. Its pictures are in Images.
func (r Request) LastUserMessage() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == "user" {
			return r.Messages[i].Content
		}
	}
	return ""
}

// EarlierTurns counts the question/answer turns of history the request
// carries before its last question: the assistant messages before it.
func (r Request) EarlierTurns() int {
	n := 0
	for _, m := range r.Messages[:r.lastUser()] {
		if m.Role == "assistant" {
			n++
		}
	}
	return n
}

// lastUser is the index of the last user message, or len(r.Messages) when
// there is none.
func (r Request) lastUser() int {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == "user" {
			return i
		}
	}
	return len(r.Messages)
}

// ToolRounds counts the tool rounds that follow the last question: its
// assistant messages with tool calls.
func (r Request) ToolRounds() int {
	last, n := r.lastUser(), 0
	for i, c := range r.ToolCalls {
		if c.Message > last && (i == 0 || c.Message != r.ToolCalls[i-1].Message) {
			n++
		}
	}
	return n
}

// ToolResults are the tool messages that follow the last question: what
// the tools gave, oldest first.
func (r Request) ToolResults() []Message {
	var out []Message
	for _, m := range r.Messages[min(r.lastUser()+1, len(r.Messages)):] {
		if m.Role == "tool" {
			out = append(out, m)
		}
	}
	return out
}

// Tool returns the offered tool of that name.
func (r Request) Tool(name string) (Tool, bool) {
	for _, t := range r.Tools {
		if t.Name == name {
			return t, true
		}
	}
	return Tool{}, false
}

// Call returns the call of an assistant message that has that id.
func (r Request) Call(id string) (ToolCall, bool) {
	for _, c := range r.ToolCalls {
		if c.ID == id {
			return c, true
		}
	}
	return ToolCall{}, false
}

// Response is what a Responder wants the server to answer.
type Response struct {
	// Content is the assistant's answer, or what it writes with its tool
	// calls.
	Content string
	// FinishReason defaults to "stop", or "tool_calls" with ToolCalls.
	FinishReason string
	// ToolCalls are the tools the model asks for. Streamed, they come
	// after the content, as providers send them: each call's first piece
	// carries its id, type and name, the others only its index and a few
	// runes of its arguments.
	ToolCalls []ToolCall
	// InterleaveToolCalls streams a piece of each call in turn rather than
	// one call after the other.
	InterleaveToolCalls bool
	// OmitToolCallIDs sends the calls without ids, as some local servers
	// do.
	OmitToolCallIDs bool

	// Status other than 0 and 200 makes the server answer with OpenAI's error
	// body carrying ErrorMessage (http.StatusText when empty) and ErrorCode
	// (a default that matches the status when empty, e.g. "invalid_api_key"
	// for 401, "insufficient_quota" for a 429 whose quota is exhausted).
	Status       int
	ErrorMessage string
	ErrorCode    string
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// RefuseImages makes the server answer a request that carries pictures
	// as OpenAI does for a model that cannot see: 400, "Invalid content
	// type. image_url is only supported by certain models.", at once.
	// Requests without pictures are answered as the other fields say.
	RefuseImages bool

	// Delay is waited before answering; the wait ends early when the client
	// goes away (counted by Server.Abandoned) or the server closes.
	Delay time.Duration
	// Chunks are the content pieces of a streamed answer; when nil, Content
	// is split into pieces of a few characters.
	Chunks []string
	// Reasoning are pieces of reasoning_content streamed before the
	// content, as DeepSeek's reasoning models send their thinking, each
	// after ChunkDelay; a whole answer carries them joined.
	Reasoning []string
	// ChunkDelay is waited between streamed chunks.
	ChunkDelay time.Duration
	// DropConnection closes the connection without answering, as a crashed
	// proxy or a network failure would.
	DropConnection bool
	// DropAfterChunks, when above 0, closes the connection of a streamed
	// answer after that many content chunks: a connection lost mid-answer.
	DropAfterChunks int
}

// Responder decides the answer to a request. ctx ends when the client goes
// away or the server closes. A Responder may be called concurrently.
type Responder func(ctx context.Context, req Request) Response

// Server is a fake OpenAI-compatible endpoint on a loopback httptest server.
type Server struct {
	ts   *httptest.Server
	done chan struct{}
	once sync.Once

	mu          sync.Mutex
	responder   Responder
	apiKey      string
	requests    []Request
	abandoned   int
	completions int
}

// NewServer starts a server that answers every chat completion with r.
func NewServer(r Responder) *Server {
	s := newServer(r)
	s.ts.Start()
	return s
}

// NewInMemoryServer starts a server like NewServer's on connections made
// in memory (package pipenet), which only its Client reaches: the same
// HTTP, on connections a testing/synctest bubble can wait on. A test in a
// bubble makes the server inside it.
func NewInMemoryServer(r Responder) *Server {
	s := newServer(r)
	pipenet.Start(s.ts)
	return s
}

// Client is an HTTP client that reaches the server, however it listens.
func (s *Server) Client() *http.Client { return s.ts.Client() }

func newServer(r Responder) *Server {
	s := &Server{responder: r, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.handleChatCompletions)
	mux.HandleFunc("GET /v1/models", s.handleModels)
	mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		// OpenAI's answer to a path it does not serve, and to a method a
		// path does not take (GET /v1/chat/completions): not 405 but 404.
		writeError(w, http.StatusNotFound, fmt.Sprintf("Invalid URL (%s %s)", req.Method, req.URL.Path), "invalid_request_error", "")
	})
	s.ts = httptest.NewUnstartedServer(mux)
	return s
}

// URL returns the base URL clients are configured with, ending in /v1.
func (s *Server) URL() string { return s.ts.URL + "/v1" }

// Close stops the server, ending the waits of requests still in flight.
func (s *Server) Close() {
	s.once.Do(func() { close(s.done) })
	s.ts.Close()
}

// SetResponder replaces the responder for the requests that follow.
func (s *Server) SetResponder(r Responder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responder = r
}

// RequireAPIKey makes the server refuse, with 401 as OpenAI does, requests
// that do not carry "Authorization: Bearer <key>". An empty key accepts any
// request, which is the default.
func (s *Server) RequireAPIKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKey = key
}

// Requests returns the well-formed chat-completions requests received so
// far, in order, including those refused for a wrong API key.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	copy(out, s.requests)
	return out
}

// Abandoned counts the requests whose client went away before the server
// had finished answering them.
func (s *Server) Abandoned() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.abandoned
}

// wireRequest is the part of the chat-completions request body the server
// reads.
type wireRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role             string          `json:"role"`
		Content          json.RawMessage `json:"content"`
		ReasoningContent string          `json:"reasoning_content"`
		ToolCalls        []wireToolCall  `json:"tool_calls"`
		ToolCallID       *string         `json:"tool_call_id"`
	} `json:"messages"`
	Tools         json.RawMessage `json:"tools"`
	Temperature   *float64        `json:"temperature"`
	Stream        bool            `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func (s *Server) handleChatCompletions(w http.ResponseWriter, r *http.Request) {
	req, firstImage, problem := decodeRequest(r)
	if problem != nil {
		writeErrorBody(w, http.StatusBadRequest, *problem)
		return
	}

	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.completions++
	id := fmt.Sprintf("chatcmpl-openaitest%06d", s.completions)
	respond, wantKey := s.responder, s.apiKey
	s.mu.Unlock()

	if msg, code, ok := checkKey(req.Authorization, wantKey); !ok {
		writeError(w, http.StatusUnauthorized, msg, "invalid_request_error", code)
		return
	}

	ctx, cancel := s.requestContext(r)
	defer cancel()
	resp := respond(ctx, req)

	if resp.RefuseImages && firstImage != "" {
		// The real API checks content types before anything else runs.
		writeErrorBody(w, http.StatusBadRequest, wireErrorBody{
			Message: "Invalid content type. image_url is only supported by certain models.",
			Type:    "invalid_request_error",
			Param:   &firstImage,
		})
		return
	}
	if !s.wait(ctx, resp.Delay) {
		return
	}
	if resp.DropConnection {
		dropConnection(w)
		return
	}
	if resp.RetryAfter != "" {
		w.Header().Set("Retry-After", resp.RetryAfter)
	}
	if resp.Status != 0 && resp.Status != http.StatusOK {
		msg := resp.ErrorMessage
		if msg == "" {
			msg = http.StatusText(resp.Status)
		}
		errType, code := errorTypeAndCode(resp.Status, resp.ErrorCode)
		writeError(w, resp.Status, msg, errType, code)
		return
	}
	if req.Stream {
		s.stream(ctx, w, id, req, resp)
		return
	}
	writeCompletion(w, id, req, resp)
}

// decodeRequest reads a chat-completions request. firstImage is the param,
// in OpenAI's notation, of the request's first image part; empty when it
// has none. A problem is the 400 the real API answers.
func decodeRequest(r *http.Request) (req Request, firstImage string, problem *wireErrorBody) {
	invalid := func(msg string) *wireErrorBody {
		return &wireErrorBody{Message: msg, Type: "invalid_request_error"}
	}
	var wire wireRequest
	var keys map[string]json.RawMessage
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = json.Unmarshal(body, &wire)
	}
	if err == nil {
		err = json.Unmarshal(body, &keys)
	}
	if err != nil {
		return Request{}, "", invalid("We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)")
	}
	if wire.Model == "" {
		return Request{}, "", invalid("you must provide a model parameter")
	}
	if len(wire.Messages) == 0 {
		return Request{}, "", invalid("[] is too short - 'messages'")
	}
	req = Request{
		Model:         wire.Model,
		Temperature:   wire.Temperature,
		Stream:        wire.Stream,
		IncludeUsage:  wire.StreamOptions != nil && wire.StreamOptions.IncludeUsage,
		Authorization: r.Header.Get("Authorization"),
	}
	for k, v := range keys {
		if !slices.Contains(knownKeys, k) {
			if req.Extra == nil {
				req.Extra = make(map[string]json.RawMessage)
			}
			req.Extra[k] = v
		}
	}
	for i, m := range wire.Messages {
		c, problem := decodeContent(i, m.Content)
		if problem != nil {
			return Request{}, "", problem
		}
		if firstImage == "" && c.firstImage >= 0 {
			// The real API writes this param with dots before the brackets.
			firstImage = fmt.Sprintf("messages.[%d].content.[%d].type", i, c.firstImage)
		}
		msg := Message{Role: m.Role, Content: c.text}
		switch m.Role {
		case "user":
			req.Images = c.images
		case "assistant":
			msg.Reasoning = m.ReasoningContent
			calls, problem := decodeToolCalls(i, m.ToolCalls)
			if problem != nil {
				return Request{}, "", problem
			}
			req.ToolCalls = append(req.ToolCalls, calls...)
		case "tool":
			if m.ToolCallID == nil {
				return Request{}, "", missing(fmt.Sprintf("messages[%d].tool_call_id", i))
			}
			if len(m.Content) == 0 || string(m.Content) == "null" {
				return Request{}, "", missing(fmt.Sprintf("messages[%d].content", i))
			}
			msg.ToolCallID = *m.ToolCallID
		}
		req.Messages = append(req.Messages, msg)
	}
	if problem := checkToolTurns(req.Messages, req.ToolCalls); problem != nil {
		return Request{}, "", problem
	}
	req.Tools, problem = decodeTools(wire.Tools)
	if problem != nil {
		return Request{}, "", problem
	}
	return req, firstImage, nil
}

// content is a decoded message content.
type content struct {
	text   string
	images []Image
	// firstImage is the index of the first image part, -1 when none.
	firstImage int
}

// wirePart is a content part as the server reads it.
type wirePart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	ImageURL *struct {
		URL    string `json:"url"`
		Detail string `json:"detail"`
	} `json:"image_url"`
}

// decodeContent reads the content of message i, which the API accepts as a
// string or as an array of parts. Text parts are joined, image parts are
// decoded and checked as the real API checks them; other parts are
// ignored.
func decodeContent(i int, raw json.RawMessage) (content, *wireErrorBody) {
	c := content{firstImage: -1}
	if len(raw) == 0 || string(raw) == "null" {
		return c, nil
	}
	if err := json.Unmarshal(raw, &c.text); err == nil {
		return c, nil
	}
	var parts []wirePart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return c, &wireErrorBody{
			Message: fmt.Sprintf("Invalid type for 'messages[%d].content': expected a string or an array of content parts.", i),
			Type:    "invalid_request_error",
		}
	}
	var text strings.Builder
	for j, p := range parts {
		switch p.Type {
		case "text":
			text.WriteString(p.Text)
		case "image_url":
			if c.firstImage < 0 {
				c.firstImage = j
			}
			img, problem := decodeImage(i, j, p)
			if problem != nil {
				return c, problem
			}
			c.images = append(c.images, img)
		}
	}
	c.text = text.String()
	return c, nil
}

// decodeImage reads image part j of message i with the real API's
// refusals: a URL that is neither http(s) nor a data URL, a data URL that
// is not an image's or not base64, bytes that are not a PNG, JPEG, GIF or
// WebP picture, a detail it does not know.
func decodeImage(i, j int, p wirePart) (Image, *wireErrorBody) {
	var img Image
	if p.ImageURL != nil {
		img.URL, img.Detail = p.ImageURL.URL, p.ImageURL.Detail
	}
	urlParam := fmt.Sprintf("messages[%d].content[%d].image_url.url", i, j)
	badURL := func(got string) *wireErrorBody {
		return &wireErrorBody{
			Message: fmt.Sprintf("Invalid image URL: '%s'. Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got %s.", urlParam, got),
			Type:    "invalid_request_error",
			Param:   &urlParam,
			Code:    ptr("invalid_value"),
		}
	}
	switch img.Detail {
	case "", "auto", "low", "high":
	default:
		return Image{}, &wireErrorBody{
			Message: fmt.Sprintf("Invalid value: '%s'. Supported values are: 'auto', 'low', and 'high'.", img.Detail),
			Type:    "invalid_request_error",
			Param:   ptr(fmt.Sprintf("messages[%d].content[%d].image_url.detail", i, j)),
			Code:    ptr("invalid_value"),
		}
	}
	lower := strings.ToLower(img.URL)
	if strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://") {
		return img, nil
	}
	if !strings.HasPrefix(lower, "data:") {
		return Image{}, badURL("a value without the 'data:' prefix")
	}
	meta, payload, _ := strings.Cut(img.URL[len("data:"):], ",")
	mediaType, isBase64 := strings.CutSuffix(meta, ";base64")
	if !strings.HasPrefix(strings.ToLower(mediaType), "image/") {
		return Image{}, badURL(fmt.Sprintf("unsupported MIME type '%s'", mediaType))
	}
	data, err := base64.StdEncoding.DecodeString(payload)
	if !isBase64 || err != nil || len(data) == 0 {
		return Image{}, &wireErrorBody{Message: "Invalid base64 image_url.", Type: "invalid_request_error"}
	}
	switch sniffed, _, _ := strings.Cut(http.DetectContentType(data), ";"); sniffed {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
	default:
		return Image{}, &wireErrorBody{
			Message: "You uploaded an unsupported image. Please make sure your image has of one the following formats: ['png', 'jpeg', 'gif', 'webp'].",
			Type:    "invalid_request_error",
			Code:    ptr("invalid_image_format"),
		}
	}
	img.MediaType, img.Data, img.URL = mediaType, data, ""
	return img, nil
}

func ptr(s string) *string { return &s }

// checkKey compares the Authorization header with the expected key and, when
// they differ, returns OpenAI's message and code for the case. Like OpenAI,
// the message shows the wrong key masked, which tests that clients scrub it.
func checkKey(authorization, want string) (msg, code string, ok bool) {
	if want == "" {
		return "", "", true
	}
	got, found := strings.CutPrefix(authorization, "Bearer ")
	if !found || got == "" {
		return "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", "", false
	}
	if got == want {
		return "", "", true
	}
	return fmt.Sprintf("Incorrect API key provided: %s. You can find your API key at https://platform.openai.com/account/api-keys.", maskKey(got)), "invalid_api_key", false
}

func maskKey(key string) string {
	if len(key) <= 10 {
		return strings.Repeat("*", len(key))
	}
	return key[:3] + strings.Repeat("*", len(key)-7) + key[len(key)-4:]
}

func errorTypeAndCode(status int, code string) (errType, errCode string) {
	switch {
	case code == "insufficient_quota":
		return "insufficient_quota", code
	case status == http.StatusUnauthorized && code == "":
		return "invalid_request_error", "invalid_api_key"
	case status == http.StatusNotFound && code == "":
		return "invalid_request_error", "model_not_found"
	case status == http.StatusTooManyRequests:
		if code == "" {
			code = "rate_limit_exceeded"
		}
		return "requests", code
	case status >= 500:
		return "server_error", code
	}
	return "invalid_request_error", code
}

// requestContext is the request's context, also ended when the server closes
// so that a long Delay cannot hold Close up.
func (s *Server) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// wait sleeps for d and reports whether the answer should still be sent.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		if ctx.Err() != nil {
			s.noteGone()
			return false
		}
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		s.noteGone()
		return false
	}
}

// noteGone counts an abandoned request, unless the wait ended because the
// server itself is closing.
func (s *Server) noteGone() {
	select {
	case <-s.done:
		return
	default:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.abandoned++
}

func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// httptest serves HTTP/1.1, which can always be hijacked.
		panic("openaitest: connection cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic("openaitest: hijack: " + err.Error())
	}
	conn.Close()
}

type wireError struct {
	Error wireErrorBody `json:"error"`
}

type wireErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func writeError(w http.ResponseWriter, status int, msg, errType, code string) {
	body := wireErrorBody{Message: msg, Type: errType}
	if code != "" {
		body.Code = &code
	}
	writeErrorBody(w, status, body)
}

func writeErrorBody(w http.ResponseWriter, status int, body wireErrorBody) {
	writeJSON(w, status, wireError{Error: body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("openaitest: encoding a response: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

type wireMessage struct {
	Role string `json:"role"`
	// Content is null in an answer that only calls tools.
	Content          *string          `json:"content"`
	ReasoningContent string           `json:"reasoning_content,omitempty"`
	ToolCalls        []wireAnswerCall `json:"tool_calls,omitempty"`
}

type wireUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type wireChoice struct {
	Index        int         `json:"index"`
	Message      wireMessage `json:"message"`
	Logprobs     *struct{}   `json:"logprobs"`
	FinishReason string      `json:"finish_reason"`
}

type wireCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []wireChoice `json:"choices"`
	Usage             wireUsage    `json:"usage"`
	SystemFingerprint *string      `json:"system_fingerprint"`
}

func writeCompletion(w http.ResponseWriter, id string, req Request, resp Response) {
	msg := wireMessage{Role: "assistant", ReasoningContent: strings.Join(resp.Reasoning, "")}
	if resp.Content != "" || len(resp.ToolCalls) == 0 {
		msg.Content = &resp.Content
	}
	calls := answerCalls(id, resp)
	for _, c := range calls {
		var wc wireAnswerCall
		wc.ID, wc.Type, wc.Function.Name, wc.Function.Arguments = c.ID, c.Type, c.Name, c.Arguments
		msg.ToolCalls = append(msg.ToolCalls, wc)
	}
	writeJSON(w, http.StatusOK, wireCompletion{
		ID:      id,
		Object:  "chat.completion",
		Created: time.Now().Unix(),
		Model:   req.Model,
		Choices: []wireChoice{{
			Message:      msg,
			FinishReason: finishReason(resp),
		}},
		Usage: usage(req, resp.Content+callsText(calls)),
	})
}

type wireDelta struct {
	Role             string              `json:"role,omitempty"`
	Content          string              `json:"content,omitempty"`
	ReasoningContent string              `json:"reasoning_content,omitempty"`
	ToolCalls        []wireToolCallDelta `json:"tool_calls,omitempty"`
}

type wireChunkChoice struct {
	Index        int       `json:"index"`
	Delta        wireDelta `json:"delta"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

type wireChunk struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	Created           int64             `json:"created"`
	Model             string            `json:"model"`
	SystemFingerprint *string           `json:"system_fingerprint"`
	Choices           []wireChunkChoice `json:"choices"`
	Usage             *wireUsage        `json:"usage,omitempty"`
}

// stream answers as OpenAI does when asked to stream: a first chunk with the
// role, one chunk per piece of reasoning, then of content, then of a tool
// call, a chunk with the finish reason, the usage chunk when asked for,
// then [DONE].
func (s *Server) stream(ctx context.Context, w http.ResponseWriter, id string, req Request, resp Response) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		panic("openaitest: response cannot be flushed")
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)

	created := time.Now().Unix()
	send := func(choices []wireChunkChoice, u *wireUsage) bool {
		b, err := json.Marshal(wireChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model, Choices: choices, Usage: u})
		if err != nil {
			panic("openaitest: encoding a chunk: " + err.Error())
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			s.noteGone()
			return false
		}
		flusher.Flush()
		return true
	}

	if !send([]wireChunkChoice{{Delta: wireDelta{Role: "assistant"}}}, nil) {
		return
	}
	for _, r := range resp.Reasoning {
		if !s.wait(ctx, resp.ChunkDelay) || !send([]wireChunkChoice{{Delta: wireDelta{ReasoningContent: r}}}, nil) {
			return
		}
	}
	chunks := resp.Chunks
	if chunks == nil {
		chunks = splitContent(resp.Content, 4)
	}
	for i, c := range chunks {
		if (i > 0 || len(resp.Reasoning) > 0) && !s.wait(ctx, resp.ChunkDelay) {
			return
		}
		if !send([]wireChunkChoice{{Delta: wireDelta{Content: c}}}, nil) {
			return
		}
		if i+1 == resp.DropAfterChunks {
			dropConnection(w)
			return
		}
	}
	calls := answerCalls(id, resp)
	for i, piece := range toolCallPieces(calls, resp.InterleaveToolCalls) {
		if (i > 0 || len(chunks) > 0 || len(resp.Reasoning) > 0) && !s.wait(ctx, resp.ChunkDelay) {
			return
		}
		if !send([]wireChunkChoice{{Delta: wireDelta{ToolCalls: []wireToolCallDelta{piece}}}}, nil) {
			return
		}
	}
	reason := finishReason(resp)
	if !send([]wireChunkChoice{{FinishReason: &reason}}, nil) {
		return
	}
	if req.IncludeUsage {
		u := usage(req, strings.Join(chunks, "")+callsText(calls))
		if !send([]wireChunkChoice{}, &u) {
			return
		}
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	flusher.Flush()
}

// splitContent cuts s into pieces of n runes, about the size of the tokens a
// model streams.
func splitContent(s string, n int) []string {
	var pieces []string
	for s != "" {
		end, count := 0, 0
		for end < len(s) && count < n {
			_, size := utf8.DecodeRuneInString(s[end:])
			end += size
			count++
		}
		pieces = append(pieces, s[:end])
		s = s[end:]
	}
	return pieces
}

func finishReason(resp Response) string {
	switch {
	case resp.FinishReason != "":
		return resp.FinishReason
	case len(resp.ToolCalls) > 0:
		return "tool_calls"
	}
	return "stop"
}

// usage estimates token counts at about four characters a token, and a
// picture at the 85 tokens OpenAI counts for a small one; clients only
// display them.
func usage(req Request, answer string) wireUsage {
	prompt := 85 * len(req.Images)
	for _, m := range req.Messages {
		prompt += 4 + tokens(m.Content)
	}
	completion := tokens(answer)
	return wireUsage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

func tokens(s string) int { return (utf8.RuneCountInString(s) + 3) / 4 }

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	wantKey := s.apiKey
	seen := []string{DefaultModel}
	for _, req := range s.requests {
		if !slices.Contains(seen, req.Model) {
			seen = append(seen, req.Model)
		}
	}
	s.mu.Unlock()
	if msg, code, ok := checkKey(r.Header.Get("Authorization"), wantKey); !ok {
		writeError(w, http.StatusUnauthorized, msg, "invalid_request_error", code)
		return
	}

	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list"}
	for _, id := range seen {
		list.Data = append(list.Data, model{ID: id, Object: "model", Created: 1700000000, OwnedBy: "openaitest"})
	}
	writeJSON(w, http.StatusOK, list)
}

// DefaultModel is the model the server lists before any request named one.
const DefaultModel = "openaitest"
