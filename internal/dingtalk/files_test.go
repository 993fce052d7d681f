package dingtalk_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

// safety bounds a wait that should end soon; it is never a pass/fail
// timing check.
const safety = 30 * time.Second

// pngHeader is enough of a PNG for http.DetectContentType.
var pngHeader = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00")

// headerRecorder records the headers of the requests to paths under a
// prefix.
type headerRecorder struct {
	prefix  string
	next    http.RoundTripper
	mu      sync.Mutex
	headers []http.Header
}

func (h *headerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, h.prefix) {
		h.mu.Lock()
		h.headers = append(h.headers, r.Header.Clone())
		h.mu.Unlock()
	}
	return h.next.RoundTrip(r)
}

func TestDownloadMessageFile(t *testing.T) {
	tests := []struct {
		name        string
		data        []byte
		contentType string // as the storage serves it
		want        string
	}{
		{"declared type", []byte("%PDF-1.7 a document"), "application/pdf", "application/pdf"},
		{"declared with parameters", []byte("hello"), "text/plain; charset=utf-8", "text/plain; charset=utf-8"},
		{"no type: sniffed", pngHeader, "", "image/png"},
		{"octet-stream: sniffed", pngHeader, "application/octet-stream", "image/png"},
		{"octet-stream, nothing to sniff", []byte{0, 1, 2, 3}, "application/octet-stream", "application/octet-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := dingtalktest.NewServer()
			t.Cleanup(fake.Close)
			fake.SetApp(appKey, appSecret)
			downloads := &headerRecorder{prefix: dingtalktest.FileURLPrefix, next: fake.Client().Transport}
			client := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: &http.Client{Transport: downloads}, BaseURL: fake.URL(), AppKey: appKey, AppSecret: appSecret, Retry: fastRetries()})

			code := fake.AddFile(tt.data, tt.contentType)
			f, err := client.DownloadMessageFile(t.Context(), appKey, code, int64(len(tt.data)))
			if err != nil {
				t.Fatalf("DownloadMessageFile: %v", err)
			}
			if !bytes.Equal(f.Data, tt.data) || f.ContentType != tt.want {
				t.Errorf("file %q of type %q, want %q of type %q", f.Data, f.ContentType, tt.data, tt.want)
			}
			if n := fake.FileDownloads(); n != 1 {
				t.Errorf("%d downloads, want 1", n)
			}
			if len(downloads.headers) != 1 || downloads.headers[0].Get(dingtalk.AccessTokenHeader) != "" {
				t.Errorf("download requests %v, want one without the access token", downloads.headers)
			}
		})
	}
}

func TestDownloadMessageFileTooLarge(t *testing.T) {
	fake, client := newOpenAPI(t)
	code := fake.AddFile(bytes.Repeat([]byte("x"), 1000), "text/plain")
	_, err := client.DownloadMessageFile(t.Context(), appKey, code, 999)
	if !errors.Is(err, chat.ErrFileTooLarge) {
		t.Fatalf("DownloadMessageFile = %v, want ErrFileTooLarge", err)
	}
	if n := fake.TokenRequests(); n != 1 {
		t.Errorf("%d token requests, want 1: a file too large is not retried", n)
	}
}

// TestDownloadMessageFileTooLargeUnannounced has the storage send a body
// without Content-Length much larger than the limit: the client stops
// reading past the limit, so the server cannot write it all.
func TestDownloadMessageFileTooLargeUnannounced(t *testing.T) {
	const total = 64 << 20
	written := make(chan int, 1)
	srv := newStorageAndAPI(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("y"), 32<<10)
		n := 0
		for n < total {
			m, err := w.Write(chunk)
			n += m
			if err != nil {
				break
			}
			w.(http.Flusher).Flush()
		}
		written <- n
	})
	client := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: srv.Client(), BaseURL: srv.URL, AppKey: appKey, AppSecret: appSecret, Retry: fastRetries()})
	_, err := client.DownloadMessageFile(t.Context(), appKey, "code", 1<<20)
	if !errors.Is(err, chat.ErrFileTooLarge) {
		t.Fatalf("DownloadMessageFile = %v, want ErrFileTooLarge", err)
	}
	select {
	case n := <-written:
		if n >= total {
			t.Errorf("the server wrote all %d bytes: the client read them", n)
		}
	case <-time.After(safety):
		t.Fatal("the server is still writing: the client did not close the download")
	}
}

