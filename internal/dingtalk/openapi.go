package dingtalk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/redact"
	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// DefaultOpenAPIBaseURL is DingTalk's OpenAPI.
const DefaultOpenAPIBaseURL = "https://api.dingtalk.com"

// The paths of the OpenAPI calls the client makes.
const (
	AccessTokenPath   = "/v1.0/oauth2/accessToken"
	OToMessagesPath   = "/v1.0/robot/oToMessages/batchSend"
	GroupMessagesPath = "/v1.0/robot/groupMessages/send"
)

// AccessTokenHeader carries the access token of an OpenAPI call.
const AccessTokenHeader = "x-acs-dingtalk-access-token"

// The msgKey of the robot messages the client sends.
const (
	MsgKeyText     = "sampleText"
	MsgKeyMarkdown = "sampleMarkdown"
)

// MaxUsersPerSend is how many users one batchSend may address.
const MaxUsersPerSend = 20

// The OpenAPI error codes the client acts on.
const (
	CodeInvalidAuthentication = "InvalidAuthentication"   // the access token is invalid or expired
	CodeInvalidClient         = "invalidClientIdOrSecret" // the AppKey or AppSecret is wrong
	codeQPSLimitPrefix        = "Forbidden.AccessDenied.QpsLimit"
)

// tokenRefreshMargin is how long before its expiry a token is replaced, so
// that a call never starts with a token about to lapse.
const tokenRefreshMargin = 5 * time.Minute

var (
	// ErrInvalidRequest is wrapped when an OpenAPI call is refused before
	// it is sent: no robot code, user or conversation, too many users, or
	// a message the robot OpenAPI does not carry.
	ErrInvalidRequest = errors.New("invalid DingTalk OpenAPI request")
	// ErrUnexpectedOpenAPIResponse is wrapped when DingTalk answers 2xx
	// with a body that is not the call's answer.
	ErrUnexpectedOpenAPIResponse = errors.New("unexpected DingTalk OpenAPI response")
)

// OpenAPIError is a refusal by DingTalk's OpenAPI: an HTTP status other than
// 2xx with a body {"code","message","requestid"}.
type OpenAPIError struct {
	StatusCode int
	Code       string // empty when the body had none
	Message    string // DingTalk's message, or the HTTP status text
	RequestID  string // DingTalk's requestid, for its support
}

func (e *OpenAPIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dingtalk openapi: HTTP %d", e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	b.WriteString(": " + e.Message)
	if e.RequestID != "" {
		b.WriteString(" (requestid " + e.RequestID + ")")
	}
	return b.String()
}

// Retryable reports whether calling again later may succeed: a server
// error, HTTP 429, or DingTalk's per-second limit (HTTP 403 with a code
// Forbidden.AccessDenied.QpsLimitForApi or ...QpsLimitForAppkeyAndApi).
func (e *OpenAPIError) Retryable() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests ||
		strings.HasPrefix(e.Code, codeQPSLimitPrefix)
}

// TokenRejected reports whether the access token may be what was refused:
// DingTalk answers an invalid or expired token with HTTP 400 and code
// InvalidAuthentication; 401 and 403 (but for the per-second limit) are
// taken the same way. A new token may succeed where the old one failed.
func (e *OpenAPIError) TokenRejected() bool {
	return e.Code == CodeInvalidAuthentication || e.StatusCode == http.StatusUnauthorized ||
		(e.StatusCode == http.StatusForbidden && !e.Retryable())
}

// UndeliveredError reports users a one-to-one send reached no message to,
// although DingTalk accepted the call.
type UndeliveredError struct {
	// InvalidUserIDs are not users the robot can write to.
	InvalidUserIDs []string
	// FlowControlledUserIDs were throttled: sending to them again later may
	// succeed.
	FlowControlledUserIDs []string
}

func (e *UndeliveredError) Error() string {
	var parts []string
	if len(e.InvalidUserIDs) > 0 {
		parts = append(parts, fmt.Sprintf("invalid users %s", strings.Join(e.InvalidUserIDs, ",")))
	}
	if len(e.FlowControlledUserIDs) > 0 {
		parts = append(parts, fmt.Sprintf("users throttled %s", strings.Join(e.FlowControlledUserIDs, ",")))
	}
	return "dingtalk openapi: message not delivered to " + strings.Join(parts, "; ")
}

// Retryable reports whether some users were only throttled.
func (e *UndeliveredError) Retryable() bool { return len(e.FlowControlledUserIDs) > 0 }

