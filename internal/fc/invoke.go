package fc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	"github.com/alibabacloud-go/tea/dara"
	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
	"github.com/dingtalk-llm/fcrobot/internal/redact"
)

// API versions and their paths. FC 3.0 is what new deployments use; FC 2.0
// (services) is in maintenance and reached only when a service is named.
const (
	fc3Version = "2023-03-30"
	fc2Version = "2021-04-06"
)

// Request headers of InvokeFunction.
const (
	headerInvocationType = "x-fc-invocation-type"
	// HeaderAsyncTaskID carries the task id of an FC 3.0 async invocation.
	HeaderAsyncTaskID = "x-fc-async-task-id"
	// HeaderStatefulInvocationID is FC 2.0's name for the same thing.
	HeaderStatefulInvocationID = "x-fc-stateful-async-invocation-id"
	// HeaderRequestID is the request id FC answers with (and passes to the
	// invoked function).
	HeaderRequestID = "x-fc-request-id"
)

const (
	// maxInstanceConcurrency is the most requests FC runs at once on one
	// instance, so the most calls an Invoker makes at once there.
	maxInstanceConcurrency = 200

	defaultConnectTimeout = 5 * time.Second
	defaultReadTimeout    = 10 * time.Second
)

var (
	// ErrNoCredentials means the access key id or secret is missing, so the
	// call cannot be signed.
	ErrNoCredentials = errors.New("fc: incomplete credentials: access key id and secret are required")
	// ErrTaskExists means FC already holds an async task with this task id:
	// the invocation is a redelivery and the first one was accepted.
	ErrTaskExists = errors.New("fc: async task already exists")
)

// InvokeError is FC's refusal of an invocation: an HTTP status of 400 or
// more, with the error code, message and request id FC sent.
type InvokeError struct {
	StatusCode int
	Code       string
	Message    string // never holds the access key secret or security token
	RequestID  string
}

func (e *InvokeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "InvokeFunction refused with HTTP %d", e.StatusCode)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id " + e.RequestID + ")")
	}
	return b.String()
}

// InvokerConfig says where the FC API is and how long to wait for it.
type InvokerConfig struct {
	// Endpoint is a URL or a bare host (which means https), e.g.
	// "1234.cn-hangzhou.fc.aliyuncs.com" or "http://127.0.0.1:9100".
	// Empty means the internal endpoint of AccountID and Region.
	Endpoint  string
	AccountID string
	Region    string
	// ServiceName, when set, selects the FC 2.0 API, in which functions
	// live in services.
	ServiceName string
	// ConnectTimeout and ReadTimeout bound each call (defaults 5 s and 10 s);
	// the caller's context may end it sooner.
	ConnectTimeout time.Duration
	ReadTimeout    time.Duration
}

// Invoker invokes functions asynchronously through the FC API. It is safe
// for concurrent use.
type Invoker struct {
	endpoint string // scheme://host[:port], for logs
	host     string // host[:port], what the SDK signs and dials
	protocol string // "HTTP" or "HTTPS"
	service  string
	http     dara.HttpClient
}

// NewInvoker checks the configuration and builds an Invoker.
func NewInvoker(cfg InvokerConfig) (*Invoker, error) {
	u, err := resolveEndpoint(cfg)
	if err != nil {
		return nil, err
	}
	connect := cfg.ConnectTimeout
	if connect <= 0 {
		connect = defaultConnectTimeout
	}
	read := cfg.ReadTimeout
	if read <= 0 {
		read = defaultReadTimeout
	}
	return &Invoker{
		endpoint: u.Scheme + "://" + u.Host,
		host:     u.Host,
		protocol: strings.ToUpper(u.Scheme),
		service:  cfg.ServiceName,
		http:     newSharedHTTP(connect, read),
	}, nil
}

// Endpoint is the API endpoint calls go to, as scheme://host[:port].
func (i *Invoker) Endpoint() string { return i.endpoint }