// newStorageAndAPI serves the token, a messageFiles/download that answers
// a URL on the same server, and that URL with the given handler.
func newStorageAndAPI(t *testing.T, file http.HandlerFunc) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc(dingtalk.AccessTokenPath, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"accessToken":"t","expireIn":7200}`))
	})
	mux.HandleFunc(dingtalk.MessageFilesDownloadPath, func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"downloadUrl": srv.URL + "/file/secret-object?Signature=s3cr3t"})
	})
	mux.HandleFunc("/file/", file)
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestDownloadMessageFileRetriesTheStorage(t *testing.T) {
	var fetches atomic.Int32
	srv := newStorageAndAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if fetches.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write([]byte("jpeg"))
	})
	client := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: srv.Client(), BaseURL: srv.URL, AppKey: appKey, AppSecret: appSecret, Retry: fastRetries()})
	f, err := client.DownloadMessageFile(t.Context(), appKey, "code", 100)
	if err != nil || string(f.Data) != "jpeg" || f.ContentType != "image/jpeg" {
		t.Fatalf("DownloadMessageFile = %+v, %v; want the file on the third fetch", f, err)
	}
	if n := fetches.Load(); n != 3 {
		t.Errorf("%d fetches, want 3", n)
	}
}

func TestDownloadMessageFileStorageRefusal(t *testing.T) {
	var fetches atomic.Int32
	srv := newStorageAndAPI(t, func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		http.Error(w, "<Error><Code>AccessDenied</Code></Error>", http.StatusForbidden)
	})
	client := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: srv.Client(), BaseURL: srv.URL, AppKey: appKey, AppSecret: appSecret, Retry: fastRetries()})
	_, err := client.DownloadMessageFile(t.Context(), appKey, "code", 100)
	var downloadErr *dingtalk.FileDownloadError
	if !errors.As(err, &downloadErr) || downloadErr.StatusCode != http.StatusForbidden || downloadErr.Retryable() {
		t.Fatalf("DownloadMessageFile = %v, want a FileDownloadError HTTP 403", err)
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

func TestDownloadMessageFileHidesTheURL(t *testing.T) {
	srv := newStorageAndAPI(t, func(w http.ResponseWriter, r *http.Request) {
		// Hijack and close: a transport error, which the HTTP client
		// reports with the URL.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	client := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: srv.Client(), BaseURL: srv.URL, AppKey: appKey, AppSecret: appSecret, Retry: fastRetries()})
	_, err := client.DownloadMessageFile(t.Context(), appKey, "code", 100)
	if err == nil {
		t.Fatal("DownloadMessageFile succeeded on a closed connection")
	}
	if text := err.Error(); strings.Contains(text, "secret-object") || strings.Contains(text, "s3cr3t") || !strings.Contains(text, strings.TrimPrefix(srv.URL, "http://")) {
		t.Errorf("error %q shows the signed path or query, or not the host", text)
	}
}

func TestDownloadMessageFileRefusals(t *testing.T) {
	fake, client := newOpenAPI(t)
	code := fake.AddFile([]byte("data"), "text/plain")
	tests := []struct {
		name                    string
		robotCode, downloadCode string
		maxBytes                int64
		wantInvalid             bool   // refused before calling
		wantCode                string // DingTalk's refusal
	}{
		{name: "no robot code", downloadCode: code, maxBytes: 10, wantInvalid: true},
		{name: "no download code", robotCode: appKey, maxBytes: 10, wantInvalid: true},
		{name: "no limit", robotCode: appKey, downloadCode: code, wantInvalid: true},
		{name: "unknown code", robotCode: appKey, downloadCode: "nope", maxBytes: 10, wantCode: dingtalktest.CodeDownloadCodeInvalid},
		{name: "another robot", robotCode: "dingotherrobot", downloadCode: code, maxBytes: 10, wantCode: dingtalktest.CodeInvalidParameter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.DownloadMessageFile(t.Context(), tt.robotCode, tt.downloadCode, tt.maxBytes)
			if tt.wantInvalid {
				if !errors.Is(err, dingtalk.ErrInvalidRequest) {
					t.Errorf("DownloadMessageFile = %v, want ErrInvalidRequest", err)
				}
				return
			}
			var apiErr *dingtalk.OpenAPIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Code != tt.wantCode || apiErr.Retryable() {
				t.Errorf("DownloadMessageFile = %v, want HTTP 400 %s", err, tt.wantCode)
			}
		})
	}
	if n := fake.FileDownloads(); n != 0 {
		t.Errorf("%d downloads, want none", n)
	}
}

// OpenMessageFile answers once the storage did: the size it announced, the
// type sniffed from the body's start, and the body, which reads the file
// whole at the limit and fails one byte past it.
func TestOpenMessageFileStreamsTheBody(t *testing.T) {
	data := append(append([]byte(nil), pngHeader...), bytes.Repeat([]byte{7}, 4096)...)
	for _, tc := range []struct {
		name        string
		announce    bool
		limit       int64
		wantTooLong bool
	}{
		{"announced, at the limit", true, int64(len(data)), false},
		{"unannounced, at the limit", false, int64(len(data)), false},
		{"unannounced, one byte past the limit", false, int64(len(data)) - 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newStorageAndAPI(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/octet-stream")
				if tc.announce {
					w.Header().Set("Content-Length", fmt.Sprint(len(data)))
				}
				w.Write(data[:100])
				w.(http.Flusher).Flush() // no Content-Length when unannounced
				w.Write(data[100:])
			})
			client := dingtalk.NewOpenAPI(dingtalk.OpenAPIConfig{HTTPClient: srv.Client(), BaseURL: srv.URL, AppKey: appKey, AppSecret: appSecret, Retry: fastRetries()})
			f, err := client.OpenMessageFile(t.Context(), appKey, "code", tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Body.Close()
			wantSize := int64(-1)
			if tc.announce {
				wantSize = int64(len(data))
			}
			if f.Size != wantSize || f.ContentType != "image/png" {
				t.Errorf("size %d, type %q; want %d, image/png", f.Size, f.ContentType, wantSize)
			}
			got, err := io.ReadAll(f.Body)
			switch {
			case tc.wantTooLong && !errors.Is(err, chat.ErrFileTooLarge):
				t.Errorf("read %d bytes, %v; want ErrFileTooLarge", len(got), err)
			case tc.wantTooLong && int64(len(got)) > tc.limit:
				t.Errorf("read %d bytes past a limit of %d", len(got), tc.limit)
			case !tc.wantTooLong && (err != nil || !bytes.Equal(got, data)):
				t.Errorf("read %d bytes, %v; want the %d bytes of the file", len(got), err, len(data))
			}
		})
	}
}