// OpenAPIConfig configures an OpenAPI client.
type OpenAPIConfig struct {
	// HTTPClient makes the requests; nil means a client with a 30 s
	// timeout. The OpenAPI client uses a copy that never follows
	// redirects: a redirected request would carry the access token
	// elsewhere.
	HTTPClient *http.Client
	// BaseURL is the OpenAPI's scheme://host[:port] (surrounding spaces and
	// trailing slashes trimmed); empty means DefaultOpenAPIBaseURL.
	BaseURL string
	// AppKey (the ClientID) and AppSecret are the app's credentials, which
	// buy its access token. No error, log line or String shows AppSecret.
	AppKey    string
	AppSecret string
	// Retry is how a refused call worth another try is retried. Base, Max and
	// Attempts that are zero or less take their defaults,
	// DefaultRetryBase (1 s), DefaultRetryMax (10 s) and DefaultMaxAttempts
	// (5); a Max below the Base is the Base; Attempts 1 turns retries off.
	Retry retry.Policy
	// Logger receives the retries and the token refreshes; nil means
	// nowhere.
	Logger *slog.Logger
	// Now is the clock the access token's age is judged by; nil means
	// time.Now.
	Now func() time.Time
	// OnCall, when not nil, is told of every request the client makes to
	// the OpenAPI, retries and token requests included: each is a metered
	// call (docs/protocols.md §4).
	OnCall func()
}

// OpenAPI sends robot messages through DingTalk's OpenAPI, which needs no
// session webhook: the way to answer once a webhook has expired. It gets
// and caches the app's access token. It is safe for concurrent use.
type OpenAPI struct {
	httpClient *http.Client
	baseURL    string
	appKey     string
	appSecret  string
	retry      retry.Policy
	logger     *slog.Logger
	now        func() time.Time
	onCall     func()

	mu       sync.Mutex
	token    string
	renewAt  time.Time   // when the token is to be replaced
	fetching *tokenFetch // the fetch under way, nil when none
}

// tokenFetch is one access-token request that concurrent callers share.
type tokenFetch struct {
	done  chan struct{} // closed when token and err are set
	token string
	err   error
}

