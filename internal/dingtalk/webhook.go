package dingtalk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/redact"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// DefaultWebhookHost is the host of DingTalk's session webhooks.
const DefaultWebhookHost = "oapi.dingtalk.com"

// maxResponseBytes bounds how much of a webhook's answer is read: DingTalk
// answers with a few dozen bytes, anything longer is not DingTalk.
const maxResponseBytes = 64 << 10

// maxErrorMessage bounds the text an APIError carries from the response.
const maxErrorMessage = 256

// DingTalk's errcode values seen in practice (docs/protocols.md §3).
const (
	ErrcodeSessionNotFound = 300001 // the session webhook expired or never existed
	ErrcodeTooFast         = 130101 // sending too fast
	ErrcodeTooFastAlt      = 410100 // sending too fast, another service's code
	ErrcodeMessageTooLong  = 460101 // content over 20000 bytes
	ErrcodeUnsupportedType = 400105 // the msgtype is not one the webhook sends
)

var (
	// ErrWebhookNotAllowed is wrapped when a webhook URL is not an http(s)
	// URL on one of the allowed hosts: the URL comes from a request body,
	// and posting to any host it names would make the robot a proxy.
	ErrWebhookNotAllowed = errors.New("webhook not allowed")
	// ErrUnexpectedResponse is wrapped when a webhook answers 2xx with a
	// body that is not DingTalk's {"errcode","errmsg"}: whether the message
	// was delivered is unknown.
	ErrUnexpectedResponse = errors.New("unexpected webhook response")
)

// WebhookMessage is the JSON body posted to a session webhook.
type WebhookMessage struct {
	MsgType  string    `json:"msgtype"`
	Text     *Text     `json:"text,omitempty"`
	Markdown *Markdown `json:"markdown,omitempty"`
	At       *At       `json:"at,omitempty"`
}

// Text is the body of a text message.
type Text struct {
	Content string `json:"content"`
}

// Markdown is the body of a markdown message; Title is what notifications
// and the conversation list show.
type Markdown struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// At lists who a message @-mentions. DingTalk renders the mention only when
// the content also holds "@<staffId>".
type At struct {
	AtUserIDs []string `json:"atUserIds,omitempty"`
	IsAtAll   bool     `json:"isAtAll"`
}

// TextMessage builds a text message that @-mentions the given staff ids, if
// any. It does not add "@<staffId>" to the content: the caller decides where
// the mention goes.
func TextMessage(content string, atUserIDs ...string) WebhookMessage {
	return WebhookMessage{MsgType: "text", Text: &Text{Content: content}, At: at(atUserIDs)}
}

// MarkdownMessage builds a markdown message that @-mentions the given staff
// ids, if any.
func MarkdownMessage(title, text string, atUserIDs ...string) WebhookMessage {
	return WebhookMessage{MsgType: "markdown", Markdown: &Markdown{Title: title, Text: text}, At: at(atUserIDs)}
}

func at(userIDs []string) *At {
	if len(userIDs) == 0 {
		return nil
	}
	return &At{AtUserIDs: userIDs}
}

// APIError is a webhook's refusal: an HTTP status other than 2xx, or an HTTP
// 200 whose body carries a non-zero errcode.
type APIError struct {
	StatusCode int    // HTTP status
	Code       int    // DingTalk's errcode; 0 when the body had none
	Message    string // DingTalk's errmsg, or the HTTP status text
}

func (e *APIError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("dingtalk: HTTP %d, errcode %d: %s", e.StatusCode, e.Code, e.Message)
	}
	return fmt.Sprintf("dingtalk: HTTP %d: %s", e.StatusCode, e.Message)
}

// Retryable reports whether sending again later may succeed: a server error,
// or a rate limit (robots may send about 20 messages a minute).
func (e *APIError) Retryable() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests ||
		e.Code == ErrcodeTooFast || e.Code == ErrcodeTooFastAlt
}

// SessionExpired reports whether the session webhook no longer exists: no
// retry through it can succeed.
func (e *APIError) SessionExpired() bool { return e.Code == ErrcodeSessionNotFound }

