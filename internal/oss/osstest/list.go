package osstest

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

const (
	defaultMaxKeys = 100
	maxMaxKeys     = 1000
	ownerID        = "osstest"
)

type listResultV2 struct {
	XMLName               xml.Name     `xml:"ListBucketResult"`
	XMLNS                 string       `xml:"xmlns,attr,omitempty"` // S3's namespace, for S3 requests
	Name                  string       `xml:"Name"`
	Prefix                string       `xml:"Prefix"`
	ContinuationToken     string       `xml:"ContinuationToken,omitempty"`
	StartAfter            string       `xml:"StartAfter,omitempty"`
	MaxKeys               int          `xml:"MaxKeys"`
	Delimiter             string       `xml:"Delimiter,omitempty"`
	EncodingType          string       `xml:"EncodingType,omitempty"`
	IsTruncated           bool         `xml:"IsTruncated"`
	NextContinuationToken string       `xml:"NextContinuationToken,omitempty"`
	Contents              []contentXML `xml:"Contents"`
	CommonPrefixes        []prefixXML  `xml:"CommonPrefixes"`
	KeyCount              int          `xml:"KeyCount"`
}

type listResultV1 struct {
	XMLName        xml.Name     `xml:"ListBucketResult"`
	XMLNS          string       `xml:"xmlns,attr,omitempty"`
	Name           string       `xml:"Name"`
	Prefix         string       `xml:"Prefix"`
	Marker         string       `xml:"Marker"`
	MaxKeys        int          `xml:"MaxKeys"`
	Delimiter      string       `xml:"Delimiter,omitempty"`
	EncodingType   string       `xml:"EncodingType,omitempty"`
	IsTruncated    bool         `xml:"IsTruncated"`
	NextMarker     string       `xml:"NextMarker,omitempty"`
	Contents       []contentXML `xml:"Contents"`
	CommonPrefixes []prefixXML  `xml:"CommonPrefixes"`
}