// NewOpenAPI returns a client of the OpenAPI at cfg.BaseURL for the app
// cfg names. It never follows a redirect.
func NewOpenAPI(cfg OpenAPIConfig) *OpenAPI {
	baseURL := strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	if baseURL == "" {
		baseURL = DefaultOpenAPIBaseURL
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &OpenAPI{
		httpClient: noRedirects(cfg.HTTPClient),
		baseURL:    baseURL,
		appKey:     cfg.AppKey,
		appSecret:  cfg.AppSecret,
		retry:      retryPolicy(cfg.Retry),
		logger:     orDiscard(cfg.Logger),
		now:        now,
		onCall:     cfg.OnCall,
	}
}

// String names the client without its secret or token, so that printing
// the client cannot leak them.
func (o *OpenAPI) String() string {
	return fmt.Sprintf("dingtalk.OpenAPI{baseURL: %s, appKey: %s}", o.baseURL, o.appKey)
}

// GoString is String, for %#v.
func (o *OpenAPI) GoString() string { return o.String() }

// LogValue is what a log line shows of the client: no secret, no token.
func (o *OpenAPI) LogValue() slog.Value {
	return slog.GroupValue(slog.String("baseURL", o.baseURL), slog.String("appKey", o.appKey))
}

// SendToUser sends msg, a text or markdown message, from the robot to each
// user (by userId, the staff id) in a one-to-one chat: POST
// /v1.0/robot/oToMessages/batchSend. robotCode is the robot's code, the
// AppKey for an enterprise-internal app's robot. At most MaxUsersPerSend
// users; msg.At is ignored, the OpenAPI cannot @-mention.
//
// Users DingTalk throttled are sent to again, with the retry policy; users
// it calls invalid are not. Either way left, the error is an
// *UndeliveredError naming them. A refusal of the call is an *OpenAPIError,
// retried when Retryable; a refused token is replaced once.
func (o *OpenAPI) SendToUser(ctx context.Context, robotCode string, userIDs []string, msg WebhookMessage) error {
	switch {
	case robotCode == "":
		return fmt.Errorf("dingtalk openapi: %w: no robot code", ErrInvalidRequest)
	case len(userIDs) == 0 || slices.Contains(userIDs, ""):
		return fmt.Errorf("dingtalk openapi: %w: no user id", ErrInvalidRequest)
	case len(userIDs) > MaxUsersPerSend:
		return fmt.Errorf("dingtalk openapi: %w: %d users, at most %d", ErrInvalidRequest, len(userIDs), MaxUsersPerSend)
	}
	key, param, err := robotMessage(msg)
	if err != nil {
		return err
	}

	pending := slices.Clone(userIDs)
	var invalid []string
	return o.retry.Do(ctx, func(ctx context.Context) error {
		var answer struct {
			ProcessQueryKey       string   `json:"processQueryKey"`
			InvalidStaffIDs       []string `json:"invalidStaffIdList"`
			FlowControlledStaffID []string `json:"flowControlledStaffIdList"`
		}
		body := map[string]any{"robotCode": robotCode, "userIds": pending, "msgKey": key, "msgParam": param}
		if err := o.call(ctx, OToMessagesPath, body, &answer); err != nil {
			return err
		}
		// Only the users the call addressed count: an answer naming
		// others is not trusted to widen the next send.
		invalid = append(invalid, intersect(answer.InvalidStaffIDs, pending)...)
		pending = intersect(answer.FlowControlledStaffID, pending)
		if len(invalid) == 0 && len(pending) == 0 {
			return nil
		}
		return &UndeliveredError{InvalidUserIDs: slices.Clone(invalid), FlowControlledUserIDs: slices.Clone(pending)}
	}, o.logRetry(ctx, OToMessagesPath))
}

// SendToGroup sends msg, a text or markdown message, from the robot to a
// group: POST /v1.0/robot/groupMessages/send. openConversationID is the
// group's conversationId as a callback carries it; robotCode is the
// robot's code, the AppKey for an enterprise-internal app's robot. msg.At
// is ignored. Errors are as for SendToUser.
func (o *OpenAPI) SendToGroup(ctx context.Context, robotCode, openConversationID string, msg WebhookMessage) error {
	switch {
	case robotCode == "":
		return fmt.Errorf("dingtalk openapi: %w: no robot code", ErrInvalidRequest)
	case openConversationID == "":
		return fmt.Errorf("dingtalk openapi: %w: no conversation id", ErrInvalidRequest)
	}
	key, param, err := robotMessage(msg)
	if err != nil {
		return err
	}
	body := map[string]any{"robotCode": robotCode, "openConversationId": openConversationID, "msgKey": key, "msgParam": param}
	return o.retry.Do(ctx, func(ctx context.Context) error {
		var answer struct {
			ProcessQueryKey string `json:"processQueryKey"`
		}
		return o.call(ctx, GroupMessagesPath, body, &answer)
	}, o.logRetry(ctx, GroupMessagesPath))
}

// robotMessage turns a webhook message into the OpenAPI's msgKey and
// msgParam, a JSON document in a string.
func robotMessage(msg WebhookMessage) (key, param string, err error) {
	var v any
	switch {
	case msg.MsgType == "text" && msg.Text != nil:
		key, v = MsgKeyText, map[string]string{"content": msg.Text.Content}
	case msg.MsgType == "markdown" && msg.Markdown != nil:
		key, v = MsgKeyMarkdown, map[string]string{"title": msg.Markdown.Title, "text": msg.Markdown.Text}
	default:
		return "", "", fmt.Errorf("dingtalk openapi: %w: msgtype %q is not text or markdown with its body", ErrInvalidRequest, msg.MsgType)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", "", fmt.Errorf("dingtalk openapi: encode msgParam: %w", err)
	}
	return key, string(b), nil
}

func (o *OpenAPI) logRetry(ctx context.Context, path string) func(int, time.Duration, error) {
	return func(attempt int, wait time.Duration, err error) {
		o.logger.WarnContext(ctx, "DingTalk OpenAPI refused a call, calling again",
			"path", path, "attempt", attempt, "wait", wait.String(), "err", err)
	}
}

// call makes one authenticated POST. A refusal of the token makes it get a
// new one and call again, once.
func (o *OpenAPI) call(ctx context.Context, path string, body, answer any) error {
	return o.callMethod(ctx, http.MethodPost, path, body, answer)
}

// callMethod is call with another HTTP method: the card streaming update
// is a PUT.
func (o *OpenAPI) callMethod(ctx context.Context, method, path string, body, answer any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("dingtalk openapi %s: encode request: %w", path, err)
	}
	token, err := o.accessToken(ctx)
	if err != nil {
		return err
	}
	err = o.send(ctx, method, path, token, payload, answer)
	var apiErr *OpenAPIError
	if !errors.As(err, &apiErr) || !apiErr.TokenRejected() {
		return err
	}
	o.logger.InfoContext(ctx, "DingTalk refused the access token, getting a new one", "path", path, "err", err)
	o.forgetToken(token)
	if token, err = o.accessToken(ctx); err != nil {
		return err
	}
	return o.send(ctx, method, path, token, payload, answer)
}

