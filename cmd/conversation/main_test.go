package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestSignatureMaxAgeIsValidated(t *testing.T) {
	for value, want := range map[string]string{
		"0":       "SIGNATURE_MAX_AGE must be 1 to 3600 seconds",
		"-5":      "SIGNATURE_MAX_AGE must be 1 to 3600 seconds",
		"3601":    "SIGNATURE_MAX_AGE must be 1 to 3600 seconds",
		"1.5":     "SIGNATURE_MAX_AGE is invalid",
		"an hour": "SIGNATURE_MAX_AGE is invalid",
	} {
		t.Run(value, func(t *testing.T) {
			env := map[string]string{
				"CHATGPT_FUNCTION": "reply", "DINGTALK_APP_SECRET": "s", "SIGNATURE_MAX_AGE": value,
				"FC_CUSTOM_LISTEN_PORT": "0", "ENDPOINT": "http://127.0.0.1:1",
			}
			err := run(context.Background(), []string{"conversation"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("run with SIGNATURE_MAX_AGE=%s = %v, want an error containing %q", value, err, want)
			}
		})
	}
}

func TestUsageNamesEveryVariable(t *testing.T) {
	for _, name := range []string{"CHATGPT_FUNCTION", "DINGTALK_APP_SECRET", "DINGTALK_APP_KEY", "SIGNATURE_MAX_AGE"} {
		if !strings.Contains(usage, name) {
			t.Errorf("usage does not mention %s", name)
		}
	}
}
