// Package openai asks an OpenAI-compatible chat-completions endpoint (OpenAI,
// DashScope, DeepSeek, Moonshot, Ollama...) to answer a question in the
// light of a conversation's history and, for a model that can see, of the
// pictures sent with it.
//
// It retries what a retry can fix within the caller's deadline and reports
// every failure as an *Error whose Kind, one of package chat's kinds of
// model failure, tells the robot what to say to the user
// (docs/protocols.md §14).
//
// It knows nothing of DingTalk, FC or the OSS mount, and keeps the API key
// out of every error and log line.
package openai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// Config configures a Client.
type Config struct {
	// BaseURL is the endpoint, with or without its /v1; empty means OpenAI.
	BaseURL string
	// APIKey is sent as a bearer token; empty sends none (Ollama needs none).
	APIKey string
	// Model is the model name sent with every request.
	Model string
	// Temperature is sent when it is not 0. At 0 the provider's default
	// applies: go-openai leaves a zero temperature out of the request.
	Temperature float32
	// HTTPClient defaults to a client without a timeout: the caller's
	// context carries the deadline.
	HTTPClient *http.Client
	// Logger receives a line per retry; nil discards them.
	Logger *slog.Logger
	// Retry is how a failed call is retried; the zero value means
	// DefaultRetry.
	Retry retry.Policy
	// ExtraBody are keys added to the JSON body of every chat request:
	// parameters of a provider's own, such as DashScope's
	// "enable_search": true. Each value is written as JSON. A key the
	// client writes itself (model, messages, temperature, stream,
	// stream_options, tools, tool_choice) is refused; any other key the
	// request already has is replaced.
	ExtraBody map[string]any
}

// Client calls the model. It is safe for concurrent use.
type Client struct {
	baseURL     string
	apiKey      string
	model       string
	temperature float32
	httpClient  *http.Client
	logger      *slog.Logger
	retry       retry.Policy
	extra       bodyKeys
}

// New checks the configuration and returns a client for it.
func New(cfg Config) (*Client, error) {
	base, err := normalizeBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("openai: no model configured")
	}
	httpClient := &http.Client{}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		httpClient = &copied
	}
	// A redirect would carry the prompt, the history and the pictures (a
	// 307 or 308 resends the body) to wherever the endpoint points: the
	// operator named one endpoint, and only it is asked.
	httpClient.CheckRedirect = refuseRedirects
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	policy := cfg.Retry
	if policy == (retry.Policy{}) {
		policy = DefaultRetry
	}
	extra, err := extraBody(cfg.ExtraBody)
	if err != nil {
		return nil, err
	}
	return &Client{
		baseURL:     base,
		apiKey:      cfg.APIKey,
		model:       strings.TrimSpace(cfg.Model),
		temperature: cfg.Temperature,
		httpClient:  httpClient,
		logger:      logger,
		retry:       policy,
		extra:       extra,
	}, nil
}

// Complete asks the model p's question, after p's system prompt and the
// turns of its history, oldest first, and returns the answer without
// surrounding blank space. The deadline is ctx's. Failures are *Error,
// except a cancelled ctx, which returns ctx.Err() wrapped.
//
// The question is sent first, then the pictures in order, each inline as
// a base64 data URL. A blank question sends the pictures alone: providers
// refuse an empty text part, and a prompt to describe them is the
// caller's to choose, in the user's language. The caller bounds what it
// downloads; the client refuses, without sending anything, pictures that
// are empty, that are not pictures, or that total more than MaxImageBytes
// (chat.ErrInvalidImages). When the endpoint refuses pictures, as a model that
// cannot see does, the error matches chat.ErrImagesRefused.
//
// p's tools are offered to the model, and its tool rounds follow the
// question (see request). An answer that asks for tools has ToolCalls, in
// the order of their indexes (see toolCalls.calls for the ids and names
// the client makes good), and is not empty even without text. When the
// endpoint refuses the tools or the rounds, as a model that cannot call
// tools does, the error matches chat.ErrToolsRefused.
func (c *Client) Complete(ctx context.Context, p chat.Prompt) (chat.Completion, error) {
	r, err := c.request(p)
	if err != nil {
		return chat.Completion{}, err
	}
	return c.withRetries(ctx, r, func(ctx context.Context, api *goopenai.Client) (chat.Completion, *failure) {
		resp, err := api.CreateChatCompletion(ctx, r.req)
		if err != nil {
			f := c.classify(ctx, err, r)
			return chat.Completion{}, &f
		}
		if len(resp.Choices) == 0 {
			return chat.Completion{}, &failure{err: &Error{Kind: chat.ErrModelEmptyAnswer, StatusCode: http.StatusOK, Message: "the answer has no choices"}}
		}
		choice := resp.Choices[0]
		var calls toolCalls
		for i, tc := range choice.Message.ToolCalls {
			// A whole answer's calls carry no index: their place is theirs.
			tc.Index = &i
			if err := calls.add([]goopenai.ToolCall{tc}); err != nil {
				return chat.Completion{}, &failure{err: err}
			}
		}
		return c.completion(ctx, r, choice.Message.Content, choice.Message.ReasoningContent, &calls, usage(resp.Usage), emptyReason(string(choice.FinishReason)))
	})
}

