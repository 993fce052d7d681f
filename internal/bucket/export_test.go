package bucket

import (
	"context"
	"fmt"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
	"github.com/dingtalk-llm/fcrobot/internal/oss"
	"github.com/dingtalk-llm/fcrobot/internal/oss/osstest"
	"github.com/dingtalk-llm/fcrobot/internal/ossmount"
)

// What the tests of this package look at beyond its API.

// Has reports whether a turn for messageID is stored for owner, whether or
// not a later Clear hides it. A torn file does not count.
func (h *History) Has(ctx context.Context, owner, messageID string) (bool, error) {
	if owner == "" || messageID == "" {
		return false, fmt.Errorf("bucket: has: %w: empty owner or message id", ErrInvalidArgument)
	}
	dirs := dirsOf(owner)
	files, err := h.listTurns(ctx, dirs)
	if err != nil {
		return false, fmt.Errorf("bucket: has: %w", err)
	}
	found, err := h.findTurn(ctx, dirs, files, messageID)
	if err != nil {
		return false, fmt.Errorf("bucket: has: %w", err)
	}
	return found, nil
}

// WaitPruning waits for the prunings Save started.
func (h *History) WaitPruning() { h.pruning.Wait() }

// MountAt is the objects under the folder root, through the mount.
func MountAt(tb testing.TB, root string) Objects {
	tb.Helper()
	m, err := ossmount.New(root)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// APIAt is the objects of a bucket folder through the OSS API, as the reply
// function reaches them with OSS_BUCKET set, served by the local
// OSS-compatible server (package osstest) over the folder dir; the server
// counts the requests.
func APIAt(tb testing.TB, dir string) (Objects, *osstest.Server) {
	tb.Helper()
	creds := alicloud.Credentials{AccessKeyID: "STS.test-role", AccessKeySecret: "role-secret", SecurityToken: "role-token"}
	srv := osstest.NewServer(osstest.Config{
		Dir: dir, Bucket: "fcrobot-test", Region: "cn-hangzhou",
		AccessKeyID: creds.AccessKeyID, AccessKeySecret: creds.AccessKeySecret, SecurityToken: creds.SecurityToken,
	})
	tb.Cleanup(srv.Close)
	api, err := oss.New(oss.Config{
		Bucket: "fcrobot-test", Folder: "/robot/", Endpoint: srv.URL(), Region: "cn-hangzhou",
		Credentials: func(context.Context) (alicloud.Credentials, error) { return creds, nil },
	})
	if err != nil {
		tb.Fatal(err)
	}
	return api, srv
}

// eachWay runs test over both ways to the bucket (see the package doc):
// the OSS API and the mount, each over a fresh folder.
func eachWay(t *testing.T, test func(t *testing.T, objects Objects)) {
	t.Run("api", func(t *testing.T) {
		api, _ := APIAt(t, t.TempDir())
		test(t, api)
	})
	t.Run("mount", func(t *testing.T) { test(t, MountAt(t, t.TempDir())) })
}

// Both ways read no more of a file than a store's bound.
var (
	_ boundedReader = (*oss.Objects)(nil)
	_ boundedReader = (*ossmount.Mount)(nil)
)
