package dingtalktest

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/dingtalk-llm/fcrobot/internal/dingtalk"
)

// FileURLPrefix starts the path of the download URLs the fake hands out.
// They stand for DingTalk's signed storage (OSS) links: an unguessable
// path, no access token needed.
const FileURLPrefix = "/fake-oss/"

// CodeDownloadCodeInvalid answers a downloadCode the fake does not know
// (HTTP 400). DingTalk's code for this case was not found; this one is the
// fake's own.
const CodeDownloadCodeInvalid = "InvalidParameter.DownloadCode"

// storedFile is a file a message could carry.
type storedFile struct {
	data        []byte
	contentType string
}

// fileState is the file side of a Server, guarded by Server.mu.
type fileState struct {
	byCode    map[string]storedFile // downloadCode -> file
	byURLPath map[string]storedFile // path under FileURLPrefix -> file
	downloads int
}

func newFileState() fileState {
	return fileState{byCode: make(map[string]storedFile), byURLPath: make(map[string]storedFile)}
}

// AddFile stores a file as if a user had sent it, and returns the
// downloadCode a callback would carry for it (see PictureCallback,
// FileCallback). An empty contentType makes the download answer without a
// Content-Type.
func (s *Server) AddFile(data []byte, contentType string) string {
	code := downloadCode()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files.byCode[code] = storedFile{data: append([]byte(nil), data...), contentType: contentType}
	return code
}

// FileDownloads counts the download URLs fetched that served a file.
func (s *Server) FileDownloads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files.downloads
}

// serveMessageFileDownload serves POST /v1.0/robot/messageFiles/download.
// It checks the token, the body, the robotCode (the app's AppKey, as the
// send calls check it) and the downloadCode, then answers a downloadUrl on
// the fake's own server, a new one per call like DingTalk's signed links.
func (s *Server) serveMessageFileDownload(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RobotCode    string `json:"robotCode"`
		DownloadCode string `json:"downloadCode"`
	}
	decodeErr := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes)).Decode(&req)

	s.mu.Lock()
	urlPath, refused := s.resolveDownloadLocked(r.Header.Get(dingtalk.AccessTokenHeader), req.RobotCode, req.DownloadCode, decodeErr)
	s.mu.Unlock()

	if refused != nil {
		refuse(w, refused.status, refused.code, refused.message)
		return
	}
	writeOpenAPI(w, http.StatusOK, map[string]string{"downloadUrl": s.URL() + FileURLPrefix + urlPath})
}

func (s *Server) resolveDownloadLocked(token, robotCode, downloadCode string, decodeErr error) (string, *refusal) {
	if !s.validTokenLocked(token) {
		return "", badRequest(dingtalk.CodeInvalidAuthentication, "不合法的access_token")
	}
	switch {
	case decodeErr != nil:
		return "", badRequest("Missingbody", "body is mandatory for this action.")
	case robotCode == "":
		return "", badRequest("MissingrobotCode", "robotCode is mandatory for this action.")
	case robotCode != s.openAPI.appKey:
		return "", badRequest(CodeInvalidParameter, "robotCode is not this app's robot")
	case downloadCode == "":
		return "", badRequest("MissingdownloadCode", "downloadCode is mandatory for this action.")
	}
	file, ok := s.files.byCode[downloadCode]
	if !ok {
		return "", badRequest(CodeDownloadCodeInvalid, "downloadCode is invalid or has expired")
	}
	urlPath := rand.Text()
	s.files.byURLPath[urlPath] = file
	return urlPath, nil
}

// serveFile serves a download URL: the file, with its Content-Type and
// Content-Length. An unknown path is answered the way OSS answers a
// missing object: 404 with an XML error.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	file, ok := s.files.byURLPath[strings.TrimPrefix(r.URL.Path, FileURLPrefix)]
	if ok {
		s.files.downloads++
	}
	s.mu.Unlock()

	if !ok {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
			`<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
		return
	}
	if file.contentType != "" {
		w.Header().Set("Content-Type", file.contentType)
	} else {
		// A nil value keeps net/http from sniffing one.
		w.Header()["Content-Type"] = nil
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(file.data)))
	w.Write(file.data)
}
