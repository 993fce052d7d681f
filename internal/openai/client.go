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
	return &Client{
		baseURL:     base,
		apiKey:      cfg.APIKey,
		model:       strings.TrimSpace(cfg.Model),
		temperature: cfg.Temperature,
		httpClient:  httpClient,
		logger:      logger,
		retry:       policy,
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
func (c *Client) Complete(ctx context.Context, p chat.Prompt) (chat.Completion, error) {
	req, inline, err := c.request(p)
	if err != nil {
		return chat.Completion{}, err
	}
	withImages := len(p.Images) > 0
	return c.withRetries(ctx, inline, func(ctx context.Context, api *goopenai.Client) (chat.Completion, *failure) {
		resp, err := api.CreateChatCompletion(ctx, req)
		if err != nil {
			f := c.classify(ctx, err, withImages)
			return chat.Completion{}, &f
		}
		if len(resp.Choices) == 0 {
			return chat.Completion{}, &failure{err: &Error{Kind: chat.ErrModelEmptyAnswer, StatusCode: http.StatusOK, Message: "the answer has no choices"}}
		}
		choice := resp.Choices[0]
		answer := strings.TrimSpace(choice.Message.Content)
		if answer == "" {
			return chat.Completion{}, &failure{err: &Error{Kind: chat.ErrModelEmptyAnswer, StatusCode: http.StatusOK, Message: emptyReason(string(choice.FinishReason))}}
		}
		return chat.Completion{Text: answer, Usage: usage(resp.Usage)}, nil
	})
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
// text received so far each time the model sends some, or sends reasoning
// (reasoning_content, not part of the text: then the text may be
// unchanged, or empty), and the whole answer is returned at the end. An error from onDelta stops
// the stream and is returned wrapped. A stream that breaks after text was
// delivered is not retried, since the text would start over.
func (c *Client) Stream(ctx context.Context, p chat.Prompt, onDelta func(textSoFar string) error) (chat.Completion, error) {
	req, inline, err := c.request(p)
	if err != nil {
		return chat.Completion{}, err
	}
	// The usage of a streamed answer comes in a last chunk of its own,
	// only when asked for.
	req.StreamOptions = &goopenai.StreamOptions{IncludeUsage: true}
	withImages := len(p.Images) > 0
	return c.withRetries(ctx, inline, func(ctx context.Context, api *goopenai.Client) (chat.Completion, *failure) {
		stream, err := api.CreateChatCompletionStream(ctx, req)
		if err != nil {
			f := c.classify(ctx, err, withImages)
			return chat.Completion{}, &f
		}
		defer stream.Close()

		var text strings.Builder
		var used chat.Usage
		delivered := false
		for {
			chunk, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f := c.classify(ctx, err, withImages)
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
			if delta.Content == "" && delta.ReasoningContent == "" {
				continue // the role chunk, the finish chunk
			}
			text.WriteString(delta.Content)
			// Blank space a model starts with would only flicker on screen.
			soFar := strings.TrimLeftFunc(text.String(), unicode.IsSpace)
			delivered = delivered || soFar != ""
			// Reasoning (DeepSeek's reasoning_content) is not shown, but it
			// tells the caller the model is at work.
			if err := onDelta(soFar); err != nil {
				return chat.Completion{}, &failure{err: fmt.Errorf("openai: stream stopped by its consumer: %w", err)}
			}
		}
		answer := strings.TrimSpace(text.String())
		if answer == "" {
			return chat.Completion{}, &failure{err: &Error{Kind: chat.ErrModelEmptyAnswer, StatusCode: http.StatusOK, Message: "the stream carried no text"}}
		}
		return chat.Completion{Text: answer, Usage: used}, nil
	})
}

// classify is the package's classify, which also tells a refusal of the
// request's pictures from other refusals.
func (c *Client) classify(ctx context.Context, err error, withImages bool) failure {
	f := classify(ctx, err, c.apiKey)
	var e *Error
	if withImages && errors.As(f.err, &e) && e.Kind == chat.ErrModelRejected && e.StatusCode != 0 && refusesImages(e.Message) {
		e.Reason = chat.ErrImagesRefused
	}
	return f
}

func emptyReason(finishReason string) string {
	if finishReason == "" {
		return "the answer has no text"
	}
	return "the answer has no text (finish_reason " + finishReason + ")"
}

// request builds the chat-completions request: the system prompt, each
// earlier turn as a user message and an assistant message, the question
// with its pictures, which are marks in the request that inline replaces
// as it is sent (nil without pictures).
func (c *Client) request(p chat.Prompt) (goopenai.ChatCompletionRequest, *inlineImages, error) {
	msgs := make([]goopenai.ChatCompletionMessage, 0, 2+2*len(p.History))
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
		return goopenai.ChatCompletionRequest{}, nil, err
	}
	msgs = append(msgs, last)
	model := c.model
	if p.Model != "" {
		model = p.Model
	}
	return goopenai.ChatCompletionRequest{
		Model:       model,
		Messages:    msgs,
		Temperature: c.temperature,
	}, inline, nil
}

// attemptFunc makes one call through api. A nil failure is a success.
type attemptFunc func(ctx context.Context, api *goopenai.Client) (chat.Completion, *failure)

// withRetries runs attempt until it succeeds, fails in a way that another
// attempt cannot fix, or the deadline leaves no room for another attempt.
// It never sleeps past the deadline: it gives up with the last error
// instead.
func (c *Client) withRetries(ctx context.Context, inline *inlineImages, attempt attemptFunc) (chat.Completion, error) {
	for n := 1; ; n++ {
		doer := &recordingDoer{client: c.httpClient, inline: inline}
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
