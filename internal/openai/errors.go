package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/redact"
	goopenai "github.com/sashabaranov/go-openai"
)

// Error is a failed call to the model.
type Error struct {
	// Kind is one of package chat's kinds of model failure
	// (chat.ErrModelTimeout...), for errors.Is.
	Kind error
	// Reason, when not nil, singles out a rejection (Kind
	// chat.ErrModelRejected): chat.ErrImagesRefused when the endpoint
	// refused the pictures, as a model that cannot see does (OpenAI's
	// "image_url is only supported by certain models", DeepSeek's "unknown
	// variant `image_url`"...); chat.ErrInvalidImages when the client
	// refused to send them and sent nothing (StatusCode 0): one is empty or
	// not a picture, or together they exceed MaxImageBytes.
	Reason error
	// StatusCode is the HTTP status of the last answer, 0 when there was none.
	StatusCode int
	// Message is what the provider said (for example "The model `xyz` does
	// not exist"), or what went wrong on the way. It never holds the API
	// key, nor the data of a picture the provider echoed.
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("openai: ")
	b.WriteString(e.Kind.Error())
	if e.Reason != nil {
		b.WriteString(": ")
		b.WriteString(e.Reason.Error())
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap returns Kind and Reason, so that both errors.Is(err, chat.ErrModelRejected)
// and errors.Is(err, chat.ErrImagesRefused) work.
func (e *Error) Unwrap() []error {
	if e.Reason == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Reason}
}

// failure is one attempt's error and whether another attempt may succeed.
type failure struct {
	err       error
	retryable bool
	status    int
}

// maxMessageBytes bounds a provider message: some gateways answer errors
// with whole HTML pages.
const maxMessageBytes = 500

// classify turns what go-openai or the transport returned into a failure.
// apiKey is scrubbed from every message.
func classify(ctx context.Context, err error, apiKey string) failure {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return failure{err: &Error{Kind: chat.ErrModelTimeout}}
		}
		return failure{err: fmt.Errorf("openai: %w", ctxErr)}
	}
	newFailure := func(kind error, status int, msg string, retryable bool) failure {
		return failure{
			err:       &Error{Kind: kind, StatusCode: status, Message: scrub(msg, apiKey)},
			retryable: retryable,
			status:    status,
		}
	}

	// RequestError first: when the error body was not OpenAI's JSON shape,
	// go-openai puts the status there and may wrap a status-less APIError.
	var reqErr *goopenai.RequestError
	if errors.As(err, &reqErr) && reqErr.HTTPStatusCode != 0 {
		kind, retryable := kindOfStatus(reqErr.HTTPStatusCode, "")
		msg := messageFromBody(reqErr.Body, reqErr.HTTPStatusCode)
		return withReason(newFailure(kind, reqErr.HTTPStatusCode, msg, retryable), "", msg)
	}
	var apiErr *goopenai.APIError
	if errors.As(err, &apiErr) {
		if apiErr.HTTPStatusCode == 0 {
			// An error event in the middle of a stream.
			return newFailure(chat.ErrModelUnavailable, 0, apiErr.Message, true)
		}
		kind, retryable := kindOfStatus(apiErr.HTTPStatusCode, errorCode(apiErr))
		return withReason(newFailure(kind, apiErr.HTTPStatusCode, apiErr.Message, retryable), errorCode(apiErr), apiErr.Message)
	}

	var redirect *redirectError
	if errors.As(err, &redirect) {
		return newFailure(chat.ErrModelRejected, 0, redirect.Error(), false)
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		if urlErr.Timeout() {
			return newFailure(chat.ErrModelTimeout, 0, "", false)
		}
		// url.Error repeats the URL; the cause is what helps.
		return newFailure(chat.ErrModelUnavailable, 0, urlErr.Err.Error(), true)
	}
	if isConnectionFailure(err) {
		return newFailure(chat.ErrModelUnavailable, 0, "connection lost while reading the answer: "+err.Error(), true)
	}
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &syntaxErr) || errors.As(err, &typeErr) || errors.Is(err, goopenai.ErrTooManyEmptyStreamMessages) {
		return newFailure(chat.ErrModelUnavailable, 0, "the endpoint's answer is not an OpenAI chat completion; check the base URL", false)
	}
	// What is left is go-openai refusing the request before sending it,
	// such as a temperature that a reasoning model does not accept.
	return newFailure(chat.ErrModelRejected, 0, err.Error(), false)
}

