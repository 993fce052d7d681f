package osstest

// The S3 mode (Config.S3): enough of Amazon S3's REST API for s3fs-fuse to
// mount the bucket, standing in for the ossfs mount FC gives the reply
// function. The requests come signed with AWS Signature Version 4 by the
// Server's credentials (the security token in x-amz-security-token), and
// are told from the OSS SDK's by their Authorization header; they see the
// same folder:
//
//   - a file <Dir>/k is the object k, as for OSS requests;
//   - a directory <Dir>/d is the object "d/", of zero bytes, with the type
//     application/x-directory: PutObject of "d/" (s3fs's mkdir) creates it,
//     DeleteObject of "d/" (rmdir) removes it when it is empty, and listings
//     show it, so that an empty folder made through the mount stays one;
//   - a DeleteObject of a file leaves its folder in place (it is the "d/"
//     object of a directory), where OSS's leaves no empty folder behind;
//   - the x-amz-meta-* headers and the Content-Type of a PutObject or a
//     CopyObject (s3fs's mode, uid, gid and mtime: chmod, chown and touch
//     copy an object onto itself with x-amz-metadata-directive: REPLACE)
//     cannot live in the files: they are kept in memory, for as long as the
//     file is the one they were given with (a rewrite by any request, or a
//     restart of the Server, forgets them; s3fs then falls back to its
//     defaults and the file's modification time).
//
// It answers ListObjects (V1, with delimiter and marker) and V2, HeadObject
// and GetObject (ranges as S3 reads them), PutObject, CopyObject of a whole
// object, DeleteObject, HeadBucket and GetBucketLocation. Unsigned requests
// are refused (no public-bucket mode), and so are AWS Signature Version 2
// (mount with -o sigv4), presigned URLs, aws-chunked uploads, multipart
// uploads (mount with -o nomultipart), versions, tags, ACLs other than
// private, storage classes other than STANDARD and server-side encryption:
// 501 NotImplemented, never a silent success.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	algorithmS3V4  = "AWS4-HMAC-SHA256"
	s3Namespace    = "http://s3.amazonaws.com/doc/2006-03-01/"
	emptySHA256    = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	dirContentType = "application/x-directory"
	s3DateTime     = "20060102T150405Z"
	streamingSHA   = "STREAMING-"
)

// s3Meta is what S3 requests gave an object that its file cannot hold, and
// which file that was.
type s3Meta struct {
	header http.Header // X-Amz-Meta-* and Content-Type
	ino    uint64
	size   int64
	mtime  time.Time
	dir    bool
}

func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// metaHeaders picks from h what an S3 object keeps: its user metadata and
// its Content-Type.
func metaHeaders(h http.Header) http.Header {
	m := http.Header{}
	for k, vs := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-meta-") {
			m[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
		}
	}
	if v := h.Get("Content-Type"); v != "" {
		m.Set("Content-Type", v)
	}
	return m
}

func (s *Server) setMeta(key string, fi fs.FileInfo, h http.Header) {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	if len(h) == 0 {
		delete(s.meta, key)
		return
	}
	s.meta[key] = s3Meta{header: h, ino: inode(fi), size: fi.Size(), mtime: fi.ModTime(), dir: fi.IsDir()}
}

// metaOf is key's metadata, if fi is still the file it was given with.
func (s *Server) metaOf(key string, fi fs.FileInfo) http.Header {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	m, ok := s.meta[key]
	if !ok {
		return nil
	}
	if m.ino != inode(fi) || m.dir != fi.IsDir() || !m.dir && (m.size != fi.Size() || !m.mtime.Equal(fi.ModTime())) {
		delete(s.meta, key)
		return nil
	}
	return m.header
}

func (s *Server) forgetMeta(key string) {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	delete(s.meta, key)
}

// writeMeta adds key's metadata to the headers of an answer about it.
func (s *Server) writeMeta(rh http.Header, key string, fi fs.FileInfo) {
	for k, vs := range s.metaOf(key, fi) {
		rh[k] = vs
	}
}

