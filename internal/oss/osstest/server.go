// Package osstest is a fake Alibaba Cloud OSS server for tests and local
// runs. It serves one bucket whose objects are the files below a directory,
// so that a folder standing for the robot's OSS mount and the OSS API show
// the same objects: the object with key "a/b/c.json" is the file
// <Dir>/a/b/c.json.
//
// It answers the calls the robot makes as OSS does, refusals included:
// PutObject (with x-oss-forbid-overwrite, atomic across concurrent
// requests), GetObject, HeadObject, GetObjectMeta, DeleteObject,
// DeleteMultipleObjects, ListObjectsV2 and ListObjects, each behind a
// verified V4 (or V1) signature by the one set of credentials it is given.
// Any other operation is refused with 501 NotImplemented, never answered
// with a silent success.
//
// With Config.S3 it also answers, on the same URL and the same folder, the
// S3 requests of s3fs-fuse, which stands in for the ossfs mount FC gives
// the reply function: AWS Signature Version 4 by the same credentials
// (unsigned requests are always refused), directories as "dir/" objects,
// and x-amz-meta-* metadata kept in memory only, lost on a restart or when
// the file is rewritten. s3.go tells what the mode emulates and what not.
// OSS requests are answered as without it.
package osstest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes the bucket a Server serves.
type Config struct {
	Dir    string // objects are the files below Dir
	Bucket string // the one bucket served
	// The only credentials accepted (the function role's temporary ones):
	// requests signed with another key, or without this security token when
	// it is set, are refused as OSS refuses them.
	AccessKeyID, AccessKeySecret, SecurityToken string
	Region                                      string // e.g. "cn-hangzhou"; used by V4 signatures
	// Delay is added to every request before it is answered: a bucket round
	// trip, for benchmarks.
	Delay time.Duration
	// Versioning is what GetBucketVersioning answers: "" for a bucket
	// whose versioning was never enabled, "Enabled" or "Suspended". The
	// fake's objects stay unversioned whatever it says.
	Versioning string
	// S3 makes the server also answer, on the same URL and the same folder,
	// the S3 requests of a FUSE file system such as s3fs-fuse, which stands
	// in for FC's ossfs mount: requests signed AWS4-HMAC-SHA256 by the same
	// credentials (see the S3 mode in the package documentation).
	S3 bool
}

// Server is a fake OSS endpoint listening on 127.0.0.1.
type Server struct {
	cfg Config
	dir string // absolute Dir
	ts  *httptest.Server

	mu   sync.Mutex
	reqs map[string]int
	// prefixes counts the listings per prefix listed.
	prefixes map[string]int

	idPrefix string
	seq      atomic.Uint64

	// meta is what S3 requests asked to keep beside the files.
	metaMu sync.Mutex
	meta   map[string]s3Meta
}

// maxClockSkew is how far a request's signing time may be from the server's
// clock, as OSS allows.
const maxClockSkew = 15 * time.Minute

// NewServer starts a Server for cfg. It panics if cfg lacks Dir, Bucket,
// AccessKeyID, AccessKeySecret or Region, or if Bucket is not a valid bucket
// name, or if Dir cannot be created.
func NewServer(cfg Config) *Server {
	switch {
	case cfg.Dir == "":
		panic("osstest: Config.Dir is empty")
	case !validBucketName(cfg.Bucket):
		panic(fmt.Sprintf("osstest: Config.Bucket %q is not a valid bucket name", cfg.Bucket))
	case cfg.AccessKeyID == "" || cfg.AccessKeySecret == "":
		panic("osstest: Config.AccessKeyID and AccessKeySecret are required")
	case cfg.Region == "":
		panic("osstest: Config.Region is empty")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		panic("osstest: " + err.Error())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic("osstest: " + err.Error())
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	s := &Server{cfg: cfg, dir: dir, reqs: map[string]int{}, idPrefix: strings.ToUpper(hex.EncodeToString(b[:])), meta: map[string]s3Meta{}}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the server's base URL, http://127.0.0.1:port, to be addressed
// path-style: <URL>/<bucket>/<key>. Virtual-hosted requests, whose Host is
// <bucket>.<anything>, are answered too.
func (s *Server) URL() string { return s.ts.URL }

// Close shuts the server down, waiting for the requests under way, and
// removes its temporary directory from Dir if it is empty.
func (s *Server) Close() {
	s.ts.Close()
	_ = os.Remove(filepath.Join(s.dir, StagingDir))
}

// Requests counts the requests received per operation name ("PutObject",
// "GetObject", "HeadObject", "DeleteObject", "ListObjectsV2",
// "DeleteMultipleObjects", ...), refused ones included. Requests for
// operations it does not emulate are counted under OSS's name for them
// ("CopyObject", "GetObjectAcl", ...) or "Unknown".
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.reqs))
	for k, v := range s.reqs {
		m[k] = v
	}
	return m
}

