package osstest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/signer"
)

const (
	testAK     = "STS.fake-access-key-id"
	testSecret = "fake-access-key-secret"
	testToken  = "fake-security-token"
	testRegion = "cn-hangzhou"
	testBucket = "robot-bucket"
)

func newServer(t *testing.T, mod ...func(*Config)) *Server {
	t.Helper()
	cfg := Config{Dir: t.TempDir(), Bucket: testBucket, AccessKeyID: testAK, AccessKeySecret: testSecret, SecurityToken: testToken, Region: testRegion}
	for _, m := range mod {
		m(&cfg)
	}
	s := NewServer(cfg)
	t.Cleanup(s.Close)
	return s
}

// newClient is the real SDK's client of s, with the given credentials; it
// makes one attempt per call, so that refusals and counts are exact.
func newClient(s *Server, id, secret, token string, opts ...func(*oss.Config)) *oss.Client {
	cfg := oss.LoadDefaultConfig().
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, token)).
		WithRegion(testRegion).
		WithEndpoint(s.URL()).
		WithUsePathStyle(true).
		WithRetryMaxAttempts(1)
	for _, o := range opts {
		o(cfg)
	}
	return oss.NewClient(cfg)
}

func client(s *Server, opts ...func(*oss.Config)) *oss.Client {
	return newClient(s, testAK, testSecret, testToken, opts...)
}

// withTransport makes the client's requests through rt.
func withTransport(rt http.RoundTripper) func(*oss.Config) {
	return func(c *oss.Config) { c.WithHttpClient(&http.Client{Transport: rt}) }
}

// rewrite changes each request after the SDK signed it.
type rewrite func(*http.Request)

func (f rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	f(req)
	return http.DefaultTransport.RoundTrip(req)
}

func wantServiceError(t *testing.T, err error, status int, code string) *oss.ServiceError {
	t.Helper()
	var se *oss.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want a *oss.ServiceError %d %s", err, status, code)
	}
	if se.StatusCode != status || se.Code != code {
		t.Fatalf("got %d %s (%s), want %d %s", se.StatusCode, se.Code, se.Message, status, code)
	}
	if se.RequestID == "" {
		t.Errorf("%s: no request id", code)
	}
	return se
}

func putObject(c *oss.Client, key, body string, forbidOverwrite bool) (*oss.PutObjectResult, error) {
	req := &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key), Body: strings.NewReader(body)}
	if forbidOverwrite {
		req.ForbidOverwrite = oss.Ptr("true")
	}
	return c.PutObject(context.Background(), req)
}

func mustPut(t *testing.T, c *oss.Client, key, body string) *oss.PutObjectResult {
	t.Helper()
	res, err := putObject(c, key, body, false)
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return res
}

func getObject(c *oss.Client, key string) (string, *oss.GetObjectResult, error) {
	res, err := c.GetObject(context.Background(), &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key)})
	if err != nil {
		return "", nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), res, err
}

func etagOf(body string) string {
	return fmt.Sprintf(`"%X"`, md5.Sum([]byte(body)))
}

func crcOf(body string) string {
	return strconv.FormatUint(crc64.Checksum([]byte(body), crc64.MakeTable(crc64.ECMA)), 10)
}

func writeFile(t *testing.T, dir, key, body string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPutGetHeadDelete(t *testing.T) {
	s := newServer(t)
	c := client(s)
	ctx := context.Background()
	const key, body = "a/b/c.json", `{"hello":"world"}`

	res := mustPut(t, c, key, body)
	if got := oss.ToString(res.ETag); got != etagOf(body) {
		t.Errorf("put ETag %s, want %s", got, etagOf(body))
	}
	if got := oss.ToString(res.HashCRC64); got != crcOf(body) {
		t.Errorf("put CRC64 %s, want %s", got, crcOf(body))
	}
	if res.Headers.Get("x-oss-request-id") == "" {
		t.Error("put: no x-oss-request-id")
	}
	if b, err := os.ReadFile(filepath.Join(s.dir, "a", "b", "c.json")); err != nil || string(b) != body {
		t.Fatalf("file of the object: %q, %v", b, err)
	}

	got, gres, err := getObject(c, key)
	if err != nil || got != body {
		t.Fatalf("get: %q, %v", got, err)
	}
	if gres.ContentLength != int64(len(body)) || oss.ToString(gres.ETag) != etagOf(body) ||
		oss.ToString(gres.HashCRC64) != crcOf(body) || gres.LastModified == nil {
		t.Errorf("get headers: length %d, ETag %s, CRC64 %s, Last-Modified %v",
			gres.ContentLength, oss.ToString(gres.ETag), oss.ToString(gres.HashCRC64), gres.LastModified)
	}
	if d := time.Since(*gres.LastModified); d < -time.Minute || d > time.Minute {
		t.Errorf("Last-Modified %v is not about now", gres.LastModified)
	}
	if ct := oss.ToString(gres.ContentType); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}

	hres, err := c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key)})
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	if hres.ContentLength != int64(len(body)) || oss.ToString(hres.ETag) != etagOf(body) || oss.ToString(hres.HashCRC64) != crcOf(body) || hres.LastModified == nil {
		t.Errorf("head headers: length %d, ETag %s, CRC64 %s", hres.ContentLength, oss.ToString(hres.ETag), oss.ToString(hres.HashCRC64))
	}
	meta, err := c.GetObjectMeta(ctx, &oss.GetObjectMetaRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key)})
	if err != nil || oss.ToString(meta.ETag) != etagOf(body) || meta.ContentLength != int64(len(body)) {
		t.Errorf("object meta: %+v, %v", meta, err)
	}

	dres, err := c.DeleteObject(ctx, &oss.DeleteObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key)})
	if err != nil || dres.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %+v, %v", dres, err)
	}
	if entries, err := os.ReadDir(s.dir); err != nil || len(entries) != 0 {
		t.Errorf("Dir after the delete of its only object: %v, %v (want empty: no folders left)", entries, err)
	}
	if _, err := os.Stat(s.dir); err != nil {
		t.Errorf("Dir itself is gone: %v", err)
	}

	_, _, err = getObject(c, key)
	wantServiceError(t, err, http.StatusNotFound, "NoSuchKey")
	_, err = c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key)})
	wantServiceError(t, err, http.StatusNotFound, "NoSuchKey")
	if dres, err = c.DeleteObject(ctx, &oss.DeleteObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key)}); err != nil || dres.StatusCode != http.StatusNoContent {
		t.Errorf("delete of a missing key: %+v, %v", dres, err)
	}
}

