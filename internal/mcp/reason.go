package mcp

import (
	"context"
	"errors"
	"fmt"
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
	wire := serverError(err)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("it did not answer within %s", limit)
	case errors.Is(err, context.Canceled):
		return "the question ended before it answered"
	case large:
		return "it answered with more than 4 MiB"
	case x.unanswered() && responses == 0:
		return "it cannot be reached"
	case x.unanswered():
		return "it closed the connection without answering"
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Sprintf("it refused access (HTTP %d); its token may be wrong or expired", status)
	case wire != nil && wire.Message != "":
		return "it answered with an error: " + r.scrub(wire.Message)
	case status == http.StatusNotFound && errors.Is(err, sdk.ErrSessionMissing):
		return "it lost our session (HTTP 404)"
	case status == http.StatusNotFound:
		return "it has no MCP endpoint at its url (HTTP 404)"
	case status >= 300 && status < 400:
		return fmt.Sprintf("it answered with a redirect (HTTP %d), not MCP", status)
	case status >= 400:
		return fmt.Sprintf("it failed (HTTP %d)", status)
	case responses == 0:
		return "it cannot be reached"
	case contentType != "application/json" && contentType != "text/event-stream":
		return fmt.Sprintf("it answered with %s, not MCP", describeMediaType(contentType))
	}
	return "it answered with something that is not MCP"
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

// The codes of errors the SDK makes itself, not the server: a request the
// transport could not make, a connection closing.
const (
	codeRejected      = -32005
	codeClientClosing = -32003
	codeServerClosing = -32004
)

// serverError finds in err the error the server answered with (a JSON-RPC
// error response), or nil when the server did not answer one: the SDK
// wraps failures of its own in JSON-RPC errors too.
func serverError(err error) *jsonrpc.Error {
	var found *jsonrpc.Error
	var walk func(error) bool
	walk = func(err error) bool {
		if w, ok := err.(*jsonrpc.Error); ok && w != nil {
			switch w.Code {
			case codeRejected, codeClientClosing, codeServerClosing:
			default:
				found = w
				return true
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			if next := u.Unwrap(); next != nil {
				return walk(next)
			}
		case interface{ Unwrap() []error }:
			for _, next := range u.Unwrap() {
				if next != nil && walk(next) {
					return true
				}
			}
		}
		return false
	}
	if err != nil {
		walk(err)
	}
	return found
}