// WebhookConfig configures a WebhookClient. The zero value is usable, but
// posts nowhere.
type WebhookConfig struct {
	// HTTPClient makes the requests; nil means a client with a 30 s
	// timeout. The WebhookClient uses a copy that never follows redirects,
	// which would lead a post past the allowed hosts.
	HTTPClient *http.Client
	// AllowedHosts are the host names (case-insensitive, surrounding spaces
	// trimmed) of the only URLs the client posts to, https on port 443
	// (http and any port on a loopback host, a local stand-in); with none
	// it posts nowhere. DefaultWebhookHost is DingTalk's.
	AllowedHosts []string
	// Retry is how a refusal worth another try is retried. Base, Max and
	// Attempts that are zero or less take their defaults,
	// DefaultRetryBase (1 s), DefaultRetryMax (10 s) and DefaultMaxAttempts
	// (5); a Max below the Base is the Base; Attempts 1 turns retries off.
	Retry retry.Policy
	// Logger receives the retries; nil means nowhere.
	Logger *slog.Logger
}

// WebhookClient posts messages to DingTalk session webhooks.
type WebhookClient struct {
	httpClient   *http.Client
	allowedHosts map[string]bool
	retry        retry.Policy
	logger       *slog.Logger
}

// NewWebhookClient returns a client that posts only to http(s) URLs on
// cfg.AllowedHosts, and never follows a redirect.
func NewWebhookClient(cfg WebhookConfig) *WebhookClient {
	allowed := make(map[string]bool, len(cfg.AllowedHosts))
	for _, h := range cfg.AllowedHosts {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			allowed[h] = true
		}
	}
	return &WebhookClient{
		httpClient:   noRedirects(cfg.HTTPClient),
		allowedHosts: allowed,
		retry:        retryPolicy(cfg.Retry),
		logger:       orDiscard(cfg.Logger),
	}
}

// Send posts msg to the session webhook. It returns an error wrapping
// ErrWebhookNotAllowed for a URL it refuses, a *APIError (wrapped) when
// DingTalk refuses the message, an error wrapping ErrUnexpectedResponse for
// a 2xx answer that is not DingTalk's, and a wrapped transport error
// otherwise. No error holds the webhook's query, whose session value lets
// anyone post into the conversation.
//
// A refusal that APIError.Retryable accepts (sending too fast, HTTP 429 or
// 5xx) is retried with exponential backoff and jitter (1 s doubling up to
// 10 s by default, 5 attempts in all), as long as ctx's deadline leaves
// time for the wait and the request; the error is then the last refusal.
// Nothing else is retried: an expired session cannot come back, and after
// a transport error the message may have been delivered.
func (c *WebhookClient) Send(ctx context.Context, webhookURL string, msg WebhookMessage) error {
	if err := c.Allowed(webhookURL); err != nil {
		return err
	}
	where := RedactWebhook(webhookURL)
	if msg.MsgType == "" {
		return fmt.Errorf("dingtalk webhook %s: message has no msgtype", where)
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("dingtalk webhook %s: encode message: %w", where, err)
	}
	return c.retry.Do(ctx,
		func(ctx context.Context) error { return c.post(ctx, webhookURL, where, body) },
		func(attempt int, wait time.Duration, err error) {
			c.logger.WarnContext(ctx, "DingTalk refused a message, sending it again",
				"webhook", where, "attempt", attempt, "wait", wait.String(), "err", err)
		})
}

