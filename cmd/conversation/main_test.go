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
	for _, name := range []string{"CHATGPT_FUNCTION", "DINGTALK_APP_SECRET", "DINGTALK_APP_KEY", "SIGNATURE_MAX_AGE", "CARD_CALLBACK_ROUTE_KEY", "CARD_CALLBACK_SECRET", "CARD_CALLBACK_URL"} {
		if !strings.Contains(usage, name) {
			t.Errorf("usage does not mention %s", name)
		}
	}
}

func TestCardCallbackSettingsAreValidated(t *testing.T) {
	const key, secret = "fcrobot-buttons", "0123456789abcdef0123"
	for name, tt := range map[string]struct {
		env  map[string]string
		want string
	}{
		"a route key alone":      {map[string]string{"CARD_CALLBACK_ROUTE_KEY": key}, "without CARD_CALLBACK_SECRET"},
		"a secret alone":         {map[string]string{"CARD_CALLBACK_SECRET": secret}, "without CARD_CALLBACK_ROUTE_KEY"},
		"a short secret":         {map[string]string{"CARD_CALLBACK_ROUTE_KEY": key, "CARD_CALLBACK_SECRET": "short"}, "16 to 256 characters"},
		"a secret with a space":  {map[string]string{"CARD_CALLBACK_ROUTE_KEY": key, "CARD_CALLBACK_SECRET": secret + " x"}, "no spaces"},
		"a route key with a '/'": {map[string]string{"CARD_CALLBACK_ROUTE_KEY": "a/b", "CARD_CALLBACK_SECRET": secret}, "CARD_CALLBACK_ROUTE_KEY must be"},
		"a URL without buttons":  {map[string]string{"CARD_CALLBACK_URL": "https://bot.example.com/card"}, "without CARD_CALLBACK_ROUTE_KEY"},
		"an http URL":            {map[string]string{"CARD_CALLBACK_ROUTE_KEY": key, "CARD_CALLBACK_SECRET": secret, "CARD_CALLBACK_URL": "http://bot.example.com/card"}, "absolute https URL"},
		"a relative URL":         {map[string]string{"CARD_CALLBACK_ROUTE_KEY": key, "CARD_CALLBACK_SECRET": secret, "CARD_CALLBACK_URL": "/card"}, "absolute https URL"},
		"a URL with a query":     {map[string]string{"CARD_CALLBACK_ROUTE_KEY": key, "CARD_CALLBACK_SECRET": secret, "CARD_CALLBACK_URL": "https://bot.example.com/card?x=1"}, "absolute https URL"},
		"a URL with a user":      {map[string]string{"CARD_CALLBACK_ROUTE_KEY": key, "CARD_CALLBACK_SECRET": secret, "CARD_CALLBACK_URL": "https://u:p@bot.example.com/card"}, "absolute https URL"},
		"a URL at the root":      {map[string]string{"CARD_CALLBACK_ROUTE_KEY": key, "CARD_CALLBACK_SECRET": secret, "CARD_CALLBACK_URL": "https://bot.example.com/"}, "a path of its own"},
	} {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{"CHATGPT_FUNCTION": "reply", "DINGTALK_APP_SECRET": "s", "FC_CUSTOM_LISTEN_PORT": "0", "ENDPOINT": "http://127.0.0.1:1"}
			for k, v := range tt.env {
				env[k] = v
			}
			err := run(context.Background(), []string{"conversation"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run = %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}
