// Package fc speaks to Alibaba Cloud Function Compute's API: it invokes a
// function asynchronously, signed and sent by Alibaba's official OpenAPI core.
package fc

import "log/slog"

// Credentials are the access key a call to the FC API is signed with: the
// temporary credentials of the function's role (passed by FC in the
// x-fc-access-key-* headers of each request, or in the ALIBABA_CLOUD_*
// environment variables), or a RAM user's long-lived key.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string // empty for a long-lived key
}

// Complete reports whether the credentials can sign a call.
func (c Credentials) Complete() bool { return c.AccessKeyID != "" && c.AccessKeySecret != "" }

// LogValue keeps the secret and the token out of every log line: only the
// key id, which identifies but does not authorize, is shown.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("accessKeyId", c.AccessKeyID),
		slog.Bool("sts", c.SecurityToken != ""),
	)
}

// String is LogValue for fmt: a %v of Credentials never prints the secret.
func (c Credentials) String() string {
	return "fc.Credentials{AccessKeyID:" + c.AccessKeyID + " secret:redacted}"
}
