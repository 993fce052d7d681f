// Package alicloud holds what every Alibaba Cloud API client of the robot
// shares: the access key its calls are signed with. It has no dependencies,
// so that the runtime adapter can hand the function role's credentials to
// any client without linking that client's SDK.
package alicloud

import "log/slog"

// Credentials are the access key a call to an Alibaba Cloud API is signed
// with: the temporary (STS) credentials of the function's role, which FC
// hands to each instance, or a RAM user's long-lived key.
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
	return "alicloud.Credentials{AccessKeyID:" + c.AccessKeyID + " secret:redacted}"
}
