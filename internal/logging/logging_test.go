package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestVerbosityKeepsPythonNumbers(t *testing.T) {
	tests := []struct {
		in        string
		shows     []slog.Level
		hides     []slog.Level
		wantError bool
	}{
		{in: "10", shows: []slog.Level{slog.LevelDebug, slog.LevelInfo}},
		{in: "20", shows: []slog.Level{slog.LevelInfo}, hides: []slog.Level{slog.LevelDebug}},
		{in: "25", shows: []slog.Level{LevelNotice, slog.LevelWarn}, hides: []slog.Level{slog.LevelInfo}},
		{in: "30", shows: []slog.Level{slog.LevelWarn}, hides: []slog.Level{LevelNotice}},
		{in: "40", shows: []slog.Level{slog.LevelError}, hides: []slog.Level{slog.LevelWarn}},
		{in: "debug", shows: []slog.Level{slog.LevelDebug}},
		{in: "loud", wantError: true},
		{in: "99", wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var v Verbosity
			err := v.UnmarshalText([]byte(tt.in))
			if tt.wantError {
				if err == nil {
					t.Fatalf("VERBOSE=%s accepted as %d", tt.in, v)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			log := New(&bytes.Buffer{}, v)
			for _, l := range tt.shows {
				if !log.Enabled(context.Background(), l) {
					t.Errorf("VERBOSE=%s hides %v", tt.in, l)
				}
			}
			for _, l := range tt.hides {
				if log.Enabled(context.Background(), l) {
					t.Errorf("VERBOSE=%s shows %v", tt.in, l)
				}
			}
		})
	}
}

func TestEveryLineOfARequestCarriesItsID(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, 10).With("function", "reply")
	ctx := WithRequestID(context.Background(), "req-1")
	log.InfoContext(ctx, "one")
	log.Log(ctx, LevelNotice, "two")
	log.Info("outside a request")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines: %s", len(lines), buf.String())
	}
	for i, want := range []string{"req-1", "req-1", ""} {
		var rec map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &rec); err != nil {
			t.Fatalf("line %d is not JSON: %s", i, lines[i])
		}
		got, _ := rec["requestId"].(string)
		if got != want {
			t.Errorf("line %d requestId = %q, want %q", i, got, want)
		}
		if rec["function"] != "reply" {
			t.Errorf("line %d lost its attributes: %s", i, lines[i])
		}
	}
	if !strings.Contains(lines[1], `"level":"NOTICE"`) {
		t.Errorf("notice level not named: %s", lines[1])
	}
}