// post makes one attempt at sending body.
func (c *WebhookClient) post(ctx context.Context, webhookURL, where string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("dingtalk webhook %s: %w", where, redactError(err, webhookURL))
	}
	req.Header.Set("Content-Type", "application/json")

	resp, err := c.httpClient.Do(req)
	if err != nil {
		// The *url.Error names the (redacted) URL itself.
		return fmt.Errorf("dingtalk webhook: %w", redactError(err, webhookURL))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("dingtalk webhook %s: read response: %w", where, redactError(err, webhookURL))
	}

	var answer struct {
		Errcode *int   `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}
	decodeErr := json.Unmarshal(data, &answer)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := &APIError{StatusCode: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
		if decodeErr == nil && answer.Errcode != nil {
			apiErr.Code = *answer.Errcode
			if answer.Errmsg != "" {
				apiErr.Message = redact.String(bounded(answer.Errmsg), webhookSecrets(webhookURL)...)
			}
		}
		return fmt.Errorf("dingtalk webhook %s: %w", where, apiErr)
	}
	if decodeErr != nil || answer.Errcode == nil {
		return fmt.Errorf("dingtalk webhook %s: %w: HTTP %d without an errcode", where, ErrUnexpectedResponse, resp.StatusCode)
	}
	if *answer.Errcode != 0 {
		return fmt.Errorf("dingtalk webhook %s: %w", where, &APIError{
			StatusCode: resp.StatusCode,
			Code:       *answer.Errcode,
			Message:    redact.String(bounded(answer.Errmsg), webhookSecrets(webhookURL)...),
		})
	}
	return nil
}

// Allowed tells whether Send would post to webhookURL: a URL on one of the
// allowed hosts. A caller checks it before doing work (asking the model)
// whose only use would be a post that is then refused.
func (c *WebhookClient) Allowed(webhookURL string) error {
	u, err := url.Parse(webhookURL)
	if err != nil {
		// url.Parse's error quotes the whole URL: do not wrap it.
		return fmt.Errorf("%w: not a URL", ErrWebhookNotAllowed)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w: scheme %q is not http or https", ErrWebhookNotAllowed, u.Scheme)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return fmt.Errorf("%w: no host", ErrWebhookNotAllowed)
	}
	if !c.allowedHosts[host] {
		return fmt.Errorf("%w: host %q", ErrWebhookNotAllowed, host)
	}
	if u.User != nil {
		return fmt.Errorf("%w: user info in the URL", ErrWebhookNotAllowed)
	}
	// DingTalk's session webhooks are https on the standard port: anything
	// else on its host is not DingTalk's (plain http would carry the answer
	// and the session in clear). A loopback host, where no TLS is to be
	// had, is a local stand-in (make run, the tests).
	if !isLoopback(host) {
		if u.Scheme != "https" {
			return fmt.Errorf("%w: %s, not https", ErrWebhookNotAllowed, u.Scheme)
		}
		if p := u.Port(); p != "" && p != "443" {
			return fmt.Errorf("%w: port %s, not 443", ErrWebhookNotAllowed, p)
		}
	}
	return nil
}

// isLoopback tells whether host names this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RedactWebhook returns a webhook URL fit for errors and logs: scheme, host
// and path, with every query value (the session is one) replaced by
// redact.Placeholder ("REDACTED"); user info and fragment are dropped.
func RedactWebhook(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	var b strings.Builder
	if parsed.Scheme != "" {
		b.WriteString(parsed.Scheme + "://")
	}
	b.WriteString(parsed.Host)
	b.WriteString(parsed.EscapedPath())
	if parsed.RawQuery != "" || parsed.ForceQuery {
		b.WriteByte('?')
		for i, part := range strings.Split(parsed.RawQuery, "&") {
			if i > 0 {
				b.WriteByte('&')
			}
			// A part without "=" is all value as far as secrecy goes.
			if key, _, ok := strings.Cut(part, "="); ok {
				b.WriteString(key + "=")
			}
			b.WriteString(redact.Placeholder)
		}
	}
	return b.String()
}

// webhookSecrets lists the values of a URL's query, in their raw and
// decoded forms: the strings that must not leak. A part without "=" is all
// value.
func webhookSecrets(u string) []string {
	parsed, err := url.Parse(u)
	if err != nil {
		return nil
	}
	var values []string
	for _, part := range strings.Split(parsed.RawQuery, "&") {
		_, value, ok := strings.Cut(part, "=")
		if !ok {
			value = part
		}
		values = append(values, value)
	}
	return redact.WithDecoded(values...)
}

// redactError keeps the webhook's query out of err: the *url.Error the HTTP
// client returns quotes the full URL, so it is replaced by a copy with the
// URL redacted; any other mention is scrubbed from the text, keeping the
// chain for errors.Is (a context's deadline, for one).
func redactError(err error, webhookURL string) error {
	if urlErr, ok := err.(*url.Error); ok {
		err = &url.Error{Op: urlErr.Op, URL: RedactWebhook(urlErr.URL), Err: urlErr.Err}
	}
	return redact.Error(err, webhookSecrets(webhookURL)...)
}
