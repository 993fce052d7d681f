// Package oss is the robot's adapter to Alibaba Cloud OSS's own API, beside
// the mount through which FC shows the bucket to the reply function
// (docs/protocols.md §12). The mount cannot create a file only if it is
// absent across instances (ossfs looks the name up, then uploads); OSS's
// PutObject with x-oss-forbid-overwrite can, and that is what the robot's
// once-only work rests on. Objects reads and writes the same objects the
// mount shows as files: the key of a file is its path below the mounted
// bucket folder.
//
// It speaks through Alibaba's official SDK,
// github.com/aliyun/alibabacloud-oss-go-sdk-v2, and knows nothing of
// DingTalk, FC's invocations or the model.
package oss

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
)

// Config says which bucket folder to reach, and how.
type Config struct {
	// Bucket is the bucket's name (OSS_BUCKET).
	Bucket string
	// Folder is the bucket folder the mount point shows (OSS_BUCKET_PATH):
	// "/" or "" for the whole bucket.
	Folder string
	// Endpoint is the OSS endpoint (OSS_ENDPOINT), a host or a URL; empty
	// means the region's internal endpoint, oss-<region>-internal.aliyuncs.com,
	// which FC reaches without going through the internet.
	Endpoint string
	// Region is the bucket's region (FC_REGION), which V4 signatures name.
	Region string
	// Credentials gives the credentials of each call: the function role's
	// temporary ones.
	Credentials func(ctx context.Context) (alicloud.Credentials, error)
	// HTTPClient, when not nil, makes the requests.
	HTTPClient *http.Client
}

// Objects is the bucket folder through OSS's API: a bucket.Objects.
type Objects struct {
	client *sdk.Client
	bucket string
	prefix string // the folder's key prefix, "" or ending in "/"
}

// New returns the Objects of cfg's bucket folder. It makes no request.
func New(cfg Config) (*Objects, error) {
	switch {
	case cfg.Bucket == "":
		return nil, errors.New("oss: no bucket")
	case cfg.Region == "" && cfg.Endpoint == "":
		return nil, errors.New("oss: neither a region nor an endpoint")
	case cfg.Credentials == nil:
		return nil, errors.New("oss: no credentials")
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = "oss-" + cfg.Region + "-internal.aliyuncs.com"
	}
	region := cfg.Region
	if region == "" {
		region = regionOf(endpoint)
	}
	provider := credentials.CredentialsProviderFunc(func(ctx context.Context) (credentials.Credentials, error) {
		c, err := cfg.Credentials(ctx)
		if err != nil {
			return credentials.Credentials{}, err
		}
		return credentials.Credentials{AccessKeyID: c.AccessKeyID, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken}, nil
	})
	sdkCfg := sdk.LoadDefaultConfig().
		WithCredentialsProvider(provider).
		WithRegion(region).
		WithEndpoint(endpoint).
		WithUsePathStyle(pathStyle(endpoint))
	if cfg.HTTPClient != nil {
		sdkCfg = sdkCfg.WithHttpClient(cfg.HTTPClient)
	}
	prefix := strings.Trim(cfg.Folder, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Objects{client: sdk.NewClient(sdkCfg), bucket: cfg.Bucket, prefix: prefix}, nil
}

// pathStyle tells whether endpoint is addressed path-style
// (<endpoint>/<bucket>/<key>) rather than with the bucket in the host name:
// an http:// endpoint, or one whose host is an IP address or localhost, is a
// local OSS-compatible server that has no names per bucket.
func pathStyle(endpoint string) bool {
	host, scheme := hostOf(endpoint)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	// OSS's own hosts take the bucket in the host name, http:// or not
	// (s.yaml names the mount's endpoint with http://).
	if strings.HasSuffix(host, ".aliyuncs.com") {
		return false
	}
	return scheme == "http" || host == "localhost" || net.ParseIP(host) != nil
}

// hostOf is the host (and port) of endpoint, a URL or a bare host, and
// the URL's scheme, if any.
func hostOf(endpoint string) (host, scheme string) {
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		return u.Host, u.Scheme
	}
	return endpoint, ""
}

// regionOf reads the region out of an Alibaba endpoint
// (oss-cn-hangzhou[-internal].aliyuncs.com); elsewhere, a local server's, any
// region signs.
func regionOf(endpoint string) string {
	host, _ := hostOf(endpoint)
	if r, ok := strings.CutPrefix(host, "oss-"); ok {
		r, _, _ = strings.Cut(r, ".")
		return strings.TrimSuffix(r, "-internal")
	}
	return "cn-local"
}

func (o *Objects) key(path string) string { return o.prefix + strings.TrimPrefix(path, "/") }

// List implements bucket.Objects: one ListObjectsV2 request per 1,000
// names, with "/" as the delimiter.
func (o *Objects) List(ctx context.Context, dir string, limit int) ([]string, error) {
	prefix := o.key(dir)
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	req := &sdk.ListObjectsV2Request{Bucket: &o.bucket, Prefix: &prefix, Delimiter: sdk.Ptr("/"), MaxKeys: 1000}
	if limit > 0 && limit < 1000 {
		req.MaxKeys = int32(limit)
	}
	var names []string
	for {
		res, err := o.client.ListObjectsV2(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("oss: list %s: %w", dir, err)
		}
		for _, c := range res.Contents {
			if name := strings.TrimPrefix(sdk.ToString(c.Key), prefix); name != "" {
				names = append(names, name)
			}
		}
		for _, p := range res.CommonPrefixes {
			if name := strings.TrimSuffix(strings.TrimPrefix(sdk.ToString(p.Prefix), prefix), "/"); name != "" {
				names = append(names, name)
			}
		}
		if !res.IsTruncated || (limit > 0 && len(names) >= limit) || res.NextContinuationToken == nil {
			break
		}
		req.ContinuationToken = res.NextContinuationToken
	}
	slices.Sort(names)
	if limit > 0 && len(names) > limit {
		names = names[:limit]
	}
	return names, nil
}

