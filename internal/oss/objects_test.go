package oss_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
	"github.com/dingtalk-llm/fcrobot/internal/bucket"
	"github.com/dingtalk-llm/fcrobot/internal/oss"
	"github.com/dingtalk-llm/fcrobot/internal/oss/osstest"
	"github.com/dingtalk-llm/fcrobot/internal/ossmount"
)

var role = alicloud.Credentials{AccessKeyID: "STS.test-role", AccessKeySecret: "role-secret-do-not-print", SecurityToken: "role-token"}

// localBucket is a local OSS over a folder, the folder mounted from its
// subfolder "robot", and the Objects of both views.
type localBucket struct {
	mount string
	api   *oss.Objects
	srv   *osstest.Server
}

func newBucket(t *testing.T, creds alicloud.Credentials) localBucket {
	t.Helper()
	dir := t.TempDir()
	srv := osstest.NewServer(osstest.Config{
		Dir: dir, Bucket: "fcrobot-test", Region: "cn-hangzhou",
		AccessKeyID: role.AccessKeyID, AccessKeySecret: role.AccessKeySecret, SecurityToken: role.SecurityToken,
	})
	t.Cleanup(srv.Close)
	api, err := oss.New(oss.Config{
		Bucket: "fcrobot-test", Folder: "/robot/", Endpoint: srv.URL(), Region: "cn-hangzhou",
		Credentials: func(context.Context) (alicloud.Credentials, error) { return creds, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	mount := filepath.Join(dir, "robot")
	if err := os.MkdirAll(mount, 0o755); err != nil {
		t.Fatal(err)
	}
	return localBucket{mount: mount, api: api, srv: srv}
}

func TestTheAPIAndTheMountSeeTheSameObjects(t *testing.T) {
	b := newBucket(t, role)
	ctx := t.Context()
	mount, err := ossmount.New(b.mount)
	if err != nil {
		t.Fatal(err)
	}

	if err := b.api.Create(ctx, "messages/v1/20261123/abc/claim-000000.json", []byte(`{"holder":"a"}`)); err != nil {
		t.Fatal(err)
	}
	if data, err := mount.Read(ctx, "messages/v1/20261123/abc/claim-000000.json"); err != nil || string(data) != `{"holder":"a"}` {
		t.Errorf("the mount reads %q, %v; want what the API wrote", data, err)
	}
	if err := mount.Create(ctx, "messages/v1/20261123/abc/answer.json", []byte("答")); err != nil {
		t.Fatal(err)
	}
	if data, err := b.api.Read(ctx, "messages/v1/20261123/abc/answer.json"); err != nil || string(data) != "答" {
		t.Errorf("the API reads %q, %v; want what the mount wrote", data, err)
	}
	for name, objects := range map[string]bucket.Objects{"api": b.api, "mount": mount} {
		names, err := objects.List(ctx, "messages/v1/20261123/abc", 0)
		if want := []string{"answer.json", "claim-000000.json"}; err != nil || !slices.Equal(names, want) {
			t.Errorf("%s lists %v, %v; want %v", name, names, err, want)
		}
		days, err := objects.List(ctx, "messages/v1", 0)
		if err != nil || !slices.Equal(days, []string{"20261123"}) {
			t.Errorf("%s lists the folders %v, %v", name, days, err)
		}
		if names, err := objects.List(ctx, "nowhere", 0); err != nil || len(names) != 0 {
			t.Errorf("%s lists a missing folder as %v, %v", name, names, err)
		}
	}
	// The key of a file is its path below the mounted folder.
	if _, err := os.Stat(filepath.Join(b.mount, "messages", "v1", "20261123", "abc", "claim-000000.json")); err != nil {
		t.Errorf("the object is not the file below the mounted folder: %v", err)
	}
	if err := b.api.Remove(ctx, "messages/v1/20261123/abc/answer.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := mount.Read(ctx, "messages/v1/20261123/abc/answer.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removed through the API, the mount reads: %v", err)
	}
}

func TestCreateIsExclusiveAcrossClients(t *testing.T) {
	b := newBucket(t, role)
	ctx := t.Context()
	if err := b.api.Create(ctx, "x/claim.json", []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := b.api.Create(ctx, "x/claim.json", []byte("second")); !errors.Is(err, fs.ErrExist) {
		t.Errorf("a second create: %v, want fs.ErrExist", err)
	}
	if _, err := b.api.Read(ctx, "x/missing.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing object: %v, want fs.ErrNotExist", err)
	}
	// Eight instances racing one create: exactly one wins.
	for round := range 10 {
		key := fmt.Sprintf("race/%d.json", round)
		var won atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch err := b.api.Create(ctx, key, fmt.Appendf(nil, "%d", i)); {
				case err == nil:
					won.Add(1)
				case !errors.Is(err, fs.ErrExist):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if n := won.Load(); n != 1 {
			t.Fatalf("round %d: %d of 8 creates won", round, n)
		}
	}
}

func TestListPagesAndLimits(t *testing.T) {
	b := newBucket(t, role)
	ctx := t.Context()
	var want []string
	if err := os.MkdirAll(filepath.Join(b.mount, "many"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 1005 {
		name := fmt.Sprintf("%04d.json", i)
		want = append(want, name)
		if err := os.WriteFile(filepath.Join(b.mount, "many", name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	names, err := b.api.List(ctx, "many", 0)
	if err != nil || !slices.Equal(names, want) {
		t.Errorf("listed %d names (%v); want all %d, in order, past one page", len(names), err, len(want))
	}
	if names, err := b.api.List(ctx, "many", 3); err != nil || len(names) != 3 {
		t.Errorf("a listing limited to 3 gave %d names (%v)", len(names), err)
	}
}

func TestWrongCredentialsAreRefused(t *testing.T) {
	wrong := role
	wrong.SecurityToken = "stale-token"
	b := newBucket(t, wrong)
	err := b.api.Create(t.Context(), "x.json", []byte("x"))
	if err == nil || errors.Is(err, fs.ErrExist) {
		t.Fatalf("a stale token was accepted: %v", err)
	}
	for _, secret := range []string{role.AccessKeySecret, role.SecurityToken} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows a secret: %v", err)
		}
	}
}

func TestNewNeedsABucketARegionAndCredentials(t *testing.T) {
	creds := func(context.Context) (alicloud.Credentials, error) { return role, nil }
	for name, cfg := range map[string]oss.Config{
		"no bucket":              {Region: "cn-hangzhou", Credentials: creds},
		"no region, no endpoint": {Bucket: "b", Credentials: creds},
		"no credentials":         {Bucket: "b", Region: "cn-hangzhou"},
	} {
		if _, err := oss.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := oss.New(oss.Config{Bucket: "b", Region: "cn-hangzhou", Credentials: creds}); err != nil {
		t.Errorf("the region's internal endpoint by default: %v", err)
	}
}

func TestAVersionedBucketIsRefusedForClaims(t *testing.T) {
	if err := newBucket(t, role).api.CheckExclusive(t.Context()); err != nil {
		t.Errorf("an unversioned bucket: %v", err)
	}
	dir := t.TempDir()
	srv := osstest.NewServer(osstest.Config{
		Dir: dir, Bucket: "fcrobot-test", Region: "cn-hangzhou", Versioning: "Enabled",
		AccessKeyID: role.AccessKeyID, AccessKeySecret: role.AccessKeySecret, SecurityToken: role.SecurityToken,
	})
	defer srv.Close()
	api, err := oss.New(oss.Config{
		Bucket: "fcrobot-test", Endpoint: srv.URL(), Region: "cn-hangzhou",
		Credentials: func(context.Context) (alicloud.Credentials, error) { return role, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.CheckExclusive(t.Context()); !errors.Is(err, oss.ErrVersioned) {
		t.Errorf("a versioned bucket: %v, want ErrVersioned", err)
	}
}

// ReadAtMost gives a short object whole and a long one cut at the bound.
func TestReadAtMostStopsAtItsBound(t *testing.T) {
	b := newBucket(t, role)
	ctx := t.Context()
	long := strings.Repeat("0123456789", 100_000)
	if err := b.api.Create(ctx, "x/long.json", []byte(long)); err != nil {
		t.Fatal(err)
	}
	if data, err := b.api.ReadAtMost(ctx, "x/long.json", 1001); err != nil || string(data) != long[:1001] {
		t.Errorf("a long object read at most 1001 bytes: %d bytes, %v; want its first 1001", len(data), err)
	}
	if data, err := b.api.ReadAtMost(ctx, "x/long.json", int64(len(long))+1); err != nil || string(data) != long {
		t.Errorf("an object within the bound: %d bytes, %v; want it whole", len(data), err)
	}
	if _, err := b.api.ReadAtMost(ctx, "x/missing.json", 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing object: %v, want fs.ErrNotExist", err)
	}
}