// Listings counts the listings (ListObjectsV2, ListObjects) whose prefix
// contains part, refused ones included.
func (s *Server) Listings(part string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for prefix, v := range s.prefixes {
		if strings.Contains(prefix, part) {
			n += v
		}
	}
	return n
}

// ResetRequests sets every count of Requests and Listings back to zero.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.reqs)
	clear(s.prefixes)
}

func (s *Server) count(rq *request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs[rq.op]++
	if strings.HasPrefix(rq.op, "ListObjects") {
		if s.prefixes == nil {
			s.prefixes = map[string]int{}
		}
		s.prefixes[rq.query["prefix"]]++
	}
}

func (s *Server) newRequestID() string {
	return fmt.Sprintf("%s%016X", s.idPrefix, s.seq.Add(1))
}

// request is one request being answered.
type request struct {
	s  *Server
	w  http.ResponseWriter
	r  *http.Request
	id string

	op        string
	hasBucket bool
	bucket    string
	hasKey    bool
	key       string
	vhost     bool
	query     map[string]string // decoded; the last value of a repeated name
	rawQuery  []queryParam      // in order, decoded
	s3        bool              // an S3 request (Config.S3), signed AWS4-HMAC-SHA256 or AWS
}

type queryParam struct {
	name, value string
	hasValue    bool
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rq := &request{s: s, w: w, r: r, id: s.newRequestID()}
	h := w.Header()
	h.Set("Server", "AliyunOSS")
	h.Set("x-oss-request-id", rq.id)
	if s.cfg.S3 {
		auth := r.Header.Get("Authorization")
		rq.s3 = strings.HasPrefix(auth, algorithmS3V4+" ") || strings.HasPrefix(auth, "AWS ")
	}
	copySource := "x-oss-copy-source"
	if rq.s3 {
		h.Set("x-amz-request-id", rq.id)
		copySource = "x-amz-copy-source"
	}

	qerr := rq.parseTarget()
	rq.op = operationName(r.Method, rq.hasBucket, rq.hasKey, rq.query, r.Header.Get(copySource) != "")
	if rq.s3 && rq.op == "Unknown" && r.Method == http.MethodHead && rq.hasBucket && !rq.hasKey {
		rq.op = "HeadBucket" // S3's probe of a bucket
	}
	s.count(rq)

	if d := s.cfg.Delay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}

	if qerr != nil {
		rq.fail(qerr)
		return
	}
	if rq.hasBucket && rq.bucket != s.cfg.Bucket {
		rq.fail(&ossError{status: http.StatusNotFound, code: "NoSuchBucket", msg: "The specified bucket does not exist.",
			extra: [][2]string{{"BucketName", rq.bucket}}})
		return
	}
	if e := rq.authenticate(); e != nil {
		rq.fail(e)
		return
	}
	rq.dispatch()
}