// InvokeAsync asks FC to run function with payload as its event and returns
// FC's request id once FC has queued it (HTTP 202). FC then delivers the event
// at least once. A non-empty taskID makes the invocation an async task that
// FC accepts only once: a repeat is refused with an error matching
// ErrTaskExists, which for a redelivered message means success.
//
// The call is signed with creds, which come with each request because FC
// hands a function new temporary credentials over time. The SDK does not
// retry: the caller has a deadline to meet and decides itself.
func (i *Invoker) InvokeAsync(ctx context.Context, creds alicloud.Credentials, function string, payload []byte, taskID string) (requestID string, err error) {
	if !creds.Complete() {
		return "", ErrNoCredentials
	}
	if function == "" {
		return "", errors.New("fc: invoke: no function name")
	}

	client, err := i.client(creds)
	if err != nil {
		return "", fmt.Errorf("fc: invoke %s: %w", function, err)
	}
	version, pathname, taskHeader := fc3Version, "/"+fc3Version+"/functions/"+url.PathEscape(function)+"/invocations", HeaderAsyncTaskID
	if i.service != "" {
		version = fc2Version
		pathname = "/" + fc2Version + "/services/" + url.PathEscape(i.service) + "/functions/" + url.PathEscape(function) + "/invocations"
		taskHeader = HeaderStatefulInvocationID
	}
	params := &openapi.Params{
		Action:      dara.String("InvokeFunction"),
		Version:     dara.String(version),
		Protocol:    dara.String(i.protocol),
		Pathname:    dara.String(pathname),
		Method:      dara.String(http.MethodPost),
		AuthType:    dara.String("AK"),
		Style:       dara.String("ROA"),
		ReqBodyType: dara.String("json"),
		BodyType:    dara.String("binary"),
	}
	headers := map[string]*string{headerInvocationType: dara.String("Async")}
	if taskID != "" {
		headers[taskHeader] = dara.String(taskID)
	}
	request := &openapi.OpenApiRequest{Headers: headers, Stream: bytes.NewReader(payload)}

	// The note sees the raw HTTP status, which the SDK loses when an error
	// body is not JSON (a gateway's HTML 502, say).
	note := &responseNote{}
	result, err := client.CallApiWithCtx(withResponseNote(ctx, note), params, request, &dara.RuntimeOptions{})
	if body, ok := result["body"].(io.ReadCloser); ok {
		// A binary body is handed over unread; drain it so the connection
		// can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(body, 1<<20))
		_ = body.Close()
	}
	if err != nil {
		return "", i.invokeError(function, taskID, creds, note, err)
	}

	status, _ := result["statusCode"].(int)
	var fcRequestID string
	if h, ok := result["headers"].(map[string]*string); ok {
		fcRequestID = dara.StringValue(h[HeaderRequestID])
	}
	if status != http.StatusAccepted && status != http.StatusOK {
		return "", fmt.Errorf("fc: invoke %s: %w", function, &InvokeError{
			StatusCode: status,
			Message:    "unexpected status for an async invocation",
			RequestID:  fcRequestID,
		})
	}
	return fcRequestID, nil
}

// client builds an SDK client for creds. Building one is a few allocations
// (credentials-go's static providers do no I/O), and connections are pooled
// in the shared HTTP client, so a client per call costs little and no
// secret has to be kept in a cache.
func (i *Invoker) client(creds alicloud.Credentials) (*openapi.Client, error) {
	cfg := &openapi.Config{
		AccessKeyId:     dara.String(creds.AccessKeyID),
		AccessKeySecret: dara.String(creds.AccessKeySecret),
		Endpoint:        dara.String(i.host),
		Protocol:        dara.String(i.protocol),
		HttpClient:      i.http,
		RetryOptions:    &dara.RetryOptions{Retryable: false},
	}
	if creds.SecurityToken != "" {
		cfg.SecurityToken = dara.String(creds.SecurityToken)
	}
	c, err := openapi.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	// Keep the SDK's typed errors instead of its generic wrapper.
	c.DisableSDKError = dara.Bool(true)
	return c, nil
}

// sdkResponseError is what the SDK's ClientError, ServerError and
// ThrottlingError have in common.
type sdkResponseError interface {
	GetStatusCode() *int
	GetCode() *string
	GetMessage() *string
	GetRequestId() *string
	GetData() map[string]interface{}
}

