package openai

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/openai/openaitest"
)

// An endpoint that redirects would have the prompt, the history and the
// pictures follow it elsewhere: the client follows no redirect, of any
// kind, and says why in words the operator can act on.
func TestARedirectIsNotFollowedWithThePrompt(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	t.Cleanup(other.Close)
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+r.URL.Path, status)
			}))
			t.Cleanup(endpoint.Close)
			c := newTestClient(t, endpoint.URL+"/v1", nil)
			for name, call := range map[string]func() error{
				"complete": func() error { _, err := c.Complete(safeCtx(t), chat.Prompt{Question: "秘密的问题"}); return err },
				"stream": func() error {
					_, err := c.Stream(safeCtx(t), chat.Prompt{Question: "秘密的问题"}, func(string) error { return nil })
					return err
				},
			} {
				err := call()
				if !errors.Is(err, chat.ErrModelRejected) || !strings.Contains(err.Error(), "ENDPOINT") {
					t.Errorf("%s: %v; want a refusal that names ENDPOINT", name, err)
				}
			}
			if n := elsewhere.Load(); n != 0 {
				t.Errorf("%d requests followed the redirect", n)
			}
		})
	}
}

func TestAnUnknownModelIsToldApart(t *testing.T) {
	for name, resp := range map[string]openaitest.Response{
		"OpenAI's 404":        {Status: 404, ErrorMessage: "The model `gpt-9` does not exist or you do not have access to it.", ErrorCode: "model_not_found"},
		"another's 400 words": {Status: 400, ErrorMessage: "Model not exist.", ErrorCode: "invalid_request_error"},
	} {
		t.Run(name, func(t *testing.T) {
			c := newTestClient(t, newFake(t, openaitest.Fixed(resp)).URL(), nil)
			_, err := c.Complete(safeCtx(t), chat.Prompt{Question: "q"})
			if !errors.Is(err, chat.ErrModelRejected) || !errors.Is(err, chat.ErrModelUnknown) {
				t.Errorf("%v; want a rejection for an unknown model", err)
			}
		})
	}
	for _, resp := range []openaitest.Response{
		{Status: 400, ErrorMessage: "temperature is out of range"},
		// An ENDPOINT without its /v1: the address is wrong, not the model.
		{Status: 404, ErrorMessage: "404 page not found", ErrorCode: "not_found"},
	} {
		c := newTestClient(t, newFake(t, openaitest.Fixed(resp)).URL(), nil)
		if _, err := c.Complete(safeCtx(t), chat.Prompt{Question: "q"}); errors.Is(err, chat.ErrModelUnknown) {
			t.Errorf("%v: another refusal taken for an unknown model", err)
		}
	}
}
