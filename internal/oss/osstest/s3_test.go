package osstest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

// s3Request is an S3 request signed with AWS Signature Version 4, as
// s3fs-fuse signs them (written apart from the server's verifier).
type s3Request struct {
	method, key    string
	query          string // raw, e.g. "delimiter=/&prefix="
	body           []byte
	header         map[string]string
	secret, token  string
	region         string
	payloadSHA256  string // "" means the body's
	skipAuthHeader bool
}

func hmacOf(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

func (q s3Request) do(t *testing.T, s *Server) *http.Response {
	t.Helper()
	if q.secret == "" {
		q.secret = testSecret
	}
	if q.region == "" {
		q.region = testRegion
	}
	u := s.URL() + "/" + testBucket + "/" + q.key
	if q.query != "" {
		u += "?" + q.query
	}
	req, err := http.NewRequest(q.method, u, bytes.NewReader(q.body))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	sum := sha256.Sum256(q.body)
	payload := hex.EncodeToString(sum[:])
	if q.payloadSHA256 != "" {
		payload = q.payloadSHA256
	}
	req.Header.Set("x-amz-date", now.Format("20060102T150405Z"))
	req.Header.Set("x-amz-content-sha256", payload)
	if q.token != "" {
		req.Header.Set("x-amz-security-token", q.token)
	}
	for k, v := range q.header {
		req.Header.Set(k, v)
	}
	signed := []string{"host"}
	for k := range req.Header {
		if l := strings.ToLower(k); strings.HasPrefix(l, "x-amz-") || l == "content-type" {
			signed = append(signed, l)
		}
	}
	sort.Strings(signed)
	var canon strings.Builder
	canon.WriteString(q.method + "\n" + req.URL.EscapedPath() + "\n")
	vals, _ := url.ParseQuery(q.query)
	var qs []string
	for k, vs := range vals {
		for _, v := range vs {
			qs = append(qs, url.QueryEscape(k)+"="+strings.ReplaceAll(url.QueryEscape(v), "+", "%20"))
		}
	}
	sort.Strings(qs)
	canon.WriteString(strings.Join(qs, "&") + "\n")
	for _, h := range signed {
		v := req.Host
		if h != "host" {
			v = req.Header.Get(h)
		}
		canon.WriteString(h + ":" + v + "\n")
	}
	canon.WriteString("\n" + strings.Join(signed, ";") + "\n" + payload)
	date := now.Format("20060102")
	scope := date + "/" + q.region + "/s3/aws4_request"
	cs := sha256.Sum256([]byte(canon.String()))
	sts := "AWS4-HMAC-SHA256\n" + now.Format("20060102T150405Z") + "\n" + scope + "\n" + hex.EncodeToString(cs[:])
	k := hmacOf([]byte("AWS4"+q.secret), date)
	k = hmacOf(k, q.region)
	k = hmacOf(k, "s3")
	k = hmacOf(k, "aws4_request")
	if !q.skipAuthHeader {
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/"+scope+", SignedHeaders="+strings.Join(signed, ";")+
			", Signature="+hex.EncodeToString(hmacOf(k, sts)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func s3Server(t *testing.T) *Server {
	return newServer(t, func(c *Config) { c.S3 = true })
}

func wantStatus(t *testing.T, resp *http.Response, status int, code string) string {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || code != "" && !strings.Contains(string(b), "<Code>"+code+"</Code>") {
		t.Errorf("%s %s: %d %s, want %d %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, b, status, code)
	}
	return string(b)
}

func TestS3RequestsNeedS3Mode(t *testing.T) {
	s := newServer(t)
	wantStatus(t, s3Request{method: "GET", token: testToken}.do(t, s), 400, "InvalidArgument")
}

func TestS3Authentication(t *testing.T) {
	s := s3Server(t)
	wantStatus(t, s3Request{method: "GET", token: testToken}.do(t, s), 200, "")
	wantStatus(t, s3Request{method: "GET", token: testToken, secret: "other"}.do(t, s), 403, "SignatureDoesNotMatch")
	wantStatus(t, s3Request{method: "GET"}.do(t, s), 403, "InvalidSecurityToken")
	wantStatus(t, s3Request{method: "GET", token: testToken, region: "us-east-1"}.do(t, s), 400, "AuthorizationHeaderMalformed")
	wantStatus(t, s3Request{method: "GET", token: testToken, skipAuthHeader: true}.do(t, s), 403, "AccessDenied")
	wantStatus(t, s3Request{method: "PUT", key: "a.txt", token: testToken, body: []byte("abc"), payloadSHA256: emptySHA256}.do(t, s), 400, "IncompleteBody")
	if _, err := os.Stat(filepath.Join(s.dir, "a.txt")); err == nil {
		t.Error("a body that is not the one signed was stored")
	}
	wantStatus(t, s3Request{method: "PUT", key: "a.txt", token: testToken, body: []byte("abc"), payloadSHA256: unsignedPayload}.do(t, s), 200, "")
	wantStatus(t, s3Request{method: "PUT", key: "b.txt", token: testToken, body: []byte("abc"), header: map[string]string{"x-amz-acl": "public-read"}}.do(t, s), 501, "NotImplemented")
	wantStatus(t, s3Request{method: "POST", key: "b.txt", query: "uploads=", token: testToken}.do(t, s), 501, "NotImplemented")
}

func TestS3DirectoriesFilesAndMetadata(t *testing.T) {
	s := s3Server(t)
	r := func(method, key, query string, body []byte, h map[string]string) *http.Response {
		return s3Request{method: method, key: key, query: query, body: body, header: h, token: testToken}.do(t, s)
	}
	// mkdir: a "dir/" object is a directory.
	wantStatus(t, r("PUT", "d/", "", nil, map[string]string{"Content-Type": "application/x-directory", "x-amz-meta-mode": "16877"}), 200, "")
	if fi, err := os.Stat(filepath.Join(s.dir, "d")); err != nil || !fi.IsDir() {
		t.Fatalf("mkdir: %v, %v", fi, err)
	}
	resp := r("HEAD", "d/", "", nil, nil)
	wantStatus(t, resp, 200, "")
	if resp.Header.Get("x-amz-meta-mode") != "16877" || resp.Header.Get("Content-Type") != "application/x-directory" {
		t.Errorf("HEAD d/: %v", resp.Header)
	}
	wantStatus(t, r("HEAD", "d", "", nil, nil), 404, "")

	// A file with metadata, which a copy onto itself replaces.
	wantStatus(t, r("PUT", "d/f.txt", "", []byte("hello"), map[string]string{"x-amz-meta-mode": "33188", "x-amz-meta-mtime": "1"}), 200, "")
	resp = r("HEAD", "d/f.txt", "", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("x-amz-meta-mode") != "33188" || resp.ContentLength != 5 {
		t.Errorf("HEAD d/f.txt: %d %v", resp.StatusCode, resp.Header)
	}
	wantStatus(t, r("PUT", "d/f.txt", "", nil, map[string]string{"x-amz-copy-source": "/" + testBucket + "/d/f.txt"}), 400, "InvalidRequest")
	wantStatus(t, r("PUT", "d/f.txt", "", nil, map[string]string{"x-amz-copy-source": "/" + testBucket + "/d/f.txt",
		"x-amz-metadata-directive": "REPLACE", "x-amz-meta-mode": "33152"}), 200, "")
	if resp := r("HEAD", "d/f.txt", "", nil, nil); resp.Header.Get("x-amz-meta-mode") != "33152" {
		t.Errorf("after the copy: %v", resp.Header)
	}
	// A copy elsewhere copies the content and the metadata.
	wantStatus(t, r("PUT", "g.txt", "", nil, map[string]string{"x-amz-copy-source": "/" + testBucket + "/d%2Ff.txt"}), 200, "")
	if b, _ := os.ReadFile(filepath.Join(s.dir, "g.txt")); string(b) != "hello" {
		t.Errorf("copied file holds %q", b)
	}
	if resp := r("GET", "g.txt", "", nil, map[string]string{"Range": "bytes=1-2"}); resp.StatusCode != 206 || resp.Header.Get("x-amz-meta-mode") != "33152" {
		t.Errorf("GET g.txt: %d %v", resp.StatusCode, resp.Header)
	} else if b, _ := io.ReadAll(resp.Body); string(b) != "el" {
		t.Errorf("range read %q", b)
	}

	// Rewritten through the OSS API: the metadata is forgotten.
	if _, err := putObject(client(s), "d/f.txt", "rewritten", false); err != nil {
		t.Fatal(err)
	}
	if resp := r("HEAD", "d/f.txt", "", nil, nil); resp.Header.Get("x-amz-meta-mode") != "" {
		t.Errorf("metadata outlived a rewrite: %v", resp.Header)
	}
	// OSS keeps forbidding overwrites, and still has no folder objects.
	if _, err := putObject(client(s), "d/f.txt", "again", true); err == nil {
		t.Error("forbid-overwrite let an S3-mode server overwrite")
	}
	res, err := client(s).ListObjectsV2(context.Background(), &oss.ListObjectsV2Request{Bucket: oss.Ptr(testBucket)})
	if err != nil {
		t.Fatal(err)
	}
	if keys, _ := names(res); strings.Join(keys, ",") != "d/f.txt,g.txt" {
		t.Errorf("OSS lists %q", keys)
	}

	// S3 listings show directories as "dir/" objects.
	body := wantStatus(t, r("GET", "", "delimiter=/&max-keys=1000&prefix=", nil, nil), 200, "")
	if !strings.Contains(body, "<Prefix>d/</Prefix>") || !strings.Contains(body, "<Key>g.txt</Key>") || !strings.Contains(body, s3Namespace) {
		t.Errorf("root listing: %s", body)
	}
	body = wantStatus(t, r("GET", "", "delimiter=/&max-keys=2&prefix=d/", nil, nil), 200, "")
	if !strings.Contains(body, "<Key>d/</Key>") || !strings.Contains(body, "<Key>d/f.txt</Key>") {
		t.Errorf("d/ listing: %s", body)
	}

	// rm leaves the folder, which rmdir removes once empty.
	wantStatus(t, r("DELETE", "d/", "", nil, nil), 204, "")
	wantStatus(t, r("DELETE", "d/f.txt", "", nil, nil), 204, "")
	if fi, err := os.Stat(filepath.Join(s.dir, "d")); err != nil || !fi.IsDir() {
		t.Errorf("the folder went with its last file: %v", err)
	}
	wantStatus(t, r("DELETE", "d/", "", nil, nil), 204, "")
	if _, err := os.Stat(filepath.Join(s.dir, "d")); err == nil {
		t.Error("rmdir left the folder")
	}
	wantStatus(t, r("HEAD", "d/", "", nil, nil), 404, "")
	wantStatus(t, r("HEAD", "", "", nil, nil), 200, "")
	if body := wantStatus(t, r("GET", "", "location=", nil, nil), 200, ""); !strings.Contains(body, testRegion) {
		t.Errorf("location: %s", body)
	}
}
