package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/dingtalk-llm/fcrobot/internal/redact"
)

// ToolErrorMarker starts the result of a call the tool itself reports as
// failed (isError), so that the model reads it as an error.
const ToolErrorMarker = "tool error: "

// maxArguments bounds the arguments the model may send a tool.
const maxArguments = 64 << 10

var (
	// ErrUnknownTool is the error of a call of a name Lookup does not know.
	ErrUnknownTool = errors.New("no such tool")
	// ErrBadArguments is the error of a call whose arguments are not a
	// JSON object.
	ErrBadArguments = errors.New("the arguments must be a JSON object")
)

// Call calls the tool the model names (a Tool's Name) with the arguments
// it wrote (a JSON object; empty means none), within CallTimeout, and
// returns the result as text for the model: the text contents joined,
// other contents described, structuredContent as JSON when there is no
// text, a tool's own failure starting with ToolErrorMarker, and all cut at
// MaxResultBytes with a note saying so.
//
// An error says in words the model can read why there is no result: an
// unknown name (ErrUnknownTool), arguments that are not an object
// (ErrBadArguments), a server that could not be reached, failed or timed
// out (context.DeadlineExceeded), or the caller's ctx ended. Its text
// holds no header value and no URL. After a timeout or a broken
// connection, the tool may or may not have run.
func (c *Client) Call(ctx context.Context, name, arguments string) (string, error) {
	t, r, ok := c.lookup(name)
	if !ok {
		return "", fmt.Errorf("%w: %q is not one of the tools offered", ErrUnknownTool, clip(name))
	}
	args, err := checkArguments(arguments)
	if err != nil {
		return "", err
	}
	limit := c.cfg.CallTimeout
	callCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	res, x, err := r.call(callCtx, t, args)
	if err != nil {
		if ctx.Err() != nil {
			return "", redact.Wrap(ctx.Err(), fmt.Sprintf("the call of %s was stopped: %v", t.Label(), ctx.Err()))
		}
		reason := r.reason(err, x, limit)
		switch {
		case errors.Is(err, ErrClosed):
			reason = "the robot is shutting down"
		case !t.ReadOnly && (x.unanswered() || errors.Is(err, context.DeadlineExceeded)):
			// The request may have reached the server: the model must
			// not say the ticket was, or was not, made.
			reason += "; it may or may not have run"
		}
		c.log.Warn("mcp: a tool call failed", "server", r.cfg.Name, "host", r.host, "tool", clip(t.Original),
			"reason", reason, "error", r.scrub(err.Error()))
		return "", redact.Wrap(err, fmt.Sprintf("the call of %s failed: %s", t.Label(), reason))
	}
	text, size, cut := c.resultText(res)
	// A server that echoes its own token (a header value) must not hand
	// it to the model, the bucket's record, and perhaps the answer.
	text = redact.String(text, r.secrets...)
	c.log.Debug("mcp: a tool was called", "server", r.cfg.Name, "tool", clip(t.Original),
		"is_error", res.IsError, "bytes", size, "cut", cut)
	return text, nil
}

// checkArguments returns the model's arguments as the JSON object to send;
// empty arguments (some models send "" for a tool without parameters) are
// an empty object.
func checkArguments(arguments string) (json.RawMessage, error) {
	s := strings.TrimSpace(arguments)
	switch {
	case s == "":
		return json.RawMessage("{}"), nil
	case len(s) > maxArguments:
		return nil, fmt.Errorf("%w, and these are %d bytes long, more than the %d a call may send", ErrBadArguments, len(s), maxArguments)
	case !json.Valid([]byte(s)):
		var v any
		err := json.Unmarshal([]byte(s), &v)
		return nil, fmt.Errorf(`%w, like {"query": "…"}, and these are not valid JSON (%s)`, ErrBadArguments, clip(strings.TrimPrefix(fmt.Sprint(err), "json: ")))
	case s[0] != '{':
		return nil, fmt.Errorf(`%w, like {"query": "…"}, not %s`, ErrBadArguments, jsonKind(s[0]))
	}
	return json.RawMessage(s), nil
}