// withReason sets the reason of f's rejection, when it is one and tooLong.
func withReason(f failure, code, msg string) failure {
	var e *Error
	if !errors.As(f.err, &e) || e.Kind != chat.ErrModelRejected {
		return f
	}
	switch {
	case tooLong(code, msg):
		e.Reason = chat.ErrContextTooLong
	case unknownModel(code, msg):
		e.Reason = chat.ErrModelUnknown
	}
	return f
}

// unknownModel reports whether a refusal says that the model named does not
// exist, or is not the key's to use: OpenAI's 404 model_not_found ("The
// model `x` does not exist or you do not have access to it"), DashScope's
// and others' "model not found" / "model ... not exist".
func unknownModel(code, msg string) bool {
	text := strings.ToLower(code + " " + msg)
	// A 404 alone is not enough: an ENDPOINT without its /v1 answers 404
	// too, and that is the address, not the model.
	return code == "model_not_found" ||
		strings.Contains(text, "model") && (strings.Contains(text, "does not exist") || strings.Contains(text, "not exist") || strings.Contains(text, "not found"))
}

// contextWords are what providers say when a prompt exceeds the model's
// window: OpenAI's code and message ("This model's maximum context length
// is 8192 tokens..."), which DeepSeek, vLLM and others copy; Anthropic's
// compatible endpoint ("prompt is too long"); DashScope's ("Range of input
// length should be [1, 30720]"); Ollama's and llama.cpp's ("exceeds the
// available context size").
var contextWords = []string{
	"context_length_exceeded", "maximum context length", "context length", "context window",
	"prompt is too long", "range of input length", "input is too long", "too many tokens",
	"exceeds the available context",
}

// tooLong reports whether a refusal's code or message says that the
// prompt exceeds the model's context window.
func tooLong(code, msg string) bool {
	text := strings.ToLower(code + " " + msg)
	for _, w := range contextWords {
		if strings.Contains(text, w) {
			return true
		}
	}
	return false
}

func kindOfStatus(status int, code string) (kind error, retryable bool) {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return chat.ErrModelUnauthorized, false
	case status == http.StatusTooManyRequests:
		// An exhausted quota stays exhausted: retrying only wastes the
		// deadline.
		return chat.ErrModelRateLimited, code != "insufficient_quota"
	case status == http.StatusRequestTimeout || status >= 500:
		return chat.ErrModelUnavailable, true
	}
	return chat.ErrModelRejected, false
}

func errorCode(e *goopenai.APIError) string {
	if s, ok := e.Code.(string); ok && s != "" {
		return s
	}
	return e.Type
}

func isConnectionFailure(err error) bool {
	var netErr net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.As(err, &netErr)
}

// messageFromBody finds the message in an error body that is not OpenAI's
// shape: {"error":"..."}, {"message":"..."}, plain text. An HTML page (a
// gateway's error page) says nothing the status does not.
func messageFromBody(body []byte, status int) string {
	var shapes struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &shapes) == nil {
		var s string
		if json.Unmarshal(shapes.Error, &s) == nil && s != "" {
			return s
		}
		var nested struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(shapes.Error, &nested) == nil && nested.Message != "" {
			return nested.Message
		}
		if shapes.Message != "" {
			return shapes.Message
		}
	}
	text := strings.Join(strings.Fields(string(body)), " ")
	if text == "" || strings.HasPrefix(text, "<") || strings.HasPrefix(text, "{") {
		return http.StatusText(status)
	}
	return text
}

// scrub removes the API key from a provider's message: some providers echo
// the key they were sent, whole or masked ("sk-abc****wxyz"), and each
// word that looks like such an echo is replaced as a secret of its own. It
// removes the pictures too: validation errors of some servers (vLLM's,
// for one) echo the offending input, data URL and all. It also bounds the
// message's length.
func scrub(msg, apiKey string) string {
	msg = redact.String(redactImageData(msg), apiKey)
	return truncate(redact.String(msg, keyEchoes(msg, apiKey)...), maxMessageBytes)
}