// parseTarget reads the bucket, the key and the query parameters.
func (rq *request) parseTarget() *ossError {
	r := rq.r
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	p := r.URL.Path
	if strings.HasPrefix(host, rq.s.cfg.Bucket+".") {
		rq.vhost = true
		rq.hasBucket, rq.bucket = true, rq.s.cfg.Bucket
		k := strings.TrimPrefix(p, "/")
		rq.hasKey, rq.key = k != "", k
	} else if p != "" && p != "/" {
		b, k, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
		rq.hasBucket, rq.bucket = true, b
		rq.hasKey, rq.key = k != "", k
	}

	rq.query = map[string]string{}
	raw := r.URL.RawQuery
	var bad error
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, hasValue := strings.Cut(part, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			bad = fmt.Errorf("the query parameter %q is not well encoded", part)
			dk, dv = k, v
		}
		rq.query[dk] = dv
		rq.rawQuery = append(rq.rawQuery, queryParam{name: dk, value: dv, hasValue: hasValue})
	}
	if bad != nil {
		return invalidArgument(bad.Error())
	}
	return nil
}

// operationName names the operation a request asks for, as OSS's API
// reference names it; copySource tells whether the request names a source
// to copy from (x-oss-copy-source, or x-amz-copy-source for S3).
func operationName(method string, hasBucket, hasKey bool, q map[string]string, copySource bool) string {
	has := func(name string) bool { _, ok := q[name]; return ok }
	switch {
	case !hasBucket:
		if method == http.MethodGet {
			if has("regions") {
				return "DescribeRegions"
			}
			return "ListBuckets"
		}
	case !hasKey:
		switch method {
		case http.MethodGet:
			for _, sub := range bucketSubresources {
				if has(sub) {
					return "GetBucket" + upperFirst(sub)
				}
			}
			if has("list-type") {
				return "ListObjectsV2"
			}
			return "ListObjects"
		case http.MethodPost:
			if has("delete") {
				return "DeleteMultipleObjects"
			}
		case http.MethodPut, http.MethodDelete:
			verb := "PutBucket"
			if method == http.MethodDelete {
				verb = "DeleteBucket"
			}
			for _, sub := range bucketSubresources {
				if has(sub) {
					return verb + upperFirst(sub)
				}
			}
			return verb
		}
	default:
		switch method {
		case http.MethodGet:
			switch {
			case has("acl"):
				return "GetObjectAcl"
			case has("tagging"):
				return "GetObjectTagging"
			case has("symlink"):
				return "GetSymlink"
			case has("uploadId"):
				return "ListParts"
			}
			return "GetObject"
		case http.MethodHead:
			if has("objectMeta") {
				return "GetObjectMeta"
			}
			return "HeadObject"
		case http.MethodPut:
			switch {
			case has("acl"):
				return "PutObjectAcl"
			case has("tagging"):
				return "PutObjectTagging"
			case has("symlink"):
				return "PutSymlink"
			case has("uploadId") && copySource:
				return "UploadPartCopy"
			case has("uploadId"):
				return "UploadPart"
			case copySource:
				return "CopyObject"
			}
			return "PutObject"
		case http.MethodPost:
			switch {
			case has("uploads"):
				return "InitiateMultipartUpload"
			case has("uploadId"):
				return "CompleteMultipartUpload"
			case has("append"):
				return "AppendObject"
			case has("restore"):
				return "RestoreObject"
			case has("x-oss-process"):
				return "ProcessObject"
			}
		case http.MethodDelete:
			switch {
			case has("uploadId"):
				return "AbortMultipartUpload"
			case has("tagging"):
				return "DeleteObjectTagging"
			}
			return "DeleteObject"
		case http.MethodOptions:
			return "OptionObject"
		}
	}
	return "Unknown"
}