func jsonKind(first byte) string {
	switch first {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// call calls the tool on a session. A kept session the server no longer
// knows (HTTP 404) is replaced once: the server did not run the call. A
// read-only tool is called once more, on a new session, when its request
// got no answer at all (a connection the server closed while the instance
// slept); no other failure is retried, for the tool may have run.
func (r *remote) call(ctx context.Context, t Tool, args json.RawMessage) (*sdk.CallToolResult, *exchange, error) {
	for attempt := 0; ; attempt++ {
		ctx, x := withExchange(ctx)
		s, fresh, err := r.acquire(ctx)
		if err != nil {
			return nil, x, err
		}
		res, err := s.cs.CallTool(ctx, &sdk.CallToolParams{Name: t.Original, Arguments: args})
		r.release(s, err)
		if err == nil && res == nil {
			err = errors.New("the server answered nothing")
		}
		if err == nil || attempt > 0 || !passing(ctx, err) {
			return res, x, err
		}
		lost := errors.Is(err, sdk.ErrSessionMissing) && !fresh
		unanswered := t.ReadOnly && x.unanswered()
		if !lost && !unanswered {
			return res, x, err
		}
	}
}

// resultText writes a result for the model; it returns the text, the
// length of the whole before any cut, and whether it was cut.
func (c *Client) resultText(res *sdk.CallToolResult) (text string, size int, wasCut bool) {
	var parts []string
	texts := 0
	for _, content := range res.Content {
		switch v := content.(type) {
		case *sdk.TextContent:
			if v.Text != "" {
				parts = append(parts, v.Text)
				texts++
			}
		case *sdk.ImageContent:
			parts = append(parts, fmt.Sprintf("[image omitted: %s, %d bytes]", mediaType(v.MIMEType), len(v.Data)))
		case *sdk.AudioContent:
			parts = append(parts, fmt.Sprintf("[audio omitted: %s, %d bytes]", mediaType(v.MIMEType), len(v.Data)))
		case *sdk.ResourceLink:
			parts = append(parts, fmt.Sprintf("[link to a resource: %s %s]", clip(v.Name), clip(v.URI)))
		case *sdk.EmbeddedResource:
			parts = append(parts, embedded(v))
			if v.Resource != nil && v.Resource.Text != "" {
				texts++
			}
		case nil:
		default:
			parts = append(parts, "[content omitted]")
		}
	}
	if texts == 0 && res.StructuredContent != nil {
		if b, err := json.Marshal(res.StructuredContent); err == nil {
			parts = append(parts, string(b))
		}
	}
	text = strings.Join(parts, "\n\n")
	switch {
	case res.IsError && text == "":
		text = ToolErrorMarker + "the tool failed and said nothing more"
	case res.IsError:
		text = ToolErrorMarker + text
	case text == "":
		text = "(the tool returned nothing)"
	}
	size = len(text)
	if size <= c.cfg.MaxResultBytes {
		return text, size, false
	}
	note := fmt.Sprintf("\n\n[cut: the result was %d bytes long; only the first %d are shown]", size, c.cfg.MaxResultBytes)
	kept := cut(text, c.cfg.MaxResultBytes-len(note))
	note = fmt.Sprintf("\n\n[cut: the result was %d bytes long; only the first %d are shown]", size, len(kept))
	return kept + note, size, true
}

func embedded(v *sdk.EmbeddedResource) string {
	rc := v.Resource
	switch {
	case rc == nil:
		return "[resource omitted]"
	case rc.Text != "":
		return fmt.Sprintf("[resource %s]\n%s", clip(rc.URI), rc.Text)
	case len(rc.Blob) > 0:
		return fmt.Sprintf("[binary resource omitted: %s, %s, %d bytes]", clip(rc.URI), mediaType(rc.MIMEType), len(rc.Blob))
	}
	return fmt.Sprintf("[empty resource %s]", clip(rc.URI))
}

func mediaType(mt string) string {
	if mt == "" {
		return "unknown type"
	}
	return clip(mt)
}
