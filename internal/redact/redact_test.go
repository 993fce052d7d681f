package redact_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/redact"
)

func TestString(t *testing.T) {
	tests := []struct {
		name, in string
		secrets  []string
		want     string
	}{
		{"every occurrence", "token abc, again abc", []string{"abc"}, "token REDACTED, again REDACTED"},
		{"several secrets", "secret s3 and token t0k", []string{"s3", "t0k"}, "secret REDACTED and token REDACTED"},
		{"empty secrets are skipped", "nothing here", []string{"", ""}, "nothing here"},
		{"no secrets", "plain", nil, "plain"},
		{"absent secret", "plain", []string{"zzz"}, "plain"},
		{"in the order given", "abcdef", []string{"abcdef", "abc"}, "REDACTED"},
		{"a shorter secret first leaves the rest", "abcdef", []string{"abc", "abcdef"}, "REDACTEDdef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redact.String(tt.in, tt.secrets...); got != tt.want {
				t.Errorf("String(%q, %q) = %q, want %q", tt.in, tt.secrets, got, tt.want)
			}
		})
	}
}

func TestWithDecoded(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		want    []string
	}{
		{"each followed by its decoded form", []string{"a%2Bb", "x", "c+d"}, []string{"a%2Bb", "a+b", "x", "c+d", "c d"}},
		{"undecodable kept raw", []string{"%zz"}, []string{"%zz"}},
		{"empty left out", []string{"", "k"}, []string{"k"}},
		{"nothing", nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redact.WithDecoded(tt.secrets...); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("WithDecoded(%q) = %q, want %q", tt.secrets, got, tt.want)
			}
		})
	}
	// Both forms are then scrubbed.
	secrets := redact.WithDecoded("s%20e")
	if got := redact.String("raw s%20e, decoded s e", secrets...); got != "raw REDACTED, decoded REDACTED" {
		t.Errorf("String with decoded secrets = %q", got)
	}
}

func TestError(t *testing.T) {
	if redact.Error(nil, "s") != nil {
		t.Error("Error(nil) is not nil")
	}

	clean := errors.New("nothing secret")
	if got := redact.Error(clean, "s3cr3t", ""); got != clean {
		t.Errorf("Error of a clean error = %#v, want the error itself", got)
	}

	cause := &fs.PathError{Op: "open", Path: "/mnt/s3cr3t", Err: fs.ErrNotExist}
	err := redact.Error(fmt.Errorf("load: %w (deadline: %w)", cause, context.DeadlineExceeded), "s3cr3t")
	if want := "load: open /mnt/REDACTED: file does not exist (deadline: context deadline exceeded)"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v lost its chain for errors.Is", err)
	}
	var pathErr *fs.PathError
	if !errors.As(err, &pathErr) || pathErr != cause {
		t.Errorf("%v lost its chain for errors.As", err)
	}
}

func TestWrap(t *testing.T) {
	if redact.Wrap(nil, "text") != nil {
		t.Error("Wrap(nil) is not nil")
	}
	cause := fmt.Errorf("get https://host/signed?sig=1: %w", context.Canceled)
	err := redact.Wrap(cause, "get https://host: context canceled")
	if err.Error() != "get https://host: context canceled" {
		t.Errorf("Error() = %q", err.Error())
	}
	if errors.Unwrap(err) != cause || !errors.Is(err, context.Canceled) {
		t.Errorf("%v does not unwrap to its cause", err)
	}
}
