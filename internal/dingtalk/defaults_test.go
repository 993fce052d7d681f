package dingtalk

import (
	"net/http"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/retry"
)

func TestRetryPolicyDefaults(t *testing.T) {
	defaults := retry.Policy{Base: DefaultRetryBase, Max: DefaultRetryMax, Attempts: DefaultMaxAttempts}
	tests := []struct {
		name string
		in   retry.Policy
		want retry.Policy
	}{
		{"zero is the defaults", retry.Policy{}, defaults},
		{"attempts only", retry.Policy{Attempts: 1}, retry.Policy{Base: DefaultRetryBase, Max: DefaultRetryMax, Attempts: 1}},
		{"backoff only", retry.Policy{Base: time.Microsecond, Max: 4 * time.Microsecond}, retry.Policy{Base: time.Microsecond, Max: 4 * time.Microsecond, Attempts: DefaultMaxAttempts}},
		{"a max below the base is the base", retry.Policy{Base: time.Hour, Max: time.Minute}, retry.Policy{Base: time.Hour, Max: time.Hour, Attempts: DefaultMaxAttempts}},
		{"a base above the default max", retry.Policy{Base: time.Hour}, retry.Policy{Base: time.Hour, Max: time.Hour, Attempts: DefaultMaxAttempts}},
		{"negative values are the defaults", retry.Policy{Base: -1, Max: -1, Attempts: -1}, defaults},
		{"MinAttempt kept", retry.Policy{MinAttempt: time.Minute}, retry.Policy{Base: DefaultRetryBase, Max: DefaultRetryMax, Attempts: DefaultMaxAttempts, MinAttempt: time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryPolicy(tt.in); got != tt.want {
				t.Errorf("retryPolicy(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestClientDefaults(t *testing.T) {
	for name, hc := range map[string]*http.Client{
		"webhook": NewWebhookClient(WebhookConfig{}).httpClient,
		"openapi": NewOpenAPI(OpenAPIConfig{}).httpClient,
	} {
		if hc.Timeout != defaultHTTPTimeout || hc.CheckRedirect == nil {
			t.Errorf("%s: a nil HTTP client is %+v, want a %s timeout and no redirects", name, hc, defaultHTTPTimeout)
		}
	}
	given := &http.Client{Timeout: time.Second}
	if hc := NewWebhookClient(WebhookConfig{HTTPClient: given}).httpClient; hc == given || hc.Timeout != time.Second || hc.CheckRedirect == nil || given.CheckRedirect != nil {
		t.Errorf("the given HTTP client is not copied with redirects off")
	}
	o := NewOpenAPI(OpenAPIConfig{})
	if o.baseURL != DefaultOpenAPIBaseURL || o.now == nil || o.logger == nil || o.retry.Attempts != DefaultMaxAttempts {
		t.Errorf("a zero OpenAPIConfig gives %v, want the defaults", o)
	}
}