type contentXML struct {
	Key          string    `xml:"Key"`
	LastModified string    `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Type         string    `xml:"Type"`
	Size         int64     `xml:"Size"`
	StorageClass string    `xml:"StorageClass"`
	Owner        *ownerXML `xml:"Owner,omitempty"`
}

type ownerXML struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

type prefixXML struct {
	Prefix string `xml:"Prefix"`
}

// page is one answer of a listing.
type page struct {
	contents  []string // keys
	prefixes  []string // common prefixes
	truncated bool
	last      string // the last key or prefix of the page: where the next one starts
}

// paginate lists, from keys (sorted, all starting with prefix), those after
// marker, rolling up with delimiter, at most maxKeys keys and prefixes.
func paginate(keys []string, prefix, delimiter, marker string, maxKeys int) page {
	// A marker that is a common prefix stands for all the keys it rolls up.
	var skip string
	if delimiter != "" && strings.HasPrefix(marker, prefix) {
		rest := marker[len(prefix):]
		if j := strings.Index(rest, delimiter); j >= 0 && j+len(delimiter) == len(rest) {
			skip = marker
		}
	}
	i := sort.SearchStrings(keys, marker)
	if i < len(keys) && keys[i] == marker {
		i++
	}
	var p page
	for ; i < len(keys); i++ {
		k := keys[i]
		if skip != "" && strings.HasPrefix(k, skip) {
			continue
		}
		item, isPrefix := k, false
		if delimiter != "" {
			if j := strings.Index(k[len(prefix):], delimiter); j >= 0 {
				item, isPrefix = k[:len(prefix)+j+len(delimiter)], true
				if item == p.last {
					continue
				}
			}
		}
		if len(p.contents)+len(p.prefixes) == maxKeys {
			p.truncated = true
			break
		}
		if isPrefix {
			p.prefixes = append(p.prefixes, item)
		} else {
			p.contents = append(p.contents, item)
		}
		p.last = item
	}
	return p
}

// listObjects answers ListObjectsV2, or ListObjects (V1) when !v2.
func (rq *request) listObjects(v2 bool) {
	q := rq.query
	var e *ossError
	if v2 {
		e = rq.allowParams("list-type", "prefix", "delimiter", "max-keys", "continuation-token", "start-after", "encoding-type", "fetch-owner")
		if e == nil && q["list-type"] != "2" {
			e = invalidArgument("The list-type parameter must be 2.", [2]string{"ArgumentName", "list-type"}, [2]string{"ArgumentValue", q["list-type"]})
		}
	} else {
		e = rq.allowParams("prefix", "delimiter", "marker", "max-keys", "encoding-type")
	}
	if e != nil {
		rq.fail(e)
		return
	}
	arg := func(name, msg string) *ossError {
		return invalidArgument(msg, [2]string{"ArgumentName", name}, [2]string{"ArgumentValue", q[name]})
	}
	prefix, delimiter := q["prefix"], q["delimiter"]
	if len(prefix) > maxKeyLen {
		rq.fail(arg("prefix", "The prefix must be shorter than 1024 bytes."))
		return
	}
	maxKeys := defaultMaxKeys
	if v, ok := q["max-keys"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxMaxKeys {
			rq.fail(arg("max-keys", "The max-keys parameter must be an integer from 1 to 1000."))
			return
		}
		maxKeys = n
	}
	encodeURL, e := rq.encodingType()
	if e != nil {
		rq.fail(e)
		return
	}
	enc := func(s string) string {
		if encodeURL {
			return uriEncode(s, true)
		}
		return s
	}

	var marker, token string
	var fetchOwner, hasToken bool
	if v2 {
		switch q["fetch-owner"] {
		case "", "false":
		case "true":
			fetchOwner = true
		default:
			rq.fail(arg("fetch-owner", "The fetch-owner parameter must be true or false."))
			return
		}
		if token, hasToken = q["continuation-token"]; hasToken {
			m, err := base64.RawURLEncoding.DecodeString(token)
			if err != nil || token == "" {
				rq.fail(arg("continuation-token", "The continuation token provided is incorrect."))
				return
			}
			marker = string(m)
		} else {
			marker = q["start-after"]
		}
		if len(q["start-after"]) > maxKeyLen {
			rq.fail(arg("start-after", "The start-after parameter must be shorter than 1024 bytes."))
			return
		}
	} else {
		fetchOwner = true
		marker = q["marker"]
		if len(marker) > maxKeyLen {
			rq.fail(arg("marker", "The marker must be shorter than 1024 bytes."))
			return
		}
	}

	keys, err := rq.s.keys(prefix, rq.s3)
	if err != nil {
		rq.fail(internalError(err))
		return
	}
	p := paginate(keys, prefix, delimiter, marker, maxKeys)
	var contents []contentXML
	for _, k := range p.contents {
		stat := rq.s.stat
		if strings.HasSuffix(k, "/") {
			stat = rq.s.statDir // S3 requests list directories as "dir/" objects
		}
		o, err := stat(k)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since listed
		}
		if err != nil {
			rq.fail(internalError(err))
			return
		}
		c := contentXML{
			Key:          enc(k),
			LastModified: o.info.ModTime().UTC().Format("2006-01-02T15:04:05.000Z"),
			ETag:         o.etag(),
			Type:         "Normal",
			Size:         o.info.Size(),
			StorageClass: "Standard",
		}
		if fetchOwner {
			c.Owner = &ownerXML{ID: ownerID, DisplayName: ownerID}
		}
		contents = append(contents, c)
	}
	prefixes := make([]prefixXML, len(p.prefixes))
	for i, cp := range p.prefixes {
		prefixes[i] = prefixXML{Prefix: enc(cp)}
	}
	encoding := ""
	if encodeURL {
		encoding = "url"
	}
	xmlns := ""
	if rq.s3 {
		xmlns = s3Namespace
	}

	if !v2 {
		res := listResultV1{
			XMLNS: xmlns, Name: rq.s.cfg.Bucket, Prefix: enc(prefix), Marker: enc(marker), MaxKeys: maxKeys,
			Delimiter: enc(delimiter), EncodingType: encoding, IsTruncated: p.truncated,
			Contents: contents, CommonPrefixes: prefixes,
		}
		if p.truncated {
			res.NextMarker = enc(p.last)
		}
		rq.reply(res)
		return
	}
	res := listResultV2{
		XMLNS: xmlns, Name: rq.s.cfg.Bucket, Prefix: enc(prefix), StartAfter: enc(q["start-after"]), MaxKeys: maxKeys,
		Delimiter: enc(delimiter), EncodingType: encoding, IsTruncated: p.truncated,
		Contents: contents, CommonPrefixes: prefixes, KeyCount: len(contents) + len(prefixes),
	}
	if hasToken {
		res.ContinuationToken = enc(token)
	}
	if p.truncated {
		res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(p.last))
	}
	rq.reply(res)
}
