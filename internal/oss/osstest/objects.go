package osstest

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

func writeXMLText(b *strings.Builder, s string) {
	_ = xml.EscapeText(b, []byte(s))
}

// reply answers 200 with v as an XML document.
func (rq *request) reply(v any) {
	body, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		rq.fail(internalError(err))
		return
	}
	h := rq.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xmlHeader)+len(body)))
	rq.w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(rq.w, xmlHeader)
	_, _ = rq.w.Write(body)
}

func md5Sum(b []byte) []byte {
	sum := md5.Sum(b)
	return sum[:]
}

// checkKey refuses a key that cannot name an object.
func (rq *request) checkKey() *ossError {
	if why := keyProblem(rq.key); why != "" {
		return invalidObjectName(rq.key, why)
	}
	return nil
}

func noSuchKey(key string) *ossError {
	return &ossError{status: http.StatusNotFound, code: "NoSuchKey", msg: "The specified key does not exist.", extra: [][2]string{{"Key", key}}}
}

// contentMD5 is the request's Content-MD5, decoded; nil when it has none.
func (rq *request) contentMD5() ([]byte, *ossError) {
	v := rq.r.Header.Get("Content-MD5")
	if v == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) != 16 {
		return nil, &ossError{status: http.StatusBadRequest, code: "InvalidDigest", msg: "The Content-MD5 you specified is not valid."}
	}
	return b, nil
}

// unemulatedPutHeaders are headers of PutObject that ask OSS to keep or do
// something the fake does not: it refuses them rather than drop them.
var unemulatedPutHeaders = []string{
	"x-oss-callback", "x-oss-callback-var", "x-oss-tagging",
	"x-oss-server-side-encryption", "x-oss-server-side-data-encryption", "x-oss-server-side-encryption-key-id",
	"Cache-Control", "Content-Disposition", "Content-Encoding", "Expires",
}

func (rq *request) putObject() {
	r := rq.r
	if !rq.admitObject(rq.checkKey) {
		return
	}
	h := r.Header
	var forbid bool
	switch v := h.Get("x-oss-forbid-overwrite"); strings.ToLower(v) {
	case "", "false":
	case "true":
		forbid = true
	default:
		rq.fail(invalidArgument("The x-oss-forbid-overwrite header must be true or false.",
			[2]string{"ArgumentName", "x-oss-forbid-overwrite"}, [2]string{"ArgumentValue", v}))
		return
	}
	var unemulated []string
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-oss-meta-") {
			unemulated = append(unemulated, k)
		}
	}
	for _, k := range unemulatedPutHeaders {
		if h.Get(k) != "" {
			unemulated = append(unemulated, k)
		}
	}
	if v := h.Get("x-oss-object-acl"); v != "" && v != "default" {
		unemulated = append(unemulated, "x-oss-object-acl")
	}
	if v := h.Get("x-oss-storage-class"); v != "" && !strings.EqualFold(v, "Standard") {
		unemulated = append(unemulated, "x-oss-storage-class")
	}
	if len(unemulated) > 0 {
		rq.fail(notImplemented("osstest keeps objects as bare files and does not emulate the header(s) " + strings.Join(unemulated, ", ") + " of PutObject."))
		return
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
	o, e := rq.s.put(rq.key, r.Body, forbid, wantMD5)
	if e != nil {
		rq.fail(e)
		return
	}
	rh := rq.w.Header()
	rh.Set("ETag", o.etag())
	rh.Set("Content-MD5", base64.StdEncoding.EncodeToString(o.md5))
	rh.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc64, 10))
	rh.Set("Content-Length", "0")
	rq.w.WriteHeader(http.StatusOK)
}

// responseOverrides are GetObject's parameters that set a header of the
// answer.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