func TestErrorBody(t *testing.T) {
	s := newServer(t)
	resp, err := http.Get(s.URL() + "/" + testBucket + "/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/xml" || resp.Header.Get("x-oss-request-id") == "" {
		t.Errorf("anonymous request: %d, Content-Type %q, request id %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("x-oss-request-id"))
	}
	if !strings.HasPrefix(string(body), `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Errorf("body does not start with the XML declaration: %s", body)
	}
	var e struct {
		XMLName                          xml.Name `xml:"Error"`
		Code, Message, RequestId, HostId string
	}
	if err := xml.Unmarshal(body, &e); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if e.Code != "AccessDenied" || e.Message == "" || e.RequestId != resp.Header.Get("x-oss-request-id") || e.HostId == "" {
		t.Errorf("error %+v", e)
	}
}

func TestForbidOverwrite(t *testing.T) {
	s := newServer(t)
	c := client(s)
	if _, err := putObject(c, "once/receipt.json", "first", true); err != nil {
		t.Fatalf("first create: %v", err)
	}
	_, err := putObject(c, "once/receipt.json", "second", true)
	wantServiceError(t, err, http.StatusConflict, "FileAlreadyExists")
	if got, _, _ := getObject(c, "once/receipt.json"); got != "first" {
		t.Errorf("after the refused create: %q", got)
	}
	mustPut(t, c, "once/receipt.json", "third")
	if got, _, _ := getObject(c, "once/receipt.json"); got != "third" {
		t.Errorf("after the overwrite: %q", got)
	}
	// A file written into Dir directly exists as well.
	writeFile(t, s.dir, "once/direct.json", "direct")
	_, err = putObject(c, "once/direct.json", "api", true)
	wantServiceError(t, err, http.StatusConflict, "FileAlreadyExists")
	// An invalid value is refused.
	_, err = c.PutObject(context.Background(), &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("once/x"),
		Body: strings.NewReader("x"), ForbidOverwrite: oss.Ptr("maybe")})
	wantServiceError(t, err, http.StatusBadRequest, "InvalidArgument")
}

func TestForbidOverwriteRace(t *testing.T) {
	s := newServer(t)
	c := client(s)
	const n = 8
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = putObject(c, "race/claim.json", fmt.Sprintf("writer %d", i), true)
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("writers %d and %d both created the object", winner, i)
			}
			winner = i
			continue
		}
		wantServiceError(t, err, http.StatusConflict, "FileAlreadyExists")
	}
	if winner < 0 {
		t.Fatal("no writer created the object")
	}
	if got, _, _ := getObject(c, "race/claim.json"); got != fmt.Sprintf("writer %d", winner) {
		t.Errorf("object %q, want the winner's, writer %d", got, winner)
	}
	if entries, _ := os.ReadDir(s.dir); len(entries) != 1 || entries[0].Name() != "race" {
		t.Errorf("Dir holds %v, want only race/ (no temporary files left)", entries)
	}
}

// TestAtomicPut checks that readers, through the API or the files, never
// see a partial object while it is overwritten.
func TestAtomicPut(t *testing.T) {
	s := newServer(t)
	c := client(s)
	bodies := []string{strings.Repeat("a", 256<<10), strings.Repeat("b", 128<<10)}
	mustPut(t, c, "atomic/blob", bodies[0])
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 30; i++ {
			if _, err := putObject(c, "atomic/blob", bodies[i%2], false); err != nil {
				t.Errorf("put: %v", err)
			}
		}
		close(done)
	}()
	valid := func(got string) bool { return got == bodies[0] || got == bodies[1] }
	for reading := true; reading; {
		select {
		case <-done:
			reading = false
		default:
		}
		if b, err := os.ReadFile(filepath.Join(s.dir, "atomic", "blob")); err != nil || !valid(string(b)) {
			t.Fatalf("file read: %d bytes, %v", len(b), err)
		}
		if got, _, err := getObject(c, "atomic/blob"); err != nil || !valid(got) {
			t.Fatalf("get: %d bytes, %v", len(got), err)
		}
	}
	wg.Wait()
}

func TestMountView(t *testing.T) {
	s := newServer(t)
	c := client(s)
	ctx := context.Background()

	writeFile(t, s.dir, "m/direct.json", "from the mount")
	got, res, err := getObject(c, "m/direct.json")
	if err != nil || got != "from the mount" || oss.ToString(res.ETag) != etagOf(got) || oss.ToString(res.HashCRC64) != crcOf(got) {
		t.Fatalf("get of a file written directly: %q, %v", got, err)
	}
	writeFile(t, s.dir, "m/direct.json", "rewritten by the mount")
	if got, res, _ := getObject(c, "m/direct.json"); got != "rewritten by the mount" || oss.ToString(res.ETag) != etagOf(got) {
		t.Errorf("get after the file changed: %q, ETag %s", got, oss.ToString(res.ETag))
	}

	mustPut(t, c, "m/api.json", "from the API")
	p := filepath.Join(s.dir, "m", "api.json")
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o044 != 0o044 {
		t.Fatalf("file of a put object: %v, %v", fi, err)
	}
	if b, _ := os.ReadFile(p); string(b) != "from the API" {
		t.Errorf("file of a put object holds %q", b)
	}

	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	_, err = c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("m/api.json")})
	wantServiceError(t, err, http.StatusNotFound, "NoSuchKey")

	// A directory is not an object.
	_, _, err = getObject(c, "m")
	wantServiceError(t, err, http.StatusNotFound, "NoSuchKey")
}

func listV2(t *testing.T, c *oss.Client, req *oss.ListObjectsV2Request) *oss.ListObjectsV2Result {
	t.Helper()
	req.Bucket = oss.Ptr(testBucket)
	res, err := c.ListObjectsV2(context.Background(), req)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	return res
}

func names(res *oss.ListObjectsV2Result) (keys, prefixes []string) {
	for _, o := range res.Contents {
		keys = append(keys, oss.ToString(o.Key))
	}
	for _, p := range res.CommonPrefixes {
		prefixes = append(prefixes, oss.ToString(p.Prefix))
	}
	return keys, prefixes
}

func TestListObjectsV2(t *testing.T) {
	s := newServer(t)
	c := client(s)
	for _, k := range []string{"a/1.json", "a/2.json", "a/sub/3.json", "b/4.json", "top.txt", "a.c"} {
		mustPut(t, c, k, "body of "+k)
	}
	writeFile(t, s.dir, "d/5.json", "body of d/5.json")
	if err := os.MkdirAll(filepath.Join(s.dir, "empty", "inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, s.dir, StagingDir+"/stray", "an upload in progress")
	if err := os.Symlink(filepath.Join(s.dir, "top.txt"), filepath.Join(s.dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	all := []string{"a.c", "a/1.json", "a/2.json", "a/sub/3.json", "b/4.json", "d/5.json", "top.txt"}

	res := listV2(t, c, &oss.ListObjectsV2Request{})
	keys, prefixes := names(res)
	if !reflect.DeepEqual(keys, all) || prefixes != nil || res.IsTruncated || res.KeyCount != len(all) || res.MaxKeys != 100 {
		t.Errorf("list all: %q %q truncated %v count %d max %d", keys, prefixes, res.IsTruncated, res.KeyCount, res.MaxKeys)
	}
	for _, o := range res.Contents {
		body := "body of " + oss.ToString(o.Key)
		if oss.ToString(o.ETag) != etagOf(body) || o.Size != int64(len(body)) || o.LastModified == nil ||
			oss.ToString(o.StorageClass) != "Standard" || oss.ToString(o.Type) != "Normal" {
			t.Errorf("listed %s: ETag %s size %d", oss.ToString(o.Key), oss.ToString(o.ETag), o.Size)
		}
	}

	res = listV2(t, c, &oss.ListObjectsV2Request{Delimiter: oss.Ptr("/"), Prefix: oss.Ptr("")})
	keys, prefixes = names(res)
	if !reflect.DeepEqual(keys, []string{"a.c", "top.txt"}) || !reflect.DeepEqual(prefixes, []string{"a/", "b/", "d/"}) || res.KeyCount != 5 {
		t.Errorf("list with a delimiter: %q %q count %d", keys, prefixes, res.KeyCount)
	}

	res = listV2(t, c, &oss.ListObjectsV2Request{Delimiter: oss.Ptr("/"), Prefix: oss.Ptr("a/")})
	keys, prefixes = names(res)
	if !reflect.DeepEqual(keys, []string{"a/1.json", "a/2.json"}) || !reflect.DeepEqual(prefixes, []string{"a/sub/"}) ||
		oss.ToString(res.Prefix) != "a/" || oss.ToString(res.Delimiter) != "/" {
		t.Errorf("list of a/: %q %q", keys, prefixes)
	}
	res = listV2(t, c, &oss.ListObjectsV2Request{Prefix: oss.Ptr("a/s")})
	if keys, _ = names(res); !reflect.DeepEqual(keys, []string{"a/sub/3.json"}) {
		t.Errorf("list of a/s: %q", keys)
	}
	res = listV2(t, c, &oss.ListObjectsV2Request{Prefix: oss.Ptr("empty/")})
	if keys, prefixes = names(res); keys != nil || prefixes != nil {
		t.Errorf("list of a folder without files: %q %q", keys, prefixes)
	}

	res = listV2(t, c, &oss.ListObjectsV2Request{StartAfter: oss.Ptr("a/2.json")})
	if keys, _ = names(res); !reflect.DeepEqual(keys, all[3:]) {
		t.Errorf("list after a/2.json: %q", keys)
	}

	// Pages of two, without and with a delimiter.
	for _, tc := range []struct {
		delimiter string
		pages     [][]string
	}{
		{"", [][]string{{"a.c", "a/1.json"}, {"a/2.json", "a/sub/3.json"}, {"b/4.json", "d/5.json"}, {"top.txt"}}},
		{"/", [][]string{{"a.c", "a/"}, {"b/", "d/"}, {"top.txt"}}},
	} {
		req := &oss.ListObjectsV2Request{MaxKeys: 2}
		if tc.delimiter != "" {
			req.Delimiter = oss.Ptr(tc.delimiter)
		}
		var pages [][]string
		for i := 0; ; i++ {
			if i > 10 {
				t.Fatal("endless pages")
			}
			res := listV2(t, c, req)
			keys, prefixes := names(res)
			items := append(keys, prefixes...)
			sortStrings(items)
			pages = append(pages, items)
			if res.KeyCount != len(items) || res.MaxKeys != 2 {
				t.Errorf("page %d: KeyCount %d MaxKeys %d for %q", i, res.KeyCount, res.MaxKeys, items)
			}
			if !res.IsTruncated {
				if res.NextContinuationToken != nil {
					t.Errorf("last page with a NextContinuationToken")
				}
				break
			}
			if res.NextContinuationToken == nil {
				t.Fatal("truncated page without a NextContinuationToken")
			}
			req.ContinuationToken = res.NextContinuationToken
		}
		if !reflect.DeepEqual(pages, tc.pages) {
			t.Errorf("pages with delimiter %q: %q, want %q", tc.delimiter, pages, tc.pages)
		}
	}

	// Names that need encoding come back whole.
	odd := "dir/hello world+ü&<>%2F\"'.txt"
	mustPut(t, c, odd, "odd")
	res = listV2(t, c, &oss.ListObjectsV2Request{Prefix: oss.Ptr("dir/"), Delimiter: oss.Ptr("/")})
	if keys, _ = names(res); !reflect.DeepEqual(keys, []string{odd}) {
		t.Errorf("list of an odd name: %q", keys)
	}

	_, err := c.ListObjectsV2(context.Background(), &oss.ListObjectsV2Request{Bucket: oss.Ptr(testBucket), MaxKeys: 1001})
	wantServiceError(t, err, http.StatusBadRequest, "InvalidArgument")
	_, err = c.ListObjectsV2(context.Background(), &oss.ListObjectsV2Request{Bucket: oss.Ptr(testBucket), ContinuationToken: oss.Ptr("!!")})
	wantServiceError(t, err, http.StatusBadRequest, "InvalidArgument")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestListMaxKeysLimit(t *testing.T) {
	s := newServer(t)
	c := client(s)
	for i := range 1005 {
		writeFile(t, s.dir, fmt.Sprintf("many/%04d", i), "x")
	}
	res := listV2(t, c, &oss.ListObjectsV2Request{Prefix: oss.Ptr("many/")})
	if len(res.Contents) != 100 || !res.IsTruncated {
		t.Errorf("default page: %d keys, truncated %v", len(res.Contents), res.IsTruncated)
	}
	res = listV2(t, c, &oss.ListObjectsV2Request{Prefix: oss.Ptr("many/"), MaxKeys: 1000})
	if len(res.Contents) != 1000 || !res.IsTruncated {
		t.Errorf("page of 1000: %d keys, truncated %v", len(res.Contents), res.IsTruncated)
	}
	res = listV2(t, c, &oss.ListObjectsV2Request{Prefix: oss.Ptr("many/"), MaxKeys: 1000, ContinuationToken: res.NextContinuationToken})
	if len(res.Contents) != 5 || res.IsTruncated || oss.ToString(res.Contents[0].Key) != "many/1000" {
		t.Errorf("last page: %d keys, truncated %v", len(res.Contents), res.IsTruncated)
	}
}

func TestListObjectsV1(t *testing.T) {
	s := newServer(t)
	c := client(s)
	for _, k := range []string{"a/1", "a/2", "b", "c/3"} {
		mustPut(t, c, k, k)
	}
	var got []string
	req := &oss.ListObjectsRequest{Bucket: oss.Ptr(testBucket), Delimiter: oss.Ptr("/"), MaxKeys: 1}
	for i := 0; i < 10; i++ {
		res, err := c.ListObjects(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Contents {
			got = append(got, oss.ToString(o.Key))
		}
		for _, p := range res.CommonPrefixes {
			got = append(got, oss.ToString(p.Prefix))
		}
		if !res.IsTruncated {
			break
		}
		req.Marker = res.NextMarker
	}
	if want := []string{"a/", "b", "c/"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ListObjects pages: %q, want %q", got, want)
	}
}

func TestDeleteMultipleObjects(t *testing.T) {
	s := newServer(t)
	c := client(s)
	ctx := context.Background()
	for _, k := range []string{"a/1", "a/2", "b/3"} {
		mustPut(t, c, k, k)
	}
	res, err := c.DeleteMultipleObjects(ctx, &oss.DeleteMultipleObjectsRequest{Bucket: oss.Ptr(testBucket), Delete: &oss.Delete{
		Objects: []oss.ObjectIdentifier{{Key: oss.Ptr("a/1")}, {Key: oss.Ptr("a/2")}, {Key: oss.Ptr("missing/x & y")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, d := range res.DeletedObjects {
		deleted = append(deleted, oss.ToString(d.Key))
	}
	if want := []string{"a/1", "a/2", "missing/x & y"}; !reflect.DeepEqual(deleted, want) {
		t.Errorf("deleted %q, want %q", deleted, want)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("folder a/ left behind: %v", err)
	}
	if got, _, err := getObject(c, "b/3"); err != nil || got != "b/3" {
		t.Errorf("b/3: %q, %v", got, err)
	}

	res, err = c.DeleteMultipleObjects(ctx, &oss.DeleteMultipleObjectsRequest{Bucket: oss.Ptr(testBucket), Delete: &oss.Delete{
		Objects: []oss.ObjectIdentifier{{Key: oss.Ptr("b/3")}}, Quiet: true,
	}})
	if err != nil || len(res.DeletedObjects) != 0 {
		t.Errorf("quiet delete: %+v, %v", res, err)
	}
	if entries, _ := os.ReadDir(s.dir); len(entries) != 0 {
		t.Errorf("Dir holds %v, want nothing", entries)
	}

	// A body changed after signing (its MD5 no longer matches) is refused.
	tamper := client(s, withTransport(rewrite(func(r *http.Request) {
		body := []byte("<Delete><Quiet>false</Quiet><Object><Key>b/4</Key></Object></Delete>")
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	})))
	mustPut(t, c, "b/4", "b/4")
	_, err = tamper.DeleteMultipleObjects(ctx, &oss.DeleteMultipleObjectsRequest{Bucket: oss.Ptr(testBucket), Delete: &oss.Delete{
		Objects: []oss.ObjectIdentifier{{Key: oss.Ptr("b/5")}},
	}})
	wantServiceError(t, err, http.StatusBadRequest, "InvalidDigest")
	if _, _, err := getObject(c, "b/4"); err != nil {
		t.Errorf("b/4 after the refused delete: %v", err)
	}

	_, err = c.DeleteMultipleObjects(ctx, &oss.DeleteMultipleObjectsRequest{Bucket: oss.Ptr(testBucket), Delete: &oss.Delete{
		Objects: []oss.ObjectIdentifier{{Key: oss.Ptr("b/4")}, {Key: oss.Ptr("../x")}},
	}})
	wantServiceError(t, err, http.StatusBadRequest, "InvalidObjectName")
	if _, _, err := getObject(c, "b/4"); err != nil {
		t.Errorf("b/4 after the refused delete: %v", err)
	}
}

func TestAuthRefusals(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	mustPut(t, client(s), "a.txt", "a")

	for _, tc := range []struct {
		name              string
		id, secret, token string
		region            string
		status            int
		code              string
	}{
		{"wrong access key", "STS.other", testSecret, testToken, testRegion, 403, "InvalidAccessKeyId"},
		{"wrong secret", testAK, "other-secret", testToken, testRegion, 403, "SignatureDoesNotMatch"},
		{"wrong token", testAK, testSecret, "other-token", testRegion, 403, "InvalidSecurityToken"},
		{"no token", testAK, testSecret, "", testRegion, 403, "InvalidSecurityToken"},
		{"wrong region", testAK, testSecret, testToken, "cn-beijing", 403, "SignatureDoesNotMatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(s, tc.id, tc.secret, tc.token, func(c *oss.Config) { c.WithRegion(tc.region) })
			_, err := putObject(c, "refused.txt", "x", false)
			wantServiceError(t, err, tc.status, tc.code)
			_, _, err = getObject(c, "a.txt")
			wantServiceError(t, err, tc.status, tc.code)
			_, err = c.ListObjectsV2(ctx, &oss.ListObjectsV2Request{Bucket: oss.Ptr(testBucket)})
			wantServiceError(t, err, tc.status, tc.code)
			if _, err := os.Stat(filepath.Join(s.dir, "refused.txt")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused put wrote its object: %v", err)
			}
		})
	}

	for _, tc := range []struct {
		name string
		fn   func(*http.Request)
	}{
		{"signature", func(r *http.Request) {
			a := r.Header.Get("Authorization")
			last := a[len(a)-1]
			if last == '0' {
				last = '1'
			} else {
				last = '0'
			}
			r.Header.Set("Authorization", a[:len(a)-1]+string(last))
		}},
		{"key", func(r *http.Request) { r.URL.Path = strings.Replace(r.URL.Path, "tampered.txt", "tampored.txt", 1) }},
		{"signed header", func(r *http.Request) { r.Header.Set("x-oss-forbid-overwrite", "false") }},
		{"query", func(r *http.Request) { r.URL.RawQuery = "acl" }},
	} {
		t.Run("tampered "+tc.name, func(t *testing.T) {
			c := client(s, withTransport(rewrite(tc.fn)))
			_, err := putObject(c, "tampered.txt", "x", true)
			wantServiceError(t, err, 403, "SignatureDoesNotMatch")
		})
	}
	if entries, _ := os.ReadDir(s.dir); len(entries) != 1 {
		t.Errorf("refused requests changed Dir: %v", entries)
	}

	t.Run("other bucket", func(t *testing.T) {
		_, err := client(s).PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr("other-bucket"), Key: oss.Ptr("x"), Body: strings.NewReader("x")})
		wantServiceError(t, err, 404, "NoSuchBucket")
	})

	t.Run("without a token configured", func(t *testing.T) {
		s := newServer(t, func(c *Config) { c.SecurityToken = "" })
		if _, err := putObject(newClient(s, testAK, testSecret, ""), "k", "v", false); err != nil {
			t.Errorf("long-term key: %v", err)
		}
		_, err := putObject(newClient(s, testAK, testSecret, "a-token"), "k", "v", false)
		wantServiceError(t, err, 403, "InvalidSecurityToken")
	})
}

// signedRequest signs req as the SDK does, at time at.
func signedRequest(t *testing.T, req *http.Request, key string, at time.Time) *http.Request {
	t.Helper()
	req.Header.Set("Content-Type", "application/octet-stream")
	sc := &signer.SigningContext{
		Product: oss.Ptr("oss"), Region: oss.Ptr(testRegion), Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key),
		Request:     req,
		Credentials: &credentials.Credentials{AccessKeyID: testAK, AccessKeySecret: testSecret, SecurityToken: testToken},
		Time:        at,
	}
	if err := (&signer.SignerV4{}).Sign(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	return req
}

func errorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var e struct{ Code string }
	body, _ := io.ReadAll(resp.Body)
	if err := xml.Unmarshal(body, &e); err != nil {
		t.Fatalf("%v: %q", err, body)
	}
	return e.Code
}

func TestClockSkew(t *testing.T) {
	s := newServer(t)
	for _, tc := range []struct {
		at     time.Time
		status int
		code   string
	}{
		{time.Now(), 404, "NoSuchKey"},
		{time.Now().Add(-time.Hour), 403, "RequestTimeTooSkewed"},
		{time.Now().Add(time.Hour), 403, "RequestTimeTooSkewed"},
	} {
		req, _ := http.NewRequest(http.MethodGet, s.URL()+"/"+testBucket+"/missing", nil)
		resp, err := http.DefaultClient.Do(signedRequest(t, req, "missing", tc.at))
		if err != nil {
			t.Fatal(err)
		}
		if code := errorCode(t, resp); resp.StatusCode != tc.status || code != tc.code {
			t.Errorf("signed at %v: %d %s, want %d %s", tc.at, resp.StatusCode, code, tc.status, tc.code)
		}
	}
}

func TestSignatureV1(t *testing.T) {
	s := newServer(t)
	v1 := func(c *oss.Config) { c.WithSignatureVersion(oss.SignatureVersionV1) }
	c := client(s, v1)
	mustPut(t, c, "v1/a b.txt", "v1")
	if got, _, err := getObject(c, "v1/a b.txt"); err != nil || got != "v1" {
		t.Errorf("get: %q, %v", got, err)
	}
	res := listV2(t, c, &oss.ListObjectsV2Request{Prefix: oss.Ptr("v1/"), MaxKeys: 1, ContinuationToken: oss.Ptr("djEv")})
	if keys, _ := names(res); !reflect.DeepEqual(keys, []string{"v1/a b.txt"}) {
		t.Errorf("list: %q", keys)
	}
	_, err := putObject(newClient(s, testAK, "other", testToken, v1), "v1/x", "x", false)
	wantServiceError(t, err, 403, "SignatureDoesNotMatch")
	_, err = putObject(newClient(s, testAK, testSecret, "", v1), "v1/x", "x", false)
	wantServiceError(t, err, 403, "InvalidSecurityToken")
}

func TestVirtualHostedStyle(t *testing.T) {
	s := newServer(t)
	addr := strings.TrimPrefix(s.URL(), "http://")
	_, port, _ := net.SplitHostPort(addr)
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	c := client(s, func(c *oss.Config) {
		c.WithEndpoint("http://oss-test.invalid:" + port).WithUsePathStyle(false).WithHttpClient(&http.Client{Transport: tr})
	})
	mustPut(t, c, "vhost/x.json", "x")
	if got, _, err := getObject(c, "vhost/x.json"); err != nil || got != "x" {
		t.Errorf("get: %q, %v", got, err)
	}
	if keys, _ := names(listV2(t, c, &oss.ListObjectsV2Request{})); !reflect.DeepEqual(keys, []string{"vhost/x.json"}) {
		t.Errorf("list: %q", keys)
	}
	if b, _ := os.ReadFile(filepath.Join(s.dir, "vhost", "x.json")); string(b) != "x" {
		t.Errorf("file: %q", b)
	}
}

func TestHostileKeys(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "bucket")
	s := newServer(t, func(c *Config) { c.Dir = dir })
	c := client(s)
	writeFile(t, parent, "outside/secret", "secret")
	if err := os.Symlink(filepath.Join(parent, "outside"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}

	for _, key := range []string{
		"../escape", "a/../../escape", "a/..", "/abs", "//abs", "\\abs", "a//b", "a/./b", "./a",
		"a\x00b", "folder/", strings.Repeat("k", 1024), StagingDir + "/x", "bad\xffutf8",
	} {
		_, err := putObject(c, key, "x", false)
		wantServiceError(t, err, http.StatusBadRequest, "InvalidObjectName")
		_, _, err = getObject(c, key)
		wantServiceError(t, err, http.StatusBadRequest, "InvalidObjectName")
		_, err = c.DeleteObject(context.Background(), &oss.DeleteObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr(key)})
		wantServiceError(t, err, http.StatusBadRequest, "InvalidObjectName")
	}
	// Through a link out of Dir: not an object, and not written through.
	_, _, err := getObject(c, "link/secret")
	wantServiceError(t, err, http.StatusNotFound, "NoSuchKey")
	_, err = putObject(c, "link/new", "x", false)
	wantServiceError(t, err, http.StatusBadRequest, "InvalidObjectName")
	if entries, _ := os.ReadDir(filepath.Join(parent, "outside")); len(entries) != 1 {
		t.Errorf("written outside Dir: %v", entries)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 2 {
		t.Errorf("written beside Dir: %v", entries)
	}

	// The longest key OSS allows is fine.
	long := strings.Repeat("abcdefghi/", 102) + "abc"
	if len(long) != maxKeyLen {
		t.Fatal(len(long))
	}
	mustPut(t, c, long, "long")
	if got, _, err := getObject(c, long); err != nil || got != "long" {
		t.Errorf("longest key: %q, %v", got, err)
	}
}

func TestFileSystemConflicts(t *testing.T) {
	s := newServer(t)
	c := client(s)
	mustPut(t, c, "f", "file")
	_, err := putObject(c, "f/below", "x", false)
	wantServiceError(t, err, http.StatusBadRequest, "InvalidObjectName")
	mustPut(t, c, "d/below", "x")
	_, err = putObject(c, "d", "x", false)
	wantServiceError(t, err, http.StatusBadRequest, "InvalidObjectName")
	_, err = putObject(c, "d", "x", true)
	wantServiceError(t, err, http.StatusBadRequest, "InvalidObjectName")
}

func TestPutChecks(t *testing.T) {
	s := newServer(t)
	c := client(s)
	ctx := context.Background()
	wrong := base64.StdEncoding.EncodeToString(make([]byte, 16))
	_, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("md5"), Body: strings.NewReader("x"), ContentMD5: oss.Ptr(wrong)})
	wantServiceError(t, err, http.StatusBadRequest, "InvalidDigest")
	sum := md5.Sum([]byte("x"))
	if _, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("md5"), Body: strings.NewReader("x"),
		ContentMD5: oss.Ptr(base64.StdEncoding.EncodeToString(sum[:]))}); err != nil {
		t.Errorf("put with the right Content-MD5: %v", err)
	}
	// A body that is not seekable goes chunked.
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte("streamed"))
		pw.Close()
	}()
	if _, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("stream"), Body: pr}); err != nil {
		t.Errorf("chunked put: %v", err)
	}
	if got, _, _ := getObject(c, "stream"); got != "streamed" {
		t.Errorf("chunked put wrote %q", got)
	}
	// Metadata the files cannot keep is refused, not dropped.
	_, err = c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("meta"), Body: strings.NewReader("x"),
		Metadata: map[string]string{"owner": "robot"}})
	wantServiceError(t, err, http.StatusNotImplemented, "NotImplemented")
	if entries, _ := os.ReadDir(s.dir); len(entries) != 2 {
		t.Errorf("Dir holds %v, want md5 and stream", entries)
	}
}

func TestRangeAndConditions(t *testing.T) {
	s := newServer(t)
	c := client(s)
	ctx := context.Background()
	const body = "0123456789"
	etag := oss.ToString(mustPut(t, c, "r.txt", body).ETag)
	get := func(req *oss.GetObjectRequest) (string, *oss.GetObjectResult, error) {
		req.Bucket, req.Key = oss.Ptr(testBucket), oss.Ptr("r.txt")
		res, err := c.GetObject(ctx, req)
		if err != nil {
			return "", nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return string(b), res, err
	}
	for _, tc := range []struct {
		rng, behavior string
		want          string
		status        int
	}{
		{"bytes=2-4", "", "234", 206},
		{"bytes=7-", "", "789", 206},
		{"bytes=-3", "", "789", 206},
		{"bytes=8-20", "", body, 200},
		{"bytes=8-20", "standard", "89", 206},
		{"bytes=20-30", "", body, 200},
	} {
		req := &oss.GetObjectRequest{Range: oss.Ptr(tc.rng)}
		if tc.behavior != "" {
			req.RangeBehavior = oss.Ptr(tc.behavior)
		}
		got, res, err := get(req)
		if err != nil || got != tc.want || res.StatusCode != tc.status {
			t.Errorf("%s %s: %q, %v", tc.rng, tc.behavior, got, err)
			continue
		}
		if oss.ToString(res.HashCRC64) != crcOf(body) {
			t.Errorf("%s: CRC64 %s is not the whole object's", tc.rng, oss.ToString(res.HashCRC64))
		}
	}
	_, _, err := get(&oss.GetObjectRequest{Range: oss.Ptr("bytes=20-30"), RangeBehavior: oss.Ptr("standard")})
	wantServiceError(t, err, http.StatusRequestedRangeNotSatisfiable, "InvalidRange")

	if got, _, err := get(&oss.GetObjectRequest{IfMatch: oss.Ptr(etag)}); err != nil || got != body {
		t.Errorf("If-Match the ETag: %q, %v", got, err)
	}
	_, _, err = get(&oss.GetObjectRequest{IfMatch: oss.Ptr(`"0123"`)})
	wantServiceError(t, err, http.StatusPreconditionFailed, "PreconditionFailed")
	_, _, err = get(&oss.GetObjectRequest{IfNoneMatch: oss.Ptr(etag)})
	var se *oss.ServiceError
	if !errors.As(err, &se) || se.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match the ETag: %v", err)
	}
}

func TestNotImplemented(t *testing.T) {
	s := newServer(t)
	c := client(s)
	ctx := context.Background()
	mustPut(t, c, "src", "x")
	s.ResetRequests()
	_, err := c.CopyObject(ctx, &oss.CopyObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("dst"), SourceKey: oss.Ptr("src")})
	wantServiceError(t, err, http.StatusNotImplemented, "NotImplemented")
	_, err = c.GetObjectAcl(ctx, &oss.GetObjectAclRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("src")})
	wantServiceError(t, err, http.StatusNotImplemented, "NotImplemented")
	_, err = c.InitiateMultipartUpload(ctx, &oss.InitiateMultipartUploadRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("mp")})
	wantServiceError(t, err, http.StatusNotImplemented, "NotImplemented")
	_, err = c.ListBuckets(ctx, &oss.ListBucketsRequest{})
	wantServiceError(t, err, http.StatusNotImplemented, "NotImplemented")
	_, err = c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("src"), Process: oss.Ptr("image/resize,w_10")})
	wantServiceError(t, err, http.StatusNotImplemented, "NotImplemented")
	want := map[string]int{"CopyObject": 1, "GetObjectAcl": 1, "InitiateMultipartUpload": 1, "ListBuckets": 1, "GetObject": 1}
	if got := s.Requests(); !reflect.DeepEqual(got, want) {
		t.Errorf("Requests() = %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "dst")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused copy wrote: %v", err)
	}
}

func TestRequests(t *testing.T) {
	s := newServer(t)
	c := client(s)
	ctx := context.Background()
	mustPut(t, c, "x", "x")
	s.ResetRequests()
	if got := s.Requests(); len(got) != 0 {
		t.Errorf("after ResetRequests: %v", got)
	}
	mustPut(t, c, "a", "a")
	mustPut(t, c, "b", "b")
	_, _ = putObject(newClient(s, "STS.other", testSecret, testToken), "c", "c", false)
	_, _, _ = getObject(c, "a")
	_, _ = c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("missing")})
	listV2(t, c, &oss.ListObjectsV2Request{})
	_, _ = c.DeleteObject(ctx, &oss.DeleteObjectRequest{Bucket: oss.Ptr(testBucket), Key: oss.Ptr("a")})
	_, _ = c.DeleteMultipleObjects(ctx, &oss.DeleteMultipleObjectsRequest{Bucket: oss.Ptr(testBucket), Delete: &oss.Delete{
		Objects: []oss.ObjectIdentifier{{Key: oss.Ptr("b")}},
	}})
	want := map[string]int{"PutObject": 3, "GetObject": 1, "HeadObject": 1, "ListObjectsV2": 1, "DeleteObject": 1, "DeleteMultipleObjects": 1}
	if got := s.Requests(); !reflect.DeepEqual(got, want) {
		t.Errorf("Requests() = %v, want %v", got, want)
	}
	// The map is a copy.
	s.Requests()["PutObject"] = 100
	if got := s.Requests()["PutObject"]; got != 3 {
		t.Errorf("Requests() shares its map: %d", got)
	}
}

func TestDelay(t *testing.T) {
	const delay = 60 * time.Millisecond
	s := newServer(t, func(c *Config) { c.Delay = delay })
	c := client(s)
	for _, call := range []func() error{
		func() error { _, err := putObject(c, "d", "d", false); return err },
		func() error { _, _, err := getObject(c, "d"); return err },
		func() error { _, _, err := getObject(c, "missing"); return err },
		func() error {
			_, err := putObject(newClient(s, "STS.other", testSecret, testToken), "d", "d", false)
			return err
		},
	} {
		start := time.Now()
		_ = call()
		if d := time.Since(start); d < delay {
			t.Errorf("answered in %v, less than the Delay %v", d, delay)
		}
	}
}

func TestNewServerPanics(t *testing.T) {
	for _, cfg := range []Config{
		{Bucket: testBucket, AccessKeyID: "a", AccessKeySecret: "b", Region: testRegion},
		{Dir: t.TempDir(), Bucket: "Bad_Bucket", AccessKeyID: "a", AccessKeySecret: "b", Region: testRegion},
		{Dir: t.TempDir(), Bucket: testBucket, AccessKeySecret: "b", Region: testRegion},
		{Dir: t.TempDir(), Bucket: testBucket, AccessKeyID: "a", AccessKeySecret: "b"},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewServer(%+v) did not panic", cfg)
				}
			}()
			NewServer(cfg).Close()
		}()
	}
}