// statDir is the "dir/" object of a directory: fs.ErrNotExist when key
// names none.
func (s *Server) statDir(key string) (*object, error) {
	name := strings.TrimSuffix(key, "/")
	if keyProblem(name) != "" || s.checkParents(name) != nil {
		return nil, fs.ErrNotExist
	}
	fi, err := os.Lstat(s.file(name))
	if err != nil || !fi.IsDir() {
		return nil, fs.ErrNotExist
	}
	return &object{key: key, info: fi, md5: md5Sum(nil), crc64: 0}, nil
}

// authenticateS3 verifies an AWS Signature Version 4 by the Server's
// credentials.
func (rq *request) authenticateS3() *ossError {
	r := rq.r
	if _, ok := rq.query["X-Amz-Signature"]; ok {
		return notImplemented("osstest does not emulate signatures in the URL (presigned requests).")
	}
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, algorithmS3V4+" ")
	if !ok {
		return notImplemented("osstest's S3 mode verifies AWS Signature Version 4 only (mount s3fs with -o sigv4).")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return &ossError{status: http.StatusBadRequest, code: "AuthorizationHeaderMalformed", msg: "The authorization header is malformed."}
		}
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	signature, signedHeaders := fields["Signature"], fields["SignedHeaders"]
	if len(scope) != 5 || signature == "" || signedHeaders == "" {
		return &ossError{status: http.StatusBadRequest, code: "AuthorizationHeaderMalformed",
			msg: "The authorization header is malformed: it needs Credential=<AccessKeyId>/<date>/<region>/s3/aws4_request, SignedHeaders and Signature."}
	}
	accessKeyID, date, region, service, terminator := scope[0], scope[1], scope[2], scope[3], scope[4]
	if e := rq.checkCredentials(accessKeyID); e != nil {
		return e
	}
	if region != rq.s.cfg.Region {
		return &ossError{status: http.StatusBadRequest, code: "AuthorizationHeaderMalformed",
			msg:   fmt.Sprintf("The authorization header is malformed; the region '%s' is wrong; expecting '%s'", region, rq.s.cfg.Region),
			extra: [][2]string{{"Region", rq.s.cfg.Region}}}
	}
	xdate := r.Header.Get("x-amz-date")
	t, err := time.Parse(s3DateTime, xdate)
	if err != nil {
		return &ossError{status: http.StatusForbidden, code: "AccessDenied", msg: "AWS authentication requires a valid x-amz-date header, in the form 20060102T150405Z."}
	}
	if e := rq.checkTime(t); e != nil {
		return e
	}
	payload := r.Header.Get("x-amz-content-sha256")
	switch {
	case payload == "":
		return &ossError{status: http.StatusBadRequest, code: "InvalidRequest", msg: "Missing required header for this request: x-amz-content-sha256"}
	case strings.HasPrefix(payload, streamingSHA):
		return notImplemented("osstest does not emulate aws-chunked uploads (x-amz-content-sha256: " + payload + ").")
	case payload != unsignedPayload:
		if b, err := hex.DecodeString(payload); err != nil || len(b) != sha256.Size {
			return &ossError{status: http.StatusBadRequest, code: "InvalidArgument", msg: "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or the hex SHA-256 of the body."}
		}
	}
	signed := strings.Split(signedHeaders, ";")
	hasHost := false
	for _, h := range signed {
		hasHost = hasHost || h == "host"
	}
	if !hasHost {
		return &ossError{status: http.StatusForbidden, code: "AccessDenied", msg: "The host header must be signed."}
	}

	key := hmacSHA256([]byte("AWS4"+rq.s.cfg.AccessKeySecret), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, terminator)
	credScope := date + "/" + region + "/" + service + "/" + terminator
	// The path as the client encoded it, or as S3 encodes it: clients
	// differ in the characters they leave alone.
	var canonical, stringToSign string
	matched := false
	for _, p := range []string{uriEncode(r.URL.Path, false), r.URL.EscapedPath()} {
		canonical = rq.canonicalRequestS3(p, signed, payload)
		sum := sha256.Sum256([]byte(canonical))
		stringToSign = algorithmS3V4 + "\n" + xdate + "\n" + credScope + "\n" + hex.EncodeToString(sum[:])
		if hex.EncodeToString(hmacSHA256(key, stringToSign)) == strings.ToLower(signature) {
			matched = true
			break
		}
	}
	switch {
	case !matched || date != xdate[:8] || service != "s3" || terminator != "aws4_request":
		return &ossError{status: http.StatusForbidden, code: "SignatureDoesNotMatch",
			msg: "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
			extra: [][2]string{
				{"AWSAccessKeyId", accessKeyID},
				{"SignatureProvided", signature},
				{"StringToSign", stringToSign},
				{"CanonicalRequest", canonical},
			}}
	}
	if payload != unsignedPayload && r.Body != nil {
		r.Body = &sha256Body{ReadCloser: r.Body, h: sha256.New(), want: strings.ToLower(payload)}
	}
	return nil
}