// completion is the answer made of what the model sent, or the failure of
// an empty one (why says why it is empty).
func (c *Client) completion(ctx context.Context, r *request, text, reasoning string, calls *toolCalls, used chat.Usage, why string) (chat.Completion, *failure) {
	asked, dropped := calls.calls(r.round)
	if dropped > 0 {
		c.logger.WarnContext(ctx, "model asked for tools without naming them; the calls are dropped",
			"model", r.req.Model, "dropped", dropped, "kept", len(asked))
	}
	answer := strings.TrimSpace(text)
	if answer == "" && len(asked) == 0 {
		return chat.Completion{}, &failure{err: &Error{Kind: chat.ErrModelEmptyAnswer, StatusCode: http.StatusOK, Message: why}}
	}
	return chat.Completion{Text: answer, Usage: used, ToolCalls: asked, Reasoning: reasoning}, nil
}

// redirectError is a redirect the client did not follow.
type redirectError struct{ from, to *url.URL }

func (e *redirectError) Error() string {
	return fmt.Sprintf("the endpoint redirects %s://%s to %s://%s, which is not followed: set ENDPOINT to the address that answers",
		e.from.Scheme, e.from.Host, e.to.Scheme, e.to.Host)
}

// refuseRedirects is the HTTP client's CheckRedirect: none is followed.
func refuseRedirects(req *http.Request, via []*http.Request) error {
	return &redirectError{from: via[0].URL, to: req.URL}
}

// usage is the model's report of an answer's tokens.
func usage(u goopenai.Usage) chat.Usage {
	return chat.Usage{Prompt: u.PromptTokens, Completion: u.CompletionTokens}
}

// Stream is Complete with the answer streamed: onDelta is called with the
// text received so far each time the model sends some, sends reasoning
// (reasoning_content, not part of the text) or sends a piece of a tool
// call: then the text may be unchanged, or empty, but the caller hears the
// model at work. The whole answer is returned at the end, its tool calls
// assembled (see toolCalls). An error from onDelta stops the stream and is
// returned wrapped. A stream that breaks after text was delivered is not
// retried, since the text would start over.
func (c *Client) Stream(ctx context.Context, p chat.Prompt, onDelta func(textSoFar string) error) (chat.Completion, error) {
	r, err := c.request(p)
	if err != nil {
		return chat.Completion{}, err
	}
	// The usage of a streamed answer comes in a last chunk of its own,
	// only when asked for.
	r.req.StreamOptions = &goopenai.StreamOptions{IncludeUsage: true}
	return c.withRetries(ctx, r, func(ctx context.Context, api *goopenai.Client) (chat.Completion, *failure) {
		stream, err := api.CreateChatCompletionStream(ctx, r.req)
		if err != nil {
			f := c.classify(ctx, err, r)
			return chat.Completion{}, &f
		}
		defer stream.Close()

		var text, reasoning strings.Builder
		var calls toolCalls
		var used chat.Usage
		delivered := false
		for {
			chunk, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f := c.classify(ctx, err, r)
				f.retryable = f.retryable && !delivered
				return chat.Completion{}, &f
			}
			if chunk.Usage != nil {
				used = usage(*chunk.Usage)
			}
			if len(chunk.Choices) == 0 {
				continue // the usage chunk
			}
			delta := chunk.Choices[0].Delta
			if delta.Content == "" && delta.ReasoningContent == "" && len(delta.ToolCalls) == 0 {
				continue // the role chunk, the finish chunk
			}
			if err := calls.add(delta.ToolCalls); err != nil {
				return chat.Completion{}, &failure{err: err}
			}
			text.WriteString(delta.Content)
			reasoning.WriteString(delta.ReasoningContent)
			// Blank space a model starts with would only flicker on screen.
			soFar := strings.TrimLeftFunc(text.String(), unicode.IsSpace)
			delivered = delivered || soFar != ""
			// Reasoning (DeepSeek's reasoning_content) and tool calls are
			// not shown, but they tell the caller the model is at work.
			if err := onDelta(soFar); err != nil {
				return chat.Completion{}, &failure{err: fmt.Errorf("openai: stream stopped by its consumer: %w", err)}
			}
		}
		return c.completion(ctx, r, text.String(), reasoning.String(), &calls, used, "the stream carried no text")
	})
}

