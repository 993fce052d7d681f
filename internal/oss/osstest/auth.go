package osstest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

const (
	algorithmV4     = "OSS4-HMAC-SHA256"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	v4DateTime      = "20060102T150405Z"
)

// authenticate verifies the request's signature and credentials as OSS
// does: nil when they are the Server's.
func (rq *request) authenticate() *ossError {
	r := rq.r
	if rq.s3 {
		return rq.authenticateS3()
	}
	if _, ok := rq.query["x-oss-signature"]; ok {
		return notImplemented("osstest does not emulate signatures in the URL (presigned requests).")
	}
	if _, ok := rq.query["OSSAccessKeyId"]; ok {
		return notImplemented("osstest does not emulate signatures in the URL (presigned requests).")
	}
	auth := r.Header.Get("Authorization")
	switch {
	case auth == "":
		return &ossError{status: http.StatusForbidden, code: "AccessDenied", msg: "You have no right to access this object because of bucket acl."}
	case strings.HasPrefix(auth, algorithmV4+" "):
		return rq.verifyV4(strings.TrimPrefix(auth, algorithmV4+" "))
	case strings.HasPrefix(auth, "OSS "):
		return rq.verifyV1(strings.TrimPrefix(auth, "OSS "))
	}
	return invalidArgument("Authorization header is invalid.", [2]string{"Authorization", auth})
}

// checkCredentials refuses an access key or a security token that are not
// the Server's.
func (rq *request) checkCredentials(accessKeyID string) *ossError {
	cfg := rq.s.cfg
	if subtle.ConstantTimeCompare([]byte(accessKeyID), []byte(cfg.AccessKeyID)) != 1 {
		return &ossError{status: http.StatusForbidden, code: "InvalidAccessKeyId",
			msg:   "The OSS Access Key Id you provided does not exist in our records.",
			extra: [][2]string{{"OSSAccessKeyId", accessKeyID}}}
	}
	tokenHeader := "x-oss-security-token"
	if rq.s3 {
		tokenHeader = "x-amz-security-token"
	}
	token := rq.r.Header.Get(tokenHeader)
	switch {
	case cfg.SecurityToken != "" && token == "":
		return &ossError{status: http.StatusForbidden, code: "InvalidSecurityToken",
			msg: "The security token you provided is invalid: these are temporary credentials, and the request carries no " + tokenHeader + "."}
	case subtle.ConstantTimeCompare([]byte(token), []byte(cfg.SecurityToken)) != 1:
		return &ossError{status: http.StatusForbidden, code: "InvalidSecurityToken", msg: "The security token you provided is invalid."}
	}
	return nil
}

// checkTime refuses a request signed too far from now.
func (rq *request) checkTime(t time.Time) *ossError {
	now := time.Now()
	if d := now.Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return &ossError{status: http.StatusForbidden, code: "RequestTimeTooSkewed",
			msg: "The difference between the request time and the current time is too large.",
			extra: [][2]string{
				{"RequestTime", t.UTC().Format("2006-01-02T15:04:05.000Z")},
				{"ServerTime", now.UTC().Format("2006-01-02T15:04:05.000Z")},
				{"MaxAllowedSkewMilliseconds", fmt.Sprint(maxClockSkew.Milliseconds())},
			}}
	}
	return nil
}

// resource is the request's bucket and key as signatures name them:
// "/<bucket>/<key>", "/<bucket>/" or "/", whatever the addressing style.
func (rq *request) resource() string {
	if !rq.hasBucket {
		return "/"
	}
	return "/" + rq.bucket + "/" + rq.key
}

