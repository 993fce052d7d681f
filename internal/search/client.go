package search

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// The providers New knows.
const (
	ProviderBocha  = "bocha"
	ProviderTavily = "tavily"
)

// Defaults of Config.
const (
	DefaultCount   = 5
	DefaultTimeout = 15 * time.Second
)

// MaxAnswerBytes bounds what is read of a service's answer: a page of 50
// results with summaries is some 100 KiB; more is not an answer.
const MaxAnswerBytes = 2 << 20

// MaxQueryRunes bounds the query sent: Tavily refuses a longer one
// ("Query is too long. Max query length is 400 characters."), and a query
// that long is a question pasted whole, of which the start is what counts.
const MaxQueryRunes = 400

// Config says which service to ask and how.
type Config struct {
	// Provider is "bocha" or "tavily" (any case).
	Provider string
	// Endpoint is the service's base URL; empty means the service's own
	// (https://api.bocha.cn, https://api.tavily.com). The API's path
	// (/v1/web-search, /search) is added to it, unless it already ends
	// with it. A proxy's base with a path of its own works.
	Endpoint string
	// APIKey is sent as "Authorization: Bearer <APIKey>".
	APIKey string
	// HTTPClient makes the requests; nil means a client of its own on
	// http.DefaultTransport.
	HTTPClient *http.Client
	// Count is how many results a search asks for; 0 means DefaultCount.
	// Bocha takes 1 to 50, Tavily 1 to 20.
	Count int
	// Timeout bounds each search; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Client searches the web through one service. It is safe for concurrent
// use.
type Client struct {
	api     api
	url     string
	apiKey  string
	hc      *http.Client
	count   int
	timeout time.Duration
}

// api is what differs between the services.
type api struct {
	name     string
	base     string
	path     string
	maxCount int
	body     func(query string, count int) any
	parse    func(status int, body []byte, count int) ([]Result, error)
}

var apis = map[string]api{
	ProviderBocha: {
		name: ProviderBocha, base: "https://api.bocha.cn", path: "/v1/web-search", maxCount: 50,
		body:  bochaRequest,
		parse: parseBocha,
	},
	ProviderTavily: {
		name: ProviderTavily, base: "https://api.tavily.com", path: "/search", maxCount: 20,
		body:  tavilyRequest,
		parse: parseTavily,
	},
}

// New returns a client for cfg, or an error that says what in cfg is wrong.
func New(cfg Config) (*Client, error) {
	provider := strings.ToLower(strings.TrimSpace(cfg.Provider))
	a, ok := apis[provider]
	if !ok {
		if provider == "" {
			return nil, errors.New(`search: no provider: want "bocha" or "tavily"`)
		}
		return nil, fmt.Errorf(`search: unknown provider %q: want "bocha" or "tavily"`, cfg.Provider)
	}
	key := strings.TrimSpace(cfg.APIKey)
	if key == "" {
		return nil, fmt.Errorf("search: %s needs an API key (SEARCH_API_KEY)", a.name)
	}
	if strings.ContainsFunc(key, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		// It would not survive as a header, or would split one.
		return nil, fmt.Errorf("search: the %s API key holds spaces or control characters", a.name)
	}
	endpoint, err := apiURL(cfg.Endpoint, a)
	if err != nil {
		return nil, err
	}
	count := cfg.Count
	switch {
	case count == 0:
		count = DefaultCount
	case count < 1 || count > a.maxCount:
		return nil, fmt.Errorf("search: count %d is out of %s's range, 1 to %d", cfg.Count, a.name, a.maxCount)
	}
	timeout := cfg.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		return nil, fmt.Errorf("search: timeout %v is negative", cfg.Timeout)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{api: a, url: endpoint, apiKey: key, hc: hc, count: count, timeout: timeout}, nil
}

// apiURL is the address searches are posted to: endpoint (or the
// service's own base) with the API's path.
func apiURL(endpoint string, a api) (string, error) {
	endpoint = strings.TrimSpace(endpoint)
	if endpoint == "" {
		endpoint = a.base
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("search: endpoint %q is not a URL", endpoint)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("search: endpoint %q is not an http(s) URL", endpoint)
	case u.Host == "":
		return "", fmt.Errorf("search: endpoint %q has no host", endpoint)
	case u.User != nil:
		// The key goes in a header; a URL ends up in error messages.
		return "", fmt.Errorf("search: endpoint has credentials in it; put the key in SEARCH_API_KEY")
	case u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("search: endpoint %q has a query or fragment; give the base URL", endpoint)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	if !strings.HasSuffix(u.Path, a.path) {
		u.Path += a.path
	}
	return u.String(), nil
}

// Provider returns "bocha" or "tavily".
func (c *Client) Provider() string { return c.api.name }

// Count returns how many results a search asks for.
func (c *Client) Count() int { return c.count }

// Search asks the service for query and returns its results, at most
// Count of them, each with an http(s) URL; none is not an error. A failure
// is an *Error (errors.Is with ErrUnauthorized, ErrRateLimited,
// ErrUnavailable, ErrBadQuery, and the reasons ErrOutOfCredit, ErrTimeout),
// or wraps ctx's error when ctx was canceled.
func (c *Client) Search(ctx context.Context, query string) ([]Result, error) {
	query = cleanQuery(query)
	if query == "" {
		return nil, &Error{Provider: c.api.name, Kind: ErrBadQuery, Message: "the query is empty"}
	}
	body, err := json.Marshal(c.api.body(query, c.count))
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	if len(answer) > MaxAnswerBytes {
		return nil, &Error{Provider: c.api.name, Kind: ErrUnavailable, StatusCode: resp.StatusCode,
			Message: fmt.Sprintf("the answer is larger than %d bytes", MaxAnswerBytes)}
	}
	results, err := c.api.parse(resp.StatusCode, answer, c.count)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Provider = c.api.name
			e.Message = scrub(e.Message, c.apiKey)
		}
		return nil, err
	}
	return results, nil
}

// transportError classifies a failure to send the request or to read the
// answer.
func (c *Client) transportError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &Error{Provider: c.api.name, Kind: ErrUnavailable, Reason: ErrTimeout}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("search: %w", ctxErr)
	}
	msg := err.Error()
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		// url.Error repeats the method and URL; the cause is what helps.
		msg = urlErr.Err.Error()
	}
	return &Error{Provider: c.api.name, Kind: ErrUnavailable, Message: scrub(msg, c.apiKey)}
}

// cleanQuery makes query one line, without control characters, of at most
// MaxQueryRunes.
func cleanQuery(query string) string {
	return cleanText(query, MaxQueryRunes)
}