// classify is the package's classify, which also tells a refusal of the
// request's pictures, or of its tools, from other refusals.
func (c *Client) classify(ctx context.Context, err error, r *request) failure {
	f := classify(ctx, err, c.apiKey)
	var e *Error
	if !errors.As(f.err, &e) || e.Kind != chat.ErrModelRejected || e.StatusCode == 0 {
		return f
	}
	switch {
	case r.withImages && refusesImages(e.Message):
		e.Reason = chat.ErrImagesRefused
	case r.withTools && e.Reason != chat.ErrContextTooLong && refusesTools(e.Message):
		e.Reason = chat.ErrToolsRefused
	}
	return f
}

func emptyReason(finishReason string) string {
	if finishReason == "" {
		return "the answer has no text"
	}
	return "the answer has no text (finish_reason " + finishReason + ")"
}

// request is a chat-completions request as the client sends it.
type request struct {
	req goopenai.ChatCompletionRequest
	// keys are added to the body as it is sent: ExtraBody's and the tools.
	keys bodyKeys
	// inline puts the pictures in (nil without pictures).
	inline *inlineImages
	// withImages and withTools say what a refusal may be about: the
	// request has pictures; it offers tools or carries tool rounds.
	withImages, withTools bool
	// round is the number of the tool round an answer with calls starts.
	round int
}

// request builds the chat-completions request: the system prompt, each
// earlier turn as a user message and an assistant message, the question
// with its pictures, which are marks in the request that inline replaces
// as it is sent, then the question's tool rounds (roundMessages). The
// tools go in the body's "tools", which is left out when there are none.
func (c *Client) request(p chat.Prompt) (*request, error) {
	msgs := make([]goopenai.ChatCompletionMessage, 0, 2+2*len(p.History)+2*len(p.Rounds))
	if p.System != "" {
		msgs = append(msgs, goopenai.ChatCompletionMessage{Role: goopenai.ChatMessageRoleSystem, Content: p.System})
	}
	for _, t := range p.History {
		// Providers refuse empty messages; a turn without both halves
		// adds nothing the model can use.
		if strings.TrimSpace(t.Question) == "" || strings.TrimSpace(t.Answer) == "" {
			continue
		}
		msgs = append(msgs,
			goopenai.ChatCompletionMessage{Role: goopenai.ChatMessageRoleUser, Content: t.Question},
			goopenai.ChatCompletionMessage{Role: goopenai.ChatMessageRoleAssistant, Content: t.Answer},
		)
	}
	last, inline, err := userMessage(p.Question, p.Images)
	if err != nil {
		return nil, err
	}
	msgs = append(msgs, last)
	rounds, err := roundMessages(p.Rounds, p.Tools)
	if err != nil {
		return nil, err
	}
	msgs = append(msgs, rounds...)
	tools, err := toolsJSON(p.Tools)
	if err != nil {
		return nil, err
	}
	model := c.model
	if p.Model != "" {
		model = p.Model
	}
	return &request{
		req: goopenai.ChatCompletionRequest{
			Model:       model,
			Messages:    msgs,
			Temperature: c.temperature,
		},
		keys:       c.extra.with("tools", tools),
		inline:     inline,
		withImages: len(p.Images) > 0,
		withTools:  len(p.Tools) > 0 || len(rounds) > 0,
		round:      len(p.Rounds) + 1,
	}, nil
}

// attemptFunc makes one call through api. A nil failure is a success.
type attemptFunc func(ctx context.Context, api *goopenai.Client) (chat.Completion, *failure)

// withRetries runs attempt until it succeeds, fails in a way that another
// attempt cannot fix, or the deadline leaves no room for another attempt.
// It never sleeps past the deadline: it gives up with the last error
// instead.
func (c *Client) withRetries(ctx context.Context, r *request, attempt attemptFunc) (chat.Completion, error) {
	for n := 1; ; n++ {
		doer := &recordingDoer{client: c.httpClient, keys: r.keys, inline: r.inline}
		cfg := goopenai.DefaultConfig(c.apiKey)
		cfg.BaseURL = c.baseURL
		cfg.HTTPClient = doer

		answer, f := attempt(ctx, goopenai.NewClientWithConfig(cfg))
		if f == nil {
			return answer, nil
		}
		if !f.retryable {
			return chat.Completion{}, f.err
		}
		after, hasAfter := retryAfter(doer.header, time.Now())
		wait, ok := c.retry.Next(ctx, n, after, hasAfter)
		if !ok {
			return chat.Completion{}, f.err
		}
		c.logger.WarnContext(ctx, "model call failed, retrying",
			"model", c.model, "attempt", n, "status", f.status, "error", f.err.Error(), "wait", wait)

		if err := retry.Sleep(ctx, wait); err != nil {
			if errors.Is(err, context.Canceled) {
				// The caller gave up on the model while it waited to try
				// again: what the model did last is still the reason.
				return chat.Completion{}, fmt.Errorf("openai: %w (not retried: %w)", f.err, err)
			}
			return chat.Completion{}, f.err
		}
	}
}