// accessToken returns the cached token, or gets one. Concurrent callers
// share one request; a caller whose context ends stops waiting, and if it
// was the one requesting, another caller requests again.
func (o *OpenAPI) accessToken(ctx context.Context) (string, error) {
	for {
		o.mu.Lock()
		if o.token != "" && o.now().Before(o.renewAt) {
			token := o.token
			o.mu.Unlock()
			return token, nil
		}
		if f := o.fetching; f != nil {
			o.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return "", fmt.Errorf("dingtalk openapi: wait for the access token: %w", context.Cause(ctx))
			}
			if f.err == nil {
				return f.token, nil
			}
			if errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded) {
				continue // the requesting caller gave up, not DingTalk
			}
			return "", f.err
		}
		f := &tokenFetch{done: make(chan struct{})}
		o.fetching = f
		o.mu.Unlock()

		token, lifetime, err := o.requestToken(ctx)
		o.mu.Lock()
		o.fetching = nil
		f.token, f.err = token, err
		if err == nil {
			o.token = token
			o.renewAt = o.now().Add(lifetime - min(tokenRefreshMargin, lifetime/2))
		}
		close(f.done)
		o.mu.Unlock()
		return token, err
	}
}

// forgetToken drops the cached token if it is still the given one: another
// caller may have replaced it already.
func (o *OpenAPI) forgetToken(token string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.token == token {
		o.token = ""
	}
}

// requestToken asks DingTalk for an access token and its lifetime.
func (o *OpenAPI) requestToken(ctx context.Context) (string, time.Duration, error) {
	payload, err := json.Marshal(map[string]string{"appKey": o.appKey, "appSecret": o.appSecret})
	if err != nil {
		return "", 0, fmt.Errorf("dingtalk openapi %s: encode request: %w", AccessTokenPath, err)
	}
	var answer struct {
		AccessToken string `json:"accessToken"`
		ExpireIn    int64  `json:"expireIn"`
	}
	if err := o.post(ctx, AccessTokenPath, "", payload, &answer); err != nil {
		return "", 0, err
	}
	if answer.AccessToken == "" {
		return "", 0, fmt.Errorf("dingtalk openapi %s: %w: no accessToken", AccessTokenPath, ErrUnexpectedOpenAPIResponse)
	}
	o.logger.DebugContext(ctx, "got a DingTalk access token", "expireIn", answer.ExpireIn)
	// A token without a lifetime serves this call only.
	return answer.AccessToken, time.Duration(max(answer.ExpireIn, 0)) * time.Second, nil
}

// post sends one POST; see send.
func (o *OpenAPI) post(ctx context.Context, path, token string, payload []byte, answer any) error {
	return o.send(ctx, http.MethodPost, path, token, payload, answer)
}

// send sends one request and decodes a 2xx answer into answer. Its errors
// never hold the app secret or the token, even when DingTalk's message
// quotes them.
func (o *OpenAPI) send(ctx context.Context, method, path, token string, payload []byte, answer any) error {
	req, err := http.NewRequestWithContext(ctx, method, o.baseURL+path, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("dingtalk openapi %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set(AccessTokenHeader, token)
	}
	if o.onCall != nil {
		o.onCall()
	}
	resp, err := o.httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("dingtalk openapi: %w", redact.Error(err, o.appSecret, token))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("dingtalk openapi %s: read response: %w", path, redact.Error(err, o.appSecret, token))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := &OpenAPIError{StatusCode: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
		var refusal struct {
			Code      string `json:"code"`
			Message   string `json:"message"`
			RequestID string `json:"requestid"`
		}
		if json.Unmarshal(data, &refusal) == nil {
			apiErr.Code = redact.String(bounded(refusal.Code), o.appSecret, token)
			apiErr.RequestID = redact.String(bounded(refusal.RequestID), o.appSecret, token)
			if refusal.Message != "" {
				apiErr.Message = redact.String(bounded(refusal.Message), o.appSecret, token)
			}
		}
		return fmt.Errorf("dingtalk openapi %s: %w", path, apiErr)
	}
	if err := json.Unmarshal(data, answer); err != nil {
		return fmt.Errorf("dingtalk openapi %s: %w: HTTP %d with a body that is not the answer", path, ErrUnexpectedOpenAPIResponse, resp.StatusCode)
	}
	return nil
}

func bounded(s string) string {
	if len(s) > maxErrorMessage {
		return strings.ToValidUTF8(s[:maxErrorMessage], "") + "..."
	}
	return s
}

// intersect returns the elements of ids that are in within, in ids' order,
// without repeats.
func intersect(ids, within []string) []string {
	var out []string
	for _, id := range ids {
		if slices.Contains(within, id) && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