// getObject answers GetObject, or HeadObject when head.
func (rq *request) getObject(head bool) {
	var allowed []string
	if !head {
		for p := range responseOverrides {
			allowed = append(allowed, p)
		}
	}
	if !rq.admitObject(rq.checkKey, allowed...) {
		return
	}
	f, o, err := rq.s.open(rq.key)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		rq.fail(noSuchKey(rq.key))
		return
	case err != nil:
		rq.fail(internalError(err))
		return
	}
	defer f.Close()

	h := rq.r.Header
	etag := o.etag()
	modified := o.info.ModTime().UTC().Truncate(time.Second)
	rh := rq.w.Header()
	rh.Set("ETag", etag)
	rh.Set("Last-Modified", modified.Format(http.TimeFormat))
	precondition := func(condition string) {
		rq.fail(&ossError{status: http.StatusPreconditionFailed, code: "PreconditionFailed",
			msg: "At least one of the pre-conditions you specified did not hold.", extra: [][2]string{{"Condition", condition}}})
	}
	notModified := func() {
		rq.w.WriteHeader(http.StatusNotModified)
	}
	if v := h.Get("If-Match"); v != "" && !etagMatches(v, etag) {
		precondition("If-Match")
		return
	}
	if v := h.Get("If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && modified.After(t) {
			precondition("If-Unmodified-Since")
			return
		}
	}
	if v := h.Get("If-None-Match"); v != "" && etagMatches(v, etag) {
		notModified()
		return
	}
	if v := h.Get("If-Modified-Since"); v != "" && h.Get("If-None-Match") == "" {
		if t, err := http.ParseTime(v); err == nil && !modified.After(t) {
			notModified()
			return
		}
	}

	size := o.info.Size()
	ctype := mime.TypeByExtension(path.Ext(rq.key))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	rh.Set("Content-Type", ctype)
	rh.Set("Content-MD5", base64.StdEncoding.EncodeToString(o.md5))
	rh.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc64, 10))
	rh.Set("x-oss-object-type", "Normal")
	rh.Set("x-oss-storage-class", "Standard")
	rh.Set("Accept-Ranges", "bytes")
	start, n, status := int64(0), size, http.StatusOK
	if !head {
		for p, header := range responseOverrides {
			if v, ok := rq.query[p]; ok {
				rh.Set(header, v)
			}
		}
		var e *ossError
		// S3 answers ranges as OSS does with x-oss-range-behavior: standard.
		standard := rq.s3 || strings.EqualFold(h.Get("x-oss-range-behavior"), "standard")
		if start, n, status, e = byteRange(h.Get("Range"), standard, size); e != nil {
			rh.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			rq.fail(e)
			return
		}
		if status == http.StatusPartialContent {
			rh.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+n-1, size))
		}
	}
	if rq.s3 {
		rq.s.writeMeta(rh, rq.key, o.info)
	}
	rh.Set("Content-Length", strconv.FormatInt(n, 10))
	rq.w.WriteHeader(status)
	if head {
		return
	}
	if start > 0 {
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return
		}
	}
	_, _ = io.CopyN(rq.w, f, n)
}

// etagMatches tells whether an If-Match or If-None-Match header names etag.
func etagMatches(header, etag string) bool {
	want := strings.Trim(etag, `"`)
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == "*" || strings.EqualFold(strings.Trim(v, `"`), want) {
			return true
		}
	}
	return false
}

// byteRange reads a Range header as OSS does: an invalid or unsatisfiable
// range means the whole object, unless standard (x-oss-range-behavior:
// standard), where an end past the object is cut to it and a start past it
// is refused with 416 InvalidRange.
func byteRange(spec string, standard bool, size int64) (start, n int64, status int, e *ossError) {
	whole := func() (int64, int64, int, *ossError) { return 0, size, http.StatusOK, nil }
	spec, ok := strings.CutPrefix(strings.TrimSpace(spec), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return whole()
	}
	first, last, ok := strings.Cut(spec, "-")
	if !ok {
		return whole()
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	unsatisfiable := func() (int64, int64, int, *ossError) {
		if !standard {
			return whole()
		}
		return 0, 0, 0, &ossError{status: http.StatusRequestedRangeNotSatisfiable, code: "InvalidRange", msg: "The requested range cannot be satisfied",
			extra: [][2]string{{"RangeRequested", "bytes=" + spec}, {"ActualObjectSize", strconv.FormatInt(size, 10)}}}
	}
	if first == "" { // the last n bytes
		suffix, err := strconv.ParseInt(last, 10, 64)
		if err != nil || suffix <= 0 {
			return whole()
		}
		if size == 0 {
			return unsatisfiable()
		}
		if suffix > size {
			if !standard {
				return whole()
			}
			suffix = size
		}
		return size - suffix, suffix, http.StatusPartialContent, nil
	}
	s, err := strconv.ParseInt(first, 10, 64)
	if err != nil || s < 0 {
		return whole()
	}
	end := size - 1
	if last != "" {
		if end, err = strconv.ParseInt(last, 10, 64); err != nil || end < s {
			return whole()
		}
	}
	if s >= size {
		return unsatisfiable()
	}
	if end >= size {
		if !standard && last != "" {
			return whole()
		}
		end = size - 1
	}
	return s, end - s + 1, http.StatusPartialContent, nil
}

func (rq *request) getObjectMeta() {
	if !rq.admitObject(rq.checkKey, "objectMeta") {
		return
	}
	o, err := rq.s.stat(rq.key)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		rq.fail(noSuchKey(rq.key))
		return
	case err != nil:
		rq.fail(internalError(err))
		return
	}
	rh := rq.w.Header()
	rh.Set("ETag", o.etag())
	rh.Set("Last-Modified", o.info.ModTime().UTC().Format(http.TimeFormat))
	rh.Set("Content-Length", strconv.FormatInt(o.info.Size(), 10))
	rh.Set("x-oss-hash-crc64ecma", strconv.FormatUint(o.crc64, 10))
	rq.w.WriteHeader(http.StatusOK)
}

