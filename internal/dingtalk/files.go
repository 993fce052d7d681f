package dingtalk

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/dingtalk-llm/fcrobot/internal/chat"
	"github.com/dingtalk-llm/fcrobot/internal/redact"
)

// MessageFilesDownloadPath turns the downloadCode of a received picture,
// file, audio or video into a download URL: POST {robotCode, downloadCode},
// answered {downloadUrl} (DingTalk's official SDK, robot_1_0
// RobotMessageFileDownload, and many public clients agree on this shape).
// The URL is a short-lived signed link on another host (OSS); it is
// fetched without the access token.
const MessageFilesDownloadPath = "/v1.0/robot/messageFiles/download"

// File is a downloaded message file.
type File struct {
	// ContentType is the download's Content-Type, or, when it names none
	// or only application/octet-stream, the type http.DetectContentType
	// finds in the data.
	ContentType string
	Data        []byte
}

// FileDownloadError is an answer other than 2xx from a download URL.
type FileDownloadError struct {
	StatusCode int
}

func (e *FileDownloadError) Error() string {
	return fmt.Sprintf("dingtalk: download message file: HTTP %d", e.StatusCode)
}

// Retryable reports whether fetching again may succeed: a server error or
// HTTP 429.
func (e *FileDownloadError) Retryable() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests
}

// DownloadMessageFile downloads a file a user sent the robot: it resolves
// downloadCode through POST /v1.0/robot/messageFiles/download and GETs the
// URL DingTalk answers, without the access token (the URL is on another
// host and carries its own signature). It reads at most maxBytes; a larger
// file is chat.ErrFileTooLarge (wrapped), found from Content-Length or by
// reading one byte past the limit, never by reading it all.
//
// A refusal by the OpenAPI is an *OpenAPIError, a refusal by the download
// host a *FileDownloadError; both are retried, resolving the code again,
// when Retryable. Errors never show the download URL's path or query.
func (o *OpenAPI) DownloadMessageFile(ctx context.Context, robotCode, downloadCode string, maxBytes int64) (File, error) {
	switch {
	case robotCode == "":
		return File{}, fmt.Errorf("dingtalk openapi: %w: no robot code", ErrInvalidRequest)
	case downloadCode == "":
		return File{}, fmt.Errorf("dingtalk openapi: %w: no download code", ErrInvalidRequest)
	case maxBytes <= 0:
		return File{}, fmt.Errorf("dingtalk openapi: %w: a file limit of %d bytes", ErrInvalidRequest, maxBytes)
	}
	body := map[string]string{"robotCode": robotCode, "downloadCode": downloadCode}
	var file File
	err := o.retry.Do(ctx, func(ctx context.Context) error {
		var answer struct {
			DownloadURL string `json:"downloadUrl"`
		}
		if err := o.call(ctx, MessageFilesDownloadPath, body, &answer); err != nil {
			return err
		}
		var err error
		file, err = o.fetchFile(ctx, answer.DownloadURL, maxBytes)
		return err
	}, o.logRetry(ctx, MessageFilesDownloadPath))
	return file, err
}

// fetchFile GETs a download URL and reads at most maxBytes of it.
func (o *OpenAPI) fetchFile(ctx context.Context, rawURL string, maxBytes int64) (File, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return File{}, fmt.Errorf("dingtalk openapi %s: %w: no http(s) downloadUrl", MessageFilesDownloadPath, ErrUnexpectedOpenAPIResponse)
	}
	shown := u.Scheme + "://" + u.Host // what errors may show of the URL
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return File{}, fmt.Errorf("dingtalk: download message file from %s: %w", shown, hideURL(err, rawURL, shown))
	}
	// The OpenAPI client does not follow redirects so that the token never
	// leaves DingTalk; this request carries none, and a storage host may
	// redirect.
	client := *o.httpClient
	client.CheckRedirect = nil
	resp, err := client.Do(req)
	if err != nil {
		return File{}, fmt.Errorf("dingtalk: download message file: %w", hideURL(err, rawURL, shown))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return File{}, &FileDownloadError{StatusCode: resp.StatusCode}
	}
	if resp.ContentLength > maxBytes {
		return File{}, fmt.Errorf("dingtalk: download message file: %w: %d bytes, at most %d", chat.ErrFileTooLarge, resp.ContentLength, maxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return File{}, fmt.Errorf("dingtalk: download message file from %s: %w", shown, hideURL(err, rawURL, shown))
	}
	if int64(len(data)) > maxBytes {
		return File{}, fmt.Errorf("dingtalk: download message file: %w: more than %d bytes", chat.ErrFileTooLarge, maxBytes)
	}
	return File{ContentType: contentType(resp.Header.Get("Content-Type"), data), Data: data}, nil
}

// contentType is the declared type unless it says nothing, then the
// sniffed one: storage often serves every object as octet-stream.
func contentType(declared string, data []byte) string {
	if mediaType, _, err := mime.ParseMediaType(declared); err == nil && mediaType != "application/octet-stream" {
		return declared
	}
	return http.DetectContentType(data)
}

// hideURL keeps a signed download URL out of err's text, which the HTTP
// client fills with the URL (or the URL it was redirected to), keeping the
// chain for errors.Is. The URL gives way to shown, its scheme and host,
// not to redact.Placeholder: those tell where the download failed and sign
// nothing.
func hideURL(err error, rawURL, shown string) error {
	if urlErr, ok := err.(*url.Error); ok {
		err = &url.Error{Op: urlErr.Op, URL: shown, Err: urlErr.Err}
	}
	if text := err.Error(); strings.Contains(text, rawURL) {
		return redact.Wrap(err, strings.ReplaceAll(text, rawURL, shown))
	}
	return err
}
