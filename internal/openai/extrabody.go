package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// clientKeys are the body keys the client writes itself: ExtraBody may not
// replace them.
var clientKeys = []string{"model", "messages", "temperature", "stream", "stream_options", "tools", "tool_choice"}

// bodyKeys are keys added to the JSON body of a chat request as it is
// sent: ExtraBody's, and the request's tools. go-openai v1.43.0 has no
// field for keys of a provider's own in a chat request (its ExtraBody is
// the embeddings' and the Responses API's only), and its Tool cannot write
// Moonshot's builtin as documented (see wireTool); so the client adds them
// to the JSON that go-openai wrote, rather than fork the library.
type bodyKeys map[string]json.RawMessage

// extraBody checks the configured ExtraBody and writes each value as JSON
// once.
func extraBody(extra map[string]any) (bodyKeys, error) {
	if len(extra) == 0 {
		return nil, nil
	}
	keys := make(bodyKeys, len(extra))
	for k, v := range extra {
		if k == "" || slices.Contains(clientKeys, k) {
			return nil, fmt.Errorf("openai: the extra body key %q is the client's own", k)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("openai: the extra body key %q: %w", k, err)
		}
		keys[k] = b
	}
	return keys, nil
}

// with returns the keys and, when it is not nil, one more.
func (k bodyKeys) with(key string, value json.RawMessage) bodyKeys {
	if value == nil {
		return k
	}
	out := maps.Clone(k)
	if out == nil {
		out = make(bodyKeys, 1)
	}
	out[key] = value
	return out
}

// into is req with the keys set in its JSON body, when req is a chat
// request and there are keys. The body is the request without the
// pictures' data (see inlineImages), so it is small to read and write
// again; Content-Length and GetBody follow the new body. A key the body
// already has is replaced.
func (k bodyKeys) into(req *http.Request) (*http.Request, error) {
	if len(k) == 0 || req.Body == nil || req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/chat/completions") {
		return req, nil
	}
	raw, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("openai: the request body is not a JSON object: %w", err)
	}
	maps.Copy(body, k)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// The body is JSON for a machine: keep it as go-openai wrote it.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return nil, fmt.Errorf("openai: writing the request body: %w", err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	out := req.Clone(req.Context())
	out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return out, nil
}
