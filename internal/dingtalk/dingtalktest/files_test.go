package dingtalktest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
	"github.com/dingtalk-llm/fcrobot/internal/dingtalk/dingtalktest"
)

func fetch(t *testing.T, s *dingtalktest.Server, url string) (*http.Response, string) {
	t.Helper()
	// No access token: the download URL carries its own authority.
	resp, err := s.Client().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestMessageFileDownload(t *testing.T) {
	s, tok := newCardServer(t)
	code := s.AddFile([]byte("%PDF-1.7 report"), "application/pdf")
	resolve := func() string {
		t.Helper()
		a := callCard(t, s, http.MethodPost, dingtalk.MessageFilesDownloadPath, tok, `{"robotCode":"`+appKey+`","downloadCode":"`+code+`"}`)
		if a.Status != http.StatusOK || !strings.HasPrefix(a.DownloadURL, s.URL()+dingtalktest.FileURLPrefix) {
			t.Fatalf("answer %+v, want a downloadUrl on the fake", a)
		}
		return a.DownloadURL
	}
	first, second := resolve(), resolve()
	if first == second {
		t.Errorf("two resolves gave the same URL %s, want a new link each time", first)
	}
	for _, u := range []string{first, second} {
		resp, body := fetch(t, s, u)
		if resp.StatusCode != http.StatusOK || body != "%PDF-1.7 report" ||
			resp.Header.Get("Content-Type") != "application/pdf" || resp.ContentLength != int64(len(body)) {
			t.Errorf("download: HTTP %d %q, type %q, length %d", resp.StatusCode, body, resp.Header.Get("Content-Type"), resp.ContentLength)
		}
	}
	resp, body := fetch(t, s, s.URL()+dingtalktest.FileURLPrefix+"guessed")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "NoSuchKey") {
		t.Errorf("an unknown URL: HTTP %d %q, want 404 NoSuchKey", resp.StatusCode, body)
	}
	if n := s.FileDownloads(); n != 2 {
		t.Errorf("FileDownloads() = %d, want 2", n)
	}
}

func TestMessageFileWithoutContentType(t *testing.T) {
	s, tok := newCardServer(t)
	code := s.AddFile([]byte("<html>not sniffed</html>"), "")
	a := callCard(t, s, http.MethodPost, dingtalk.MessageFilesDownloadPath, tok, `{"robotCode":"`+appKey+`","downloadCode":"`+code+`"}`)
	resp, _ := fetch(t, s, a.DownloadURL)
	if got, ok := resp.Header["Content-Type"]; ok {
		t.Errorf("Content-Type %q, want none", got)
	}
}

func TestMessageFileDownloadRefusals(t *testing.T) {
	tests := []struct {
		name     string
		noToken  bool
		body     string
		wantCode string
	}{
		{name: "no token", noToken: true, body: `{"robotCode":"` + appKey + `","downloadCode":"CODE"}`, wantCode: dingtalk.CodeInvalidAuthentication},
		{name: "not JSON", body: `downloadCode=CODE`, wantCode: "Missingbody"},
		{name: "no robotCode", body: `{"downloadCode":"CODE"}`, wantCode: "MissingrobotCode"},
		{name: "another robot", body: `{"robotCode":"dingother","downloadCode":"CODE"}`, wantCode: dingtalktest.CodeInvalidParameter},
		{name: "no downloadCode", body: `{"robotCode":"` + appKey + `"}`, wantCode: "MissingdownloadCode"},
		{name: "unknown downloadCode", body: `{"robotCode":"` + appKey + `","downloadCode":"unknown"}`, wantCode: dingtalktest.CodeDownloadCodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, tok := newCardServer(t)
			code := s.AddFile([]byte("data"), "text/plain")
			if tt.noToken {
				tok = ""
			}
			a := callCard(t, s, http.MethodPost, dingtalk.MessageFilesDownloadPath, tok, strings.ReplaceAll(tt.body, "CODE", code))
			if a.Status != http.StatusBadRequest || a.Code != tt.wantCode || a.DownloadURL != "" {
				t.Errorf("answer %+v, want HTTP 400 %s", a, tt.wantCode)
			}
		})
	}
}
