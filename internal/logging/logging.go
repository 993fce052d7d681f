// Package logging sets up the functions' structured logs: JSON lines on
// stdout, where FC collects them, each line of a request carrying that
// request's id so that one message can be followed through both functions.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// Verbosity is the VERBOSE environment variable of the Python original: a
// Python logging level number (10 debug, 20 info, 25 the default, 30
// warning, 40 error). It is kept so that an operator's settings carry over.
type Verbosity int

// DefaultVerbosity shows warnings and the robot's own notices (between info
// and warning, as in the original), not every info line.
const DefaultVerbosity Verbosity = 25

// UnmarshalText accepts a Python level number or one of its names.
func (v *Verbosity) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	names := map[string]Verbosity{"DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40, "CRITICAL": 50}
	if n, ok := names[strings.ToUpper(s)]; ok {
		*v = n
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 50 {
		return fmt.Errorf("want a Python logging level: 10 (debug), 20 (info), 25 (default), 30 (warning) or 40 (error), got %q", s)
	}
	*v = Verbosity(n)
	return nil
}

// Level maps the Python number onto slog's scale, where Python's 10-point
// steps are slog's 4-point ones: 10→Debug, 20→Info, 30→Warn, 40→Error, and
// 25 falls between Info and Warn, where Notice sits.
func (v Verbosity) Level() slog.Level { return slog.Level((int(v) - 20) * 4 / 10) }

// LevelNotice is for the one or two lines per request that an operator wants
// to see at the default verbosity: a message accepted, an answer delivered.
const LevelNotice = slog.Level(2)

// New returns a logger that writes JSON lines to w at the given verbosity and
// adds the request id found in each record's context.
func New(w io.Writer, v Verbosity) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: v.Level(),
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.LevelKey {
				if l, ok := a.Value.Any().(slog.Level); ok && l == LevelNotice {
					a.Value = slog.StringValue("NOTICE")
				}
			}
			return a
		},
	})
	return slog.New(requestIDHandler{h})
}

type requestIDKey struct{}

// WithRequestID returns a context whose log lines carry id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id of ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestIDHandler adds "requestId" to every record logged with a context
// that has one, so that callers never have to remember to.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("requestId", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