func (rq *request) deleteObject() {
	if !rq.admitObject(rq.checkKey) {
		return
	}
	if err := rq.s.remove(rq.key, true); err != nil {
		rq.fail(internalError(err))
		return
	}
	rq.w.WriteHeader(http.StatusNoContent)
}

const (
	maxDeleteBody    = 2 << 20 // OSS's limit on DeleteMultipleObjects' body
	maxDeleteObjects = 1000
)

var malformedXML = &ossError{status: http.StatusBadRequest, code: "MalformedXML",
	msg: "The XML you provided was not well-formed or did not validate against our published schema."}

type deleteResult struct {
	XMLName      xml.Name      `xml:"DeleteResult"`
	EncodingType string        `xml:"EncodingType,omitempty"`
	Deleted      []deletedItem `xml:"Deleted"`
}

type deletedItem struct {
	Key string `xml:"Key"`
}

func (rq *request) deleteMultipleObjects() {
	if e := rq.allowParams("delete", "encoding-type"); e != nil {
		rq.fail(e)
		return
	}
	encodeURL, e := rq.encodingType()
	if e != nil {
		rq.fail(e)
		return
	}
	wantMD5, e := rq.contentMD5()
	if e != nil {
		rq.fail(e)
		return
	}
	if wantMD5 == nil {
		rq.fail(&ossError{status: http.StatusBadRequest, code: "MissingArgument", msg: "Missing Some Required Arguments.",
			extra: [][2]string{{"ArgumentName", "Content-MD5"}}})
		return
	}
	body, err := io.ReadAll(io.LimitReader(rq.r.Body, maxDeleteBody+1))
	switch {
	case err != nil:
		rq.fail(&ossError{status: http.StatusBadRequest, code: "IncompleteBody", msg: "The request body was not received in full: " + err.Error()})
		return
	case len(body) > maxDeleteBody:
		rq.fail(&ossError{status: http.StatusBadRequest, code: "EntityTooLarge", msg: "Your proposed upload exceeds the maximum allowed size."})
		return
	}
	if sum := md5Sum(body); string(sum) != string(wantMD5) {
		rq.fail(&ossError{status: http.StatusBadRequest, code: "InvalidDigest", msg: "The Content-MD5 you specified did not match what we received."})
		return
	}
	var doc struct {
		XMLName xml.Name `xml:"Delete"`
		Quiet   string   `xml:"Quiet"`
		Objects []struct {
			Key       *string `xml:"Key"`
			VersionID *string `xml:"VersionId"`
		} `xml:"Object"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		rq.fail(malformedXML)
		return
	}
	var quiet bool
	switch strings.ToLower(strings.TrimSpace(doc.Quiet)) {
	case "", "false":
	case "true":
		quiet = true
	default:
		rq.fail(malformedXML)
		return
	}
	if len(doc.Objects) == 0 || len(doc.Objects) > maxDeleteObjects {
		rq.fail(malformedXML)
		return
	}
	keys := make([]string, len(doc.Objects))
	for i, o := range doc.Objects {
		if o.Key == nil {
			rq.fail(malformedXML)
			return
		}
		if o.VersionID != nil {
			rq.fail(notImplemented("osstest does not emulate versioning: DeleteMultipleObjects with a VersionId."))
			return
		}
		// A folder marker ("dir/", which ossfs writes) may be named in a
		// delete: OSS deletes it, or nothing, as it deletes a missing key.
		if why := keyProblem(strings.TrimSuffix(*o.Key, "/")); why != "" {
			rq.fail(invalidObjectName(*o.Key, why))
			return
		}
		keys[i] = *o.Key
	}
	res := deleteResult{}
	if encodeURL {
		res.EncodingType = "url"
	}
	for _, k := range keys {
		var err error
		if dir, ok := strings.CutSuffix(k, "/"); ok {
			// The folder goes once nothing is left in it, as in OSS, where
			// it is only the keys below it.
			if rmErr := syscall.Rmdir(rq.s.file(dir)); rmErr == nil {
				for d := path.Dir(dir); d != "."; d = path.Dir(d) {
					if syscall.Rmdir(rq.s.file(d)) != nil {
						break
					}
				}
			}
		} else {
			err = rq.s.remove(k, true)
		}
		if err != nil {
			rq.fail(internalError(err))
			return
		}
		if !quiet {
			if encodeURL {
				k = uriEncode(k, true)
			}
			res.Deleted = append(res.Deleted, deletedItem{Key: k})
		}
	}
	rq.reply(res)
}

// encodingType reads the encoding-type parameter: whether names in the
// answer are URL-encoded.
func (rq *request) encodingType() (bool, *ossError) {
	switch v, ok := rq.query["encoding-type"]; {
	case !ok:
		return false, nil
	case v == "url":
		return true, nil
	default:
		return false, invalidArgument("The encoding-type parameter must be url.",
			[2]string{"ArgumentName", "encoding-type"}, [2]string{"ArgumentValue", v})
	}
}