// verifyV4 checks an OSS4-HMAC-SHA256 Authorization header (auth without
// its algorithm).
func (rq *request) verifyV4(auth string) *ossError {
	r := rq.r
	cfg := rq.s.cfg
	fields := map[string]string{}
	for _, part := range strings.Split(auth, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return invalidArgument("Authorization header is invalid.", [2]string{"Authorization", algorithmV4 + " " + auth})
		}
		fields[k] = v
	}
	credential, signature := fields["Credential"], fields["Signature"]
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || signature == "" {
		return invalidArgument("Authorization header is invalid: it needs Credential=<AccessKeyId>/<date>/<region>/oss/aliyun_v4_request and Signature.",
			[2]string{"Authorization", algorithmV4 + " " + auth})
	}
	accessKeyID, date, region, product, terminator := scope[0], scope[1], scope[2], scope[3], scope[4]
	if e := rq.checkCredentials(accessKeyID); e != nil {
		return e
	}
	xdate := r.Header.Get("x-oss-date")
	t, err := time.Parse(v4DateTime, xdate)
	if err != nil {
		return invalidArgument("V4 signatures need the x-oss-date header, in the form 20060102T150405Z.", [2]string{"x-oss-date", xdate})
	}
	if e := rq.checkTime(t); e != nil {
		return e
	}
	payload := r.Header.Get("x-oss-content-sha256")
	if payload != unsignedPayload {
		return invalidArgument("V4 signatures need the header x-oss-content-sha256: UNSIGNED-PAYLOAD.", [2]string{"x-oss-content-sha256", payload})
	}
	var additional []string
	if a := fields["AdditionalHeaders"]; a != "" {
		additional = strings.Split(strings.ToLower(a), ";")
	}
	canonical := rq.canonicalRequestV4(additional, payload)
	sum := sha256.Sum256([]byte(canonical))
	stringToSign := algorithmV4 + "\n" + xdate + "\n" + date + "/" + region + "/" + product + "/" + terminator + "\n" + hex.EncodeToString(sum[:])

	mismatch := func(msg string) *ossError {
		return &ossError{status: http.StatusForbidden, code: "SignatureDoesNotMatch", msg: msg, extra: [][2]string{
			{"OSSAccessKeyId", accessKeyID},
			{"SignatureProvided", signature},
			{"StringToSign", stringToSign},
			{"StringToSignBytes", hexBytes(stringToSign)},
			{"CanonicalRequest", canonical},
			{"CanonicalRequestBytes", hexBytes(canonical)},
		}}
	}
	switch {
	case date != xdate[:8]:
		return mismatch(fmt.Sprintf("The date of the credential scope, %s, is not the day of x-oss-date, %s.", date, xdate))
	case region != cfg.Region:
		return mismatch(fmt.Sprintf("The region of the credential scope, %s, is not the bucket's, %s.", region, cfg.Region))
	case product != "oss" || terminator != "aliyun_v4_request":
		return mismatch("The credential scope must end in /oss/aliyun_v4_request.")
	}
	key := hmacSHA256([]byte("aliyun_v4"+cfg.AccessKeySecret), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, product)
	key = hmacSHA256(key, terminator)
	want := hex.EncodeToString(hmacSHA256(key, stringToSign))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(signature))) {
		return mismatch("The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	}
	return nil
}

// canonicalRequestV4 is the canonical request of OSS's V4 signature.
func (rq *request) canonicalRequestV4(additional []string, payload string) string {
	r := rq.r
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(uriEncode(rq.resource(), false))
	b.WriteByte('\n')

	// Query: names and values URI-encoded, sorted by name; "name" alone for
	// an empty value.
	values := map[string]string{}
	var names []string
	for _, p := range rq.rawQuery {
		n := uriEncode(p.name, true)
		if _, seen := values[n]; !seen {
			names = append(names, n)
		}
		values[n] = uriEncode(p.value, true)
	}
	sort.Strings(names)
	for i, n := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(n)
		if v := values[n]; v != "" {
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	b.WriteByte('\n')

	// Headers: x-oss-*, Content-Type and Content-MD5, and the additional
	// ones the client listed.
	signed := map[string][]string{}
	for k, vs := range r.Header {
		low := strings.ToLower(k)
		if strings.HasPrefix(low, "x-oss-") || low == "content-type" || low == "content-md5" {
			signed[low] = vs
		}
	}
	for _, a := range additional {
		if a == "host" {
			signed[a] = []string{r.Host}
		} else if vs := r.Header.Values(a); len(vs) > 0 {
			signed[a] = vs
		}
	}
	headers := make([]string, 0, len(signed))
	for k := range signed {
		headers = append(headers, k)
	}
	sort.Strings(headers)
	for _, k := range headers {
		vs := make([]string, len(signed[k]))
		for i, v := range signed[k] {
			vs[i] = strings.TrimSpace(v)
		}
		b.WriteString(k)
		b.WriteByte(':')
		b.WriteString(strings.Join(vs, ","))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(additional, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String()
}

// v1SignedParameters are the query parameters that V1 signatures sign, as
// OSS documents them (and x-oss-* ones).
var v1SignedParameters = map[string]bool{
	"acl": true, "bucketInfo": true, "location": true, "stat": true, "delete": true, "append": true,
	"tagging": true, "objectMeta": true, "uploads": true, "uploadId": true, "partNumber": true,
	"security-token": true, "position": true, "response-content-type": true,
	"response-content-language": true, "response-expires": true, "response-cache-control": true,
	"response-content-disposition": true, "response-content-encoding": true, "restore": true,
	"callback": true, "callback-var": true, "versions": true, "versioning": true, "versionId": true,
	"sequential": true, "continuation-token": true, "regionList": true, "cloudboxes": true, "symlink": true,
}

// verifyV1 checks an "OSS <AccessKeyId>:<signature>" Authorization header
// (auth without "OSS ").
func (rq *request) verifyV1(auth string) *ossError {
	r := rq.r
	accessKeyID, signature, ok := strings.Cut(auth, ":")
	if !ok || signature == "" {
		return invalidArgument("Authorization header is invalid.", [2]string{"Authorization", "OSS " + auth})
	}
	if e := rq.checkCredentials(accessKeyID); e != nil {
		return e
	}
	date := r.Header.Get("Date")
	t, err := http.ParseTime(date)
	if err != nil {
		return &ossError{status: http.StatusForbidden, code: "AccessDenied", msg: "OSS authentication requires a valid Date."}
	}
	if e := rq.checkTime(t); e != nil {
		return e
	}

	var b strings.Builder
	b.WriteString(r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" + date + "\n")
	var headers []string
	for k := range r.Header {
		if low := strings.ToLower(k); strings.HasPrefix(low, "x-oss-") {
			headers = append(headers, low)
		}
	}
	sort.Strings(headers)
	for _, k := range headers {
		vs := r.Header.Values(k)
		trimmed := make([]string, len(vs))
		for i, v := range vs {
			trimmed[i] = strings.TrimSpace(v)
		}
		b.WriteString(k + ":" + strings.Join(trimmed, ",") + "\n")
	}
	b.WriteString(rq.resource())
	var params []string
	for name := range rq.query {
		if v1SignedParameters[name] || strings.HasPrefix(name, "x-oss-") {
			params = append(params, name)
		}
	}
	sort.Strings(params)
	for i, name := range params {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(name)
		if v := rq.query[name]; v != "" {
			b.WriteString("=" + v)
		}
	}
	stringToSign := b.String()
	mac := hmac.New(sha1.New, []byte(rq.s.cfg.AccessKeySecret))
	mac.Write([]byte(stringToSign))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return &ossError{status: http.StatusForbidden, code: "SignatureDoesNotMatch",
			msg: "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
			extra: [][2]string{
				{"OSSAccessKeyId", accessKeyID},
				{"SignatureProvided", signature},
				{"StringToSign", stringToSign},
				{"StringToSignBytes", hexBytes(stringToSign)},
			}}
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(data))
	return mac.Sum(nil)
}

// uriEncode percent-encodes s but for the unreserved characters, and "/"
// unless encodeSlash.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '/' && !encodeSlash {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// hexBytes is s as OSS shows it in StringToSignBytes: hex bytes, spaced.
func hexBytes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%02x ", s[i])
	}
	return strings.TrimSpace(b.String())
}