// canonicalRequestS3 is the canonical request of AWS Signature Version 4.
func (rq *request) canonicalRequestS3(path string, signed []string, payload string) string {
	r := rq.r
	var b strings.Builder
	b.WriteString(r.Method + "\n" + path + "\n")
	params := make([][2]string, 0, len(rq.rawQuery))
	for _, p := range rq.rawQuery {
		params = append(params, [2]string{uriEncode(p.name, true), uriEncode(p.value, true)})
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i][0] != params[j][0] {
			return params[i][0] < params[j][0]
		}
		return params[i][1] < params[j][1]
	})
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p[0] + "=" + p[1])
	}
	b.WriteByte('\n')
	for _, name := range signed {
		var vs []string
		switch name {
		case "host":
			vs = []string{r.Host}
		case "content-length":
			vs = r.Header.Values(name)
			if len(vs) == 0 {
				vs = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		default:
			vs = r.Header.Values(name)
		}
		for i, v := range vs {
			vs[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(name + ":" + strings.Join(vs, ",") + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n" + payload)
	return b.String()
}

// sha256Body checks, once read to its end, that a body has the SHA-256 that
// its signature covers.
type sha256Body struct {
	io.ReadCloser
	h    hash.Hash
	want string
}

var errContentSHA256 = errors.New("the body's SHA-256 is not the x-amz-content-sha256 the request was signed with (XAmzContentSHA256Mismatch)")

func (b *sha256Body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.h.Write(p[:n])
	if err == io.EOF && hex.EncodeToString(b.h.Sum(nil)) != b.want {
		return n, errContentSHA256
	}
	return n, err
}

// dispatchS3 answers an authenticated S3 request.
func (rq *request) dispatchS3() {
	dir := strings.HasSuffix(rq.key, "/")
	switch rq.op {
	case "HeadBucket":
		rq.w.WriteHeader(http.StatusOK)
	case "GetBucketLocation":
		if e := rq.allowParams("location"); e != nil {
			rq.fail(e)
			return
		}
		rq.reply(struct {
			XMLName xml.Name `xml:"LocationConstraint"`
			XMLNS   string   `xml:"xmlns,attr"`
			Region  string   `xml:",chardata"`
		}{XMLNS: s3Namespace, Region: rq.s.cfg.Region})
	case "ListObjects":
		rq.listObjects(false)
	case "ListObjectsV2":
		rq.listObjects(true)
	case "HeadObject", "GetObject":
		if dir {
			rq.getDirS3()
		} else {
			rq.getObject(rq.op == "HeadObject")
		}
	case "PutObject":
		rq.putObjectS3()
	case "CopyObject":
		rq.copyObjectS3()
	case "DeleteObject":
		rq.deleteObjectS3()
	default:
		rq.fail(notImplemented(fmt.Sprintf("osstest's S3 mode does not emulate %s (%s %s).", rq.op, rq.r.Method, rq.r.URL.RequestURI())))
	}
}

// checkKeyS3 refuses a key that names neither a file nor a directory.
func (rq *request) checkKeyS3() *ossError {
	if why := keyProblem(strings.TrimSuffix(rq.key, "/")); why != "" {
		return invalidObjectName(rq.key, why)
	}
	return nil
}

// unemulatedS3Headers are headers of PutObject and CopyObject that ask S3
// to keep or do something the fake does not.
var unemulatedS3Headers = []string{
	"x-amz-tagging", "x-amz-tagging-directive", "x-amz-website-redirect-location",
	"x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
	"x-amz-server-side-encryption-customer-algorithm", "x-amz-object-lock-mode",
	"x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold",
	"x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp", "x-amz-grant-full-control",
	"x-amz-copy-source-if-match", "x-amz-copy-source-if-none-match",
	"x-amz-copy-source-if-modified-since", "x-amz-copy-source-if-unmodified-since",
	"If-None-Match", "If-Match",
	"Cache-Control", "Content-Disposition", "Content-Encoding", "Expires",
}

func (rq *request) unemulatedS3() *ossError {
	h := rq.r.Header
	var names []string
	for _, k := range unemulatedS3Headers {
		if h.Get(k) != "" {
			names = append(names, k)
		}
	}
	if v := h.Get("x-amz-acl"); v != "" && v != "private" {
		names = append(names, "x-amz-acl: "+v)
	}
	if v := h.Get("x-amz-storage-class"); v != "" && v != "STANDARD" {
		names = append(names, "x-amz-storage-class: "+v)
	}
	if len(names) > 0 {
		return notImplemented("osstest keeps objects as files and does not emulate the header(s) " + strings.Join(names, ", ") + " of " + rq.op + ".")
	}
	return nil
}

// mkdir makes the "dir/" object key: its directory and the missing parents.
func (s *Server) mkdir(key string) (fs.FileInfo, *ossError) {
	if err := s.makeParents(key); err != nil { // key ends in "/": its last segment is ""
		if err == errConflict {
			return nil, conflictError(key)
		}
		return nil, internalError(err)
	}
	fi, err := os.Lstat(s.file(strings.TrimSuffix(key, "/")))
	if err != nil {
		return nil, internalError(err)
	}
	return fi, nil
}

func (rq *request) putObjectS3() {
	r := rq.r
	for _, e := range []func() *ossError{func() *ossError { return rq.allowParams() }, rq.checkKeyS3, rq.unemulatedS3} {
		if e := e(); e != nil {
			rq.fail(e)
			return
		}
	}
	wantMD5, e := rq.contentMD5()
	if e != nil {
		rq.fail(e)
		return
	}
	if r.ContentLength > maxPutSize {
		rq.fail(&ossError{status: http.StatusBadRequest, code: "EntityTooLarge", msg: "Your proposed upload exceeds the maximum allowed size."})
		return
	}
	meta := metaHeaders(r.Header)
	var etag string
	if strings.HasSuffix(rq.key, "/") {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1))
		switch {
		case err != nil:
			rq.fail(&ossError{status: http.StatusBadRequest, code: "IncompleteBody", msg: "The request body was not received in full: " + err.Error()})
			return
		case len(body) > 0:
			rq.fail(notImplemented("osstest keeps a \"dir/\" object as a directory: it cannot hold bytes."))
			return
		}
		fi, e := rq.s.mkdir(rq.key)
		if e != nil {
			rq.fail(e)
			return
		}
		rq.s.setMeta(rq.key, fi, meta)
		etag = (&object{md5: md5Sum(nil)}).etag()
	} else {
		o, e := rq.s.put(rq.key, r.Body, false, wantMD5)
		if e != nil {
			rq.fail(e)
			return
		}
		rq.s.setMeta(rq.key, o.info, meta)
		etag = o.etag()
	}
	rq.w.Header().Set("ETag", etag)
	rq.w.Header().Set("Content-Length", "0")
	rq.w.WriteHeader(http.StatusOK)
}

func (rq *request) getDirS3() {
	if !rq.admitObject(rq.checkKeyS3) {
		return
	}
	o, err := rq.s.statDir(rq.key)
	if err != nil {
		rq.fail(noSuchKey(rq.key))
		return
	}
	rh := rq.w.Header()
	rh.Set("ETag", o.etag())
	rh.Set("Last-Modified", o.info.ModTime().UTC().Format(http.TimeFormat))
	rh.Set("Content-Type", dirContentType)
	rh.Set("Accept-Ranges", "bytes")
	rq.s.writeMeta(rh, rq.key, o.info)
	rh.Set("Content-Length", "0")
	rq.w.WriteHeader(http.StatusOK)
}

type copyObjectResult struct {
	XMLName      xml.Name `xml:"CopyObjectResult"`
	XMLNS        string   `xml:"xmlns,attr"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
}

func (rq *request) copyObjectS3() {
	r := rq.r
	for _, e := range []func() *ossError{func() *ossError { return rq.allowParams() }, rq.checkKeyS3, rq.unemulatedS3} {
		if e := e(); e != nil {
			rq.fail(e)
			return
		}
	}
	src, err := url.PathUnescape(r.Header.Get("x-amz-copy-source"))
	if err != nil {
		rq.fail(invalidArgument("x-amz-copy-source is not well encoded."))
		return
	}
	src, version, _ := strings.Cut(src, "?")
	if version != "" {
		rq.fail(notImplemented("osstest does not emulate versioning: x-amz-copy-source with " + version + "."))
		return
	}
	srcBucket, srcKey, _ := strings.Cut(strings.TrimPrefix(src, "/"), "/")
	if srcBucket != rq.s.cfg.Bucket {
		rq.fail(&ossError{status: http.StatusNotFound, code: "NoSuchBucket", msg: "The specified bucket does not exist.", extra: [][2]string{{"BucketName", srcBucket}}})
		return
	}
	if why := keyProblem(strings.TrimSuffix(srcKey, "/")); why != "" {
		rq.fail(invalidObjectName(srcKey, why))
		return
	}
	var replace bool
	switch v := r.Header.Get("x-amz-metadata-directive"); v {
	case "", "COPY":
	case "REPLACE":
		replace = true
	default:
		rq.fail(invalidArgument("Unknown metadata directive.", [2]string{"ArgumentName", "x-amz-metadata-directive"}, [2]string{"ArgumentValue", v}))
		return
	}
	if srcKey == rq.key && !replace {
		rq.fail(&ossError{status: http.StatusBadRequest, code: "InvalidRequest",
			msg: "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."})
		return
	}
	srcDir, dstDir := strings.HasSuffix(srcKey, "/"), strings.HasSuffix(rq.key, "/")
	var o *object
	switch {
	case srcDir != dstDir:
		rq.fail(notImplemented("osstest keeps \"dir/\" objects as directories and files as files: it cannot copy one to the other."))
		return
	case srcDir:
		so, err := rq.s.statDir(srcKey)
		if err != nil {
			rq.fail(noSuchKey(srcKey))
			return
		}
		meta := rq.s.metaOf(srcKey, so.info)
		if replace {
			meta = metaHeaders(r.Header)
		}
		fi, e := rq.s.mkdir(rq.key)
		if e != nil {
			rq.fail(e)
			return
		}
		rq.s.setMeta(rq.key, fi, meta)
		o = &object{key: rq.key, info: fi, md5: md5Sum(nil)}
	default:
		f, so, err := rq.s.open(srcKey)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			rq.fail(noSuchKey(srcKey))
			return
		case err != nil:
			rq.fail(internalError(err))
			return
		}
		meta := rq.s.metaOf(srcKey, so.info)
		if replace {
			meta = metaHeaders(r.Header)
		}
		if srcKey == rq.key {
			f.Close()
			o = so
		} else {
			var e *ossError
			o, e = rq.s.put(rq.key, f, false, nil)
			f.Close()
			if e != nil {
				rq.fail(e)
				return
			}
		}
		rq.s.setMeta(rq.key, o.info, meta)
	}
	rq.reply(copyObjectResult{XMLNS: s3Namespace, LastModified: o.info.ModTime().UTC().Format("2006-01-02T15:04:05.000Z"), ETag: o.etag()})
}

func (rq *request) deleteObjectS3() {
	if !rq.admitObject(rq.checkKeyS3) {
		return
	}
	if strings.HasSuffix(rq.key, "/") {
		if _, err := rq.s.statDir(rq.key); err == nil {
			// A directory that still holds files stays: in S3 the prefix
			// of its objects would still show it.
			if err := syscall.Rmdir(rq.s.file(strings.TrimSuffix(rq.key, "/"))); err == nil {
				rq.s.forgetMeta(rq.key)
			} else if !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) && !errors.Is(err, fs.ErrNotExist) {
				rq.fail(internalError(err))
				return
			}
		}
	} else if err := rq.s.remove(rq.key, false); err != nil {
		rq.fail(internalError(err))
		return
	}
	rq.w.WriteHeader(http.StatusNoContent)
}
