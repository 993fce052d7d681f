package mcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/dingtalk-llm/fcrobot/internal/redact"
)

// maxServerMessage bounds what a reason quotes of a server's own error
// message.
const maxServerMessage = 300

// reason says in a few words why an operation on a server failed, for the
// model and for a log line: from what the responses were like (x) rather
// than from the error's text, which quotes the URL. It never holds a header
// value: a server that echoes one sees it replaced.
func (r *remote) reason(err error, x *exchange, limit time.Duration) string {
	status, contentType, responses, large := x.last()
	var wire *jsonrpc.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("it did not answer within %s", limit)
	case errors.Is(err, context.Canceled):
		return "the question ended before it answered"
	case large:
		return "it answered with more than 4 MiB"
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Sprintf("it refused access (HTTP %d): check the server's headers (its token)", status)
	case errors.As(err, &wire) && wire.Message != "":
		return "it answered with an error: " + r.scrub(wire.Message)
	case status == http.StatusNotFound && errors.Is(err, sdk.ErrSessionMissing):
		return "it lost our session (HTTP 404)"
	case status == http.StatusNotFound:
		return "it has no MCP endpoint at its url (HTTP 404)"
	case status >= 300 && status < 400:
		return fmt.Sprintf("it answered with a redirect (HTTP %d), not MCP", status)
	case status >= 400:
		return fmt.Sprintf("it failed (HTTP %d)", status)
	case responses == 0 && isUnreachable(err):
		return "it cannot be reached"
	case responses > 0 && contentType != "application/json" && contentType != "text/event-stream":
		return fmt.Sprintf("it answered with %s, not MCP", describeMediaType(contentType))
	case responses > 0:
		return "it answered with something that is not MCP"
	}
	return "it cannot be reached"
}

// isUnreachable reports a failure to connect, or a connection that broke
// before any response.
func isUnreachable(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns) || errors.Is(err, sdk.ErrConnectionClosed) ||
		strings.Contains(err.Error(), "EOF")
}

func describeMediaType(ct string) string {
	if ct == "" {
		return "no content type"
	}
	return clip(ct)
}

// scrub takes header values and the URL out of text a server or the SDK
// wrote, and bounds it.
func (r *remote) scrub(text string) string {
	text = redact.String(text, r.secrets...)
	text = strings.Join(strings.Fields(text), " ")
	if len(text) > maxServerMessage {
		text = cut(text, maxServerMessage) + "…"
	}
	return text
}