// invokeError turns the SDK's error into ours.
func (i *Invoker) invokeError(function, taskID string, creds alicloud.Credentials, note *responseNote, err error) error {
	var ie *InvokeError
	var sdkErr sdkResponseError
	switch {
	case errors.As(err, &sdkErr):
		ie = &InvokeError{
			StatusCode: dara.IntValue(sdkErr.GetStatusCode()),
			Code:       dara.StringValue(sdkErr.GetCode()),
			Message:    sdkMessage(sdkErr),
			RequestID:  dara.StringValue(sdkErr.GetRequestId()),
		}
		if ie.RequestID == "" {
			ie.RequestID = note.requestID
		}
	case note.status >= http.StatusBadRequest:
		// FC refused, but with a body the SDK could not read.
		ie = &InvokeError{StatusCode: note.status, Message: "unreadable error body", RequestID: note.requestID}
	default:
		// No answer from FC: a network error or the context ended.
		return fmt.Errorf("fc: invoke %s: %w", function, err)
	}
	// Should FC ever echo a signed request back in its message, the secret
	// and the token are not shown.
	ie.Message = redact.String(ie.Message, creds.AccessKeySecret, creds.SecurityToken)
	if ie.StatusCode == http.StatusConflict && taskID != "" {
		return fmt.Errorf("fc: invoke %s: task %s: %w: %w", function, taskID, ErrTaskExists, ie)
	}
	return fmt.Errorf("fc: invoke %s: %w", function, ie)
}

// sdkMessage is FC's own message, without the SDK's "code: 403, ... request
// id: ..." decoration, which InvokeError.Error adds back in its own form.
func sdkMessage(e sdkResponseError) string {
	data := e.GetData()
	for _, key := range []string{"Message", "message", "ErrorMessage", "errorMessage"} {
		if v, ok := data[key]; ok && v != nil {
			return fmt.Sprint(v)
		}
	}
	return dara.StringValue(e.GetMessage())
}

// resolveEndpoint turns the configuration into scheme://host[:port].
func resolveEndpoint(cfg InvokerConfig) (*url.URL, error) {
	endpoint := strings.TrimSpace(cfg.Endpoint)
	if endpoint == "" {
		var missing []string
		if cfg.AccountID == "" {
			missing = append(missing, "FC_ACCOUNT_ID")
		}
		if cfg.Region == "" {
			missing = append(missing, "FC_REGION")
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("fc: no FC endpoint: set ENDPOINT, or FC_ACCOUNT_ID and FC_REGION (missing %s)", strings.Join(missing, " and "))
		}
		// The caller runs inside FC, in the region: the internal endpoint
		// stays on Alibaba's network.
		endpoint = "https://" + cfg.AccountID + "." + cfg.Region + "-internal.fc.aliyuncs.com"
	}
	if !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("fc: endpoint: %w", err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("fc: endpoint %q: scheme must be http or https", cfg.Endpoint)
	case u.User != nil:
		// Not echoed: it may hold a password.
		return nil, errors.New("fc: endpoint must not contain user info")
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("fc: endpoint %q: no host", cfg.Endpoint)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		return nil, fmt.Errorf("fc: endpoint %q: must be a host, without path or query", cfg.Endpoint)
	}
	return &url.URL{Scheme: u.Scheme, Host: strings.ToLower(u.Host)}, nil
}

// sharedHTTP is the HTTP client of every SDK client an Invoker builds, so
// that they share one connection pool and our timeouts. It ignores the
// transport the SDK offers, which the SDK builds anew for each request.
type sharedHTTP struct{ client *http.Client }

func newSharedHTTP(connect, read time.Duration) sharedHTTP {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext
	transport.TLSHandshakeTimeout = connect
	transport.ResponseHeaderTimeout = read
	// Every call goes to the one FC endpoint, up to instanceConcurrency of
	// them at once (200 at most on FC). With the default of 2 idle
	// connections per host, all but 2 of the connections a burst opened
	// would be closed after their call and dialed (and TLS-handshaken)
	// again for the next: under load that was an eighth of the function's
	// CPU time.
	transport.MaxIdleConns = maxInstanceConcurrency
	transport.MaxIdleConnsPerHost = maxInstanceConcurrency
	return sharedHTTP{client: &http.Client{
		Transport: transport,
		// A signed API call is not followed elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (s sharedHTTP) Call(request *http.Request, _ *http.Transport) (*http.Response, error) {
	response, err := s.client.Do(request)
	if err == nil {
		if note, ok := request.Context().Value(responseNoteKey{}).(*responseNote); ok {
			note.status = response.StatusCode
			note.requestID = response.Header.Get(HeaderRequestID)
		}
	}
	return response, err
}

// responseNote records, for one call, what FC answered before the SDK
// interprets it.
type responseNote struct {
	status    int
	requestID string
}

type responseNoteKey struct{}

func withResponseNote(ctx context.Context, note *responseNote) context.Context {
	return context.WithValue(ctx, responseNoteKey{}, note)
}
