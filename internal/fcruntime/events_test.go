package fcruntime

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

// order is an event of a test's own: Events knows nothing of the robot's.
type order struct {
	Item string `json:"item"`
}

func (o order) Validate() error {
	if o.Item == "" {
		return errors.New("an order names its item")
	}
	return nil
}

// invokeEvent serves one invocation through the runtime, as FC sends it.
func invokeEvent(t *testing.T, h http.Handler, body string, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/invoke", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/octet-stream")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	New(h, Config{}).ServeHTTP(rec, req)
	return rec
}

func TestEventsTellFCWhatToRetry(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		err        error
		wantStatus int
		wantRetry  bool
		wantBody   string
	}{
		{"success", `{"item":"tea"}`, nil, http.StatusOK, false, ""},
		{"not JSON", `not json`, nil, http.StatusBadRequest, false, "not JSON"},
		{"wrong shape", `{"item":42}`, nil, http.StatusBadRequest, false, "not JSON"},
		{"invalid", `{"item":""}`, nil, http.StatusBadRequest, false, "names its item"},
		{"too large", `{"item":"` + strings.Repeat("x", MaxEventBytes) + `"}`, nil, http.StatusRequestEntityTooLarge, false, "too large"},
		{"retryable failure", `{"item":"tea"}`, fmt.Errorf("post: %w", retry.Mark(errors.New("rate limited"))), http.StatusNotFound, true, "rate limited"},
		{"final failure", `{"item":"tea"}`, errors.New("no such shop"), http.StatusNotFound, false, "no such shop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var handled []order
			h := Events(func(_ context.Context, o order) error {
				handled = append(handled, o)
				return tt.err
			}, nil)
			rec := invokeEvent(t, h, tt.body, nil)
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Header().Get("x-fc-status") == "404"; got != tt.wantRetry {
				t.Errorf("x-fc-status %q: FC retries %v, want %v", rec.Header().Get("x-fc-status"), got, tt.wantRetry)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body %q, want it to say %q", rec.Body, tt.wantBody)
			}
			if valid := tt.wantStatus == http.StatusOK || tt.err != nil; valid != (len(handled) == 1) {
				t.Errorf("handled %v", handled)
			}
		})
	}
}

func TestEventsSeeTheInvocationAndItsRetryCount(t *testing.T) {
	var got Invocation
	h := Events(func(ctx context.Context, _ order) error {
		var err error
		got, err = FromContext(ctx)
		return err
	}, nil)
	rec := invokeEvent(t, h, `{"item":"tea"}`, map[string]string{"x-fc-request-id": "rid-7", "x-fc-retry-count": "2"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got.RequestID != "rid-7" || got.RetryCount != 2 {
		t.Errorf("invocation %+v, want request id rid-7 on its second retry", got)
	}
}

func TestEventsTakeOnlyPOSTInvoke(t *testing.T) {
	h := Events(func(context.Context, order) error { return nil }, nil)
	for _, tt := range []struct{ method, path string }{{http.MethodGet, "/invoke"}, {http.MethodPost, "/other"}} {
		rec := httptest.NewRecorder()
		New(h, Config{}).ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, strings.NewReader(`{"item":"tea"}`)))
		if rec.Code == http.StatusOK || rec.Header().Get("x-fc-status") != "" {
			t.Errorf("%s %s: %d %v", tt.method, tt.path, rec.Code, rec.Header())
		}
	}
}

func TestFromContextWithoutAnInvocationIsAnError(t *testing.T) {
	if _, err := FromContext(context.Background()); !errors.Is(err, ErrNoInvocation) {
		t.Errorf("FromContext = %v, want ErrNoInvocation", err)
	}
	if _, err := FromContext(NewContext(context.Background(), Invocation{})); !errors.Is(err, ErrNoInvocation) {
		t.Errorf("an invocation without a request id: %v, want ErrNoInvocation", err)
	}
}
