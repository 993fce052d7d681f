package dingtalk

import (
	"bufio"
	"context"
	"errors"
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

// MessageFile is a message file being downloaded: the storage answered,
// its body is read as it is consumed.
type MessageFile struct {
	// ContentType is as File's.
	ContentType string
	// Size is the Content-Length the storage announced, or -1.
	Size int64
	// Body reads at most the limit the download was opened with: past it
	// a read fails with chat.ErrFileTooLarge (wrapped). The caller closes
	// it.
	Body io.ReadCloser
}

// DownloadMessageFile downloads a file a user sent the robot whole, into
// memory: OpenMessageFile, read to its end.
func (o *OpenAPI) DownloadMessageFile(ctx context.Context, robotCode, downloadCode string, maxBytes int64) (File, error) {
	f, err := o.OpenMessageFile(ctx, robotCode, downloadCode, maxBytes)
	if err != nil {
		return File{}, err
	}
	defer f.Body.Close()
	data, err := io.ReadAll(f.Body)
	if err != nil {
		return File{}, err
	}
	return File{ContentType: f.ContentType, Data: data}, nil
}

// OpenMessageFile starts downloading a file a user sent the robot: it
// resolves downloadCode through POST /v1.0/robot/messageFiles/download and
// GETs the URL DingTalk answers, without the access token (the URL is on
// another host and carries its own signature), and returns once the
// storage has answered, its body unread beyond what tells its type. It
// reads at most maxBytes: a larger file is chat.ErrFileTooLarge (wrapped),
// found from Content-Length before any of the body is read, or by reading
// one byte past the limit, never by reading it all.
//
// A refusal by the OpenAPI is an *OpenAPIError, a refusal by the download
// host a *FileDownloadError; both are retried, resolving the code again,
// when Retryable. Errors never show the download URL's path or query.
func (o *OpenAPI) OpenMessageFile(ctx context.Context, robotCode, downloadCode string, maxBytes int64) (MessageFile, error) {
	switch {
	case robotCode == "":
		return MessageFile{}, fmt.Errorf("dingtalk openapi: %w: no robot code", ErrInvalidRequest)
	case downloadCode == "":
		return MessageFile{}, fmt.Errorf("dingtalk openapi: %w: no download code", ErrInvalidRequest)
	case maxBytes <= 0:
		return MessageFile{}, fmt.Errorf("dingtalk openapi: %w: a file limit of %d bytes", ErrInvalidRequest, maxBytes)
	}
	body := map[string]string{"robotCode": robotCode, "downloadCode": downloadCode}
	var file MessageFile
	err := o.retry.Do(ctx, func(ctx context.Context) error {
		var answer struct {
			DownloadURL string `json:"downloadUrl"`
		}
		if err := o.call(ctx, MessageFilesDownloadPath, body, &answer); err != nil {
			return err
		}
		var err error
		file, err = o.openFile(ctx, answer.DownloadURL, maxBytes)
		return err
	}, o.logRetry(ctx, MessageFilesDownloadPath))
	return file, err
}

// sniffBytes is what http.DetectContentType looks at.
const sniffBytes = 512

// openFile GETs a download URL and returns its body, limited to maxBytes.
func (o *OpenAPI) openFile(ctx context.Context, rawURL string, maxBytes int64) (MessageFile, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return MessageFile{}, fmt.Errorf("dingtalk openapi %s: %w: no http(s) downloadUrl", MessageFilesDownloadPath, ErrUnexpectedOpenAPIResponse)
	}
	shown := u.Scheme + "://" + u.Host // what errors may show of the URL
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return MessageFile{}, fmt.Errorf("dingtalk: download message file from %s: %w", shown, hideURL(err, rawURL, shown))
	}
	// The OpenAPI client does not follow redirects so that the token never
	// leaves DingTalk; this request carries none, and a storage host may
	// redirect.
	client := *o.httpClient
	client.CheckRedirect = nil
	resp, err := client.Do(req)
	if err != nil {
		return MessageFile{}, fmt.Errorf("dingtalk: download message file: %w", hideURL(err, rawURL, shown))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		resp.Body.Close()
		return MessageFile{}, &FileDownloadError{StatusCode: resp.StatusCode}
	}
	if resp.ContentLength > maxBytes {
		resp.Body.Close()
		return MessageFile{}, fmt.Errorf("dingtalk: download message file: %w: %d bytes, at most %d", chat.ErrFileTooLarge, resp.ContentLength, maxBytes)
	}
	b := &limitedBody{r: bufio.NewReaderSize(resp.Body, sniffBytes), c: resp.Body, left: maxBytes, rawURL: rawURL, shown: shown}
	head, err := b.r.Peek(sniffBytes)
	if err != nil && !errors.Is(err, io.EOF) {
		resp.Body.Close()
		return MessageFile{}, fmt.Errorf("dingtalk: download message file from %s: %w", shown, hideURL(err, rawURL, shown))
	}
	return MessageFile{ContentType: contentType(resp.Header.Get("Content-Type"), head), Size: resp.ContentLength, Body: b}, nil
}

// limitedBody is a download's body that reads at most left bytes: one
// byte more is chat.ErrFileTooLarge.
type limitedBody struct {
	r             *bufio.Reader
	c             io.Closer
	left          int64
	rawURL, shown string
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, fmt.Errorf("dingtalk: download message file: %w: more than the limit", chat.ErrFileTooLarge)
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		n += int(b.left) // the byte past the limit is not the file's
		return n, fmt.Errorf("dingtalk: download message file: %w: more than the limit", chat.ErrFileTooLarge)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("dingtalk: download message file from %s: %w", b.shown, hideURL(err, b.rawURL, b.shown))
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.c.Close() }

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