// bucketSubresources are the bucket sub-resources that select an operation
// other than listing.
var bucketSubresources = []string{
	"acl", "location", "bucketInfo", "stat", "uploads", "versions", "versioning",
	"lifecycle", "cors", "policy", "tagging", "logging", "referer", "website",
	"encryption", "worm", "replication", "inventory", "requestPayment", "cname",
	"transferAcceleration", "accessMonitor", "resourceGroup", "style", "qos",
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// dispatch answers an authenticated request.
func (rq *request) dispatch() {
	if rq.s3 {
		rq.dispatchS3()
		return
	}
	switch rq.op {
	case "PutObject":
		rq.putObject()
	case "GetObject":
		rq.getObject(false)
	case "HeadObject":
		rq.getObject(true)
	case "GetObjectMeta":
		rq.getObjectMeta()
	case "DeleteObject":
		rq.deleteObject()
	case "DeleteMultipleObjects":
		rq.deleteMultipleObjects()
	case "ListObjectsV2":
		rq.listObjects(true)
	case "ListObjects":
		rq.listObjects(false)
	case "GetBucketVersioning":
		// A bucket whose versioning was never enabled answers no Status.
		rq.reply(struct {
			XMLName xml.Name `xml:"VersioningConfiguration"`
			Status  string   `xml:"Status,omitempty"`
		}{Status: rq.s.cfg.Versioning})
	default:
		rq.fail(notImplemented(fmt.Sprintf("osstest does not emulate %s (%s %s).", rq.op, rq.r.Method, rq.r.URL.RequestURI())))
	}
}

// admitObject checks an object request's query parameters (only allowed)
// and its key (with checkKey, OSS's rules or S3's), and answers the
// request with the first error found; it reports whether the request
// passed.
func (rq *request) admitObject(checkKey func() *ossError, allowed ...string) bool {
	e := rq.allowParams(allowed...)
	if e == nil {
		e = checkKey()
	}
	if e != nil {
		rq.fail(e)
		return false
	}
	return true
}

// allowParams refuses the query parameters outside allowed, which the
// operation would take but the fake does not emulate.
func (rq *request) allowParams(allowed ...string) *ossError {
	var names []string
	for name := range rq.query {
		ok := false
		for _, a := range allowed {
			if name == a {
				ok = true
				break
			}
		}
		if !ok {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	return notImplemented(fmt.Sprintf("osstest does not emulate the query parameter(s) %s of %s.", strings.Join(names, ", "), rq.op))
}

// ossError is a refusal in OSS's words.
type ossError struct {
	status    int
	code, msg string
	extra     [][2]string // further child elements of <Error>, in order
}

func invalidArgument(msg string, extra ...[2]string) *ossError {
	return &ossError{status: http.StatusBadRequest, code: "InvalidArgument", msg: msg, extra: extra}
}

func notImplemented(msg string) *ossError {
	return &ossError{status: http.StatusNotImplemented, code: "NotImplemented", msg: msg}
}

func internalError(err error) *ossError {
	return &ossError{status: http.StatusInternalServerError, code: "InternalError", msg: "We encountered an internal error. Please try again. (" + err.Error() + ")"}
}

// fail answers with e as OSS does: an <Error> document, or for HEAD no body
// and the document, base64-encoded, in the x-oss-err header.
func (rq *request) fail(e *ossError) {
	var b strings.Builder
	b.WriteString(xmlHeader)
	b.WriteString("<Error>\n")
	elem := func(name, value string) {
		b.WriteString("  <" + name + ">")
		writeXMLText(&b, value)
		b.WriteString("</" + name + ">\n")
	}
	elem("Code", e.code)
	elem("Message", e.msg)
	elem("RequestId", rq.id)
	elem("HostId", rq.hostID())
	for _, kv := range e.extra {
		elem(kv[0], kv[1])
	}
	b.WriteString("</Error>\n")
	body := b.String()

	// Leave the connection usable: read (a bounded part of) what the client
	// is still sending.
	_, _ = io.CopyN(io.Discard, rq.r.Body, 8<<20)

	h := rq.w.Header()
	h.Set("Content-Type", "application/xml")
	if rq.r.Method == http.MethodHead {
		h.Set("x-oss-err", base64.StdEncoding.EncodeToString([]byte(body)))
		rq.w.WriteHeader(e.status)
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	rq.w.WriteHeader(e.status)
	_, _ = io.WriteString(rq.w, body)
}

func (rq *request) hostID() string {
	if rq.vhost || !rq.hasBucket {
		return rq.r.Host
	}
	return rq.bucket + "." + rq.r.Host
}

// validBucketName tells whether name follows OSS's bucket naming rules.
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