// keyEchoes lists the words of msg that look like a masked or partial echo
// of the key: they hold "***" or a fragment of the key.
func keyEchoes(msg, apiKey string) []string {
	words := strings.FieldsFunc(msg, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '"' || r == '\'' || r == '`' || r == ','
	})
	var echoes []string
	for _, w := range words {
		if w != redact.Placeholder && (strings.Contains(w, "***") || sharesFragment(w, apiKey)) {
			echoes = append(echoes, w)
		}
	}
	return echoes
}

// dataURL matches a data URL up to the end of its payload.
var dataURL = regexp.MustCompile(`(?i)data:[a-z0-9.+/;=_-]*,[A-Za-z0-9+/=_%-]*`)

// base64Run matches what may be a picture's base64 without its data: prefix.
var base64Run = regexp.MustCompile(`[A-Za-z0-9+/]{48,}={0,2}`)

// redactImageData replaces data URLs and long runs of base64 with a
// placeholder: a picture is big and may be private.
func redactImageData(msg string) string {
	msg = dataURL.ReplaceAllStringFunc(msg, func(u string) string {
		head, _, _ := strings.Cut(u, ",")
		return head + ",[image data]"
	})
	return base64Run.ReplaceAllStringFunc(msg, func(run string) string {
		// Real base64 mixes cases and digits; a long path or model name
		// ("projects/x/locations/y/endpoints") seldom does.
		if strings.ContainsAny(run, "0123456789") &&
			strings.ContainsAny(run, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
			strings.ContainsAny(run, "abcdefghijklmnopqrstuvwxyz") {
			return "[image data]"
		}
		return run
	})
}

// refusesImages reports whether a provider's message for a request that
// carried pictures says that the model cannot take them. Providers word
// it each their own way; the request having pictures is what makes the
// broader phrases ("expected a string") safe to read as a refusal.
func refusesImages(msg string) bool {
	m := strings.ToLower(msg)
	for _, phrase := range [...]string{
		"image_url is only supported by certain models", // OpenAI
		"not support image",                             // "does not support image input", "do not support images"
		"n't support image",                             // "doesn't support images"
		"not support vision",
		"n't support vision",
		"images are not supported",
		"image input is not supported",
		"unknown variant `image_url`",                // DeepSeek
		"untagged enum chatcompletionrequestcontent", // DeepSeek, earlier
		"invalid type: sequence, expected a string",  // DeepSeek, content parts refused
		"content must be a string",                   // endpoints without content parts
		"unexpected item type in content",            // DashScope, text-only models
	} {
		if strings.Contains(m, phrase) {
			return true
		}
	}
	return false
}

// keyFragment is the length of a piece of the key that counts as a leak.
const keyFragment = 8

// sharesFragment reports whether word holds keyFragment or more consecutive
// characters of key, such as a truncated echo of it.
func sharesFragment(word, key string) bool {
	if len(key) < keyFragment || len(word) < keyFragment {
		return false
	}
	for i := 0; i+keyFragment <= len(word); i++ {
		if strings.Contains(key, word[i:i+keyFragment]) {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// refusesTools reports whether a provider's message for a request that
// offered tools or carried tool rounds says that it will not take them:
// a model that cannot call tools (Ollama's "<model> does not support
// tools", vLLM's "auto" tool choice refusal, "does not support function
// calling"), a tool it will not take (OpenAI's "Invalid
// 'tools[0].function.name'"), calls and results that do not match
// ("tool_call_id"), or a thinking model whose reasoning did not come back
// (DeepSeek's "Missing `reasoning_content` field in the assistant
// message...", "The `reasoning_content` in the thinking mode must be
// passed back to the API."). The request carrying tools is what makes
// these words safe to read as a refusal of them.
func refusesTools(msg string) bool {
	m := strings.ToLower(msg)
	for _, phrase := range [...]string{
		"not support tool", // "does not support tools", "do not support tool calls"
		"n't support tool",
		"not support function", // "does not support function calling"
		"n't support function", //
		"tools are not supported",
		"tools is not supported",
		"tool use is not supported",
		"function calling is not",
		"tool choice", // vLLM: "auto" tool choice requires --enable-auto-tool-choice
		"tool_choice",
		"tools[", // OpenAI: Invalid 'tools[0].function.name': ...
		"'tools'",
		"tool_call", // tool_calls, tool_call_id
		"builtin_function",
		"reasoning_content", // DeepSeek, thinking mode
	} {
		if strings.Contains(m, phrase) {
			return true
		}
	}
	return false
}