// Read implements bucket.Objects: a missing object matches
// fs.ErrNotExist.
func (o *Objects) Read(ctx context.Context, path string) ([]byte, error) {
	return o.ReadAtMost(ctx, path, math.MaxInt64)
}

// ReadAtMost is Read, but reads no more than n bytes of the object: a
// longer one gives its first n bytes, and the rest is never received, so an
// object far larger than it should be costs no more memory than n.
func (o *Objects) ReadAtMost(ctx context.Context, path string, n int64) ([]byte, error) {
	res, err := o.client.GetObject(ctx, &sdk.GetObjectRequest{Bucket: &o.bucket, Key: sdk.Ptr(o.key(path))})
	if err != nil {
		if hasCode(err, "NoSuchKey") {
			return nil, fmt.Errorf("oss: read %s: %w", path, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("oss: read %s: %w", path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, n))
	if err != nil {
		return nil, fmt.Errorf("oss: read %s: %w", path, err)
	}
	return data, nil
}

// Create implements bucket.Objects with PutObject and
// x-oss-forbid-overwrite: OSS refuses an existing key with 409
// FileAlreadyExists, atomically across every client, and the error then
// matches fs.ErrExist.
func (o *Objects) Create(ctx context.Context, path string, data []byte) error {
	_, err := o.client.PutObject(ctx, &sdk.PutObjectRequest{
		Bucket: &o.bucket, Key: sdk.Ptr(o.key(path)), Body: bytes.NewReader(data),
		ForbidOverwrite: sdk.Ptr("true"),
	})
	switch {
	case err == nil:
		return nil
	case hasCode(err, "FileAlreadyExists"):
		return fmt.Errorf("oss: create %s: %w", path, fs.ErrExist)
	}
	return fmt.Errorf("oss: create %s: %w", path, err)
}

// Remove implements bucket.Objects. OSS has no folders, only keys that
// share a prefix, and the marker object "<folder>/" that ossfs writes for
// each folder it makes: removing a path removes the object and such a
// marker, so that a folder goes with its last object.
func (o *Objects) Remove(ctx context.Context, path string) error {
	key := o.key(path)
	_, err := o.client.DeleteMultipleObjects(ctx, &sdk.DeleteMultipleObjectsRequest{
		Bucket: &o.bucket, Objects: []sdk.DeleteObject{{Key: sdk.Ptr(key)}, {Key: sdk.Ptr(key + "/")}}, Quiet: true,
	})
	if err != nil {
		return fmt.Errorf("oss: remove %s: %w", path, err)
	}
	return nil
}

// RemoveAll implements bucket.Objects: one listing of up to 1,000 keys
// below dir, markers included, and one DeleteMultipleObjects.
func (o *Objects) RemoveAll(ctx context.Context, dir string) error {
	prefix := o.key(dir) + "/"
	res, err := o.client.ListObjectsV2(ctx, &sdk.ListObjectsV2Request{Bucket: &o.bucket, Prefix: &prefix, MaxKeys: 1000})
	if err != nil {
		return fmt.Errorf("oss: remove %s: %w", dir, err)
	}
	keys := []sdk.DeleteObject{{Key: sdk.Ptr(prefix)}}
	for _, c := range res.Contents {
		keys = append(keys, sdk.DeleteObject{Key: c.Key})
	}
	if _, err := o.client.DeleteMultipleObjects(ctx, &sdk.DeleteMultipleObjectsRequest{Bucket: &o.bucket, Objects: keys, Quiet: true}); err != nil {
		return fmt.Errorf("oss: remove %s: %w", dir, err)
	}
	return nil
}

// ErrVersioned is wrapped by CheckExclusive's error for a bucket with
// versioning enabled or suspended: OSS then keeps every PutObject as a new
// version, x-oss-forbid-overwrite refuses nothing, and two instances would
// both hold a claim.
var ErrVersioned = errors.New("oss: the bucket has versioning: x-oss-forbid-overwrite does not hold on it")

// CheckExclusive asks whether create-if-absent holds on the bucket: it does
// unless the bucket has versioning (GetBucketVersioning, one request, which
// the function's role must be allowed).
func (o *Objects) CheckExclusive(ctx context.Context) error {
	res, err := o.client.GetBucketVersioning(ctx, &sdk.GetBucketVersioningRequest{Bucket: &o.bucket})
	if err != nil {
		return fmt.Errorf("oss: ask for the bucket's versioning: %w", err)
	}
	if status := sdk.ToString(res.VersionStatus); status != "" {
		return fmt.Errorf("%w (versioning %s)", ErrVersioned, status)
	}
	return nil
}

// hasCode reports whether err is OSS's refusal with code.
func hasCode(err error, code string) bool {
	var se *sdk.ServiceError
	return errors.As(err, &se) && se.Code == code
}
