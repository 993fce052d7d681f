package devstack

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
	"github.com/dingtalk-llm/fcrobot/internal/oss"
)

// eventually retries check until it returns nil, for a few times the mounts'
// one-second stat cache.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readIs(path, want string) func() error {
	return func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if string(b) != want {
			return errors.New("reads " + string(b) + ", want " + want)
		}
		return nil
	}
}

func gone(path string) func() error {
	return func() error {
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			return errors.New(path + " is still there")
		}
		return nil
	}
}

// Two reply instances, each on its own s3fs mount of the local OSS API's
// bucket: what one view writes, the other views show.
func TestFUSEMountsAndTheAPIShowTheSameObjects(t *testing.T) {
	if err := FUSEAvailable(); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := t.TempDir()
	if err := BuildFunctions(ctx, bin); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	st, err := Start(ctx, Config{BinDir: bin, DataDir: data, FUSE: true, ReplyInstances: 2})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			st.Close()
		}
	})
	if len(st.Mounts) != 2 || st.Mounts[0] == st.Mounts[1] {
		t.Fatalf("mounts %q, want one per instance", st.Mounts)
	}
	for i, m := range st.Mounts {
		if !isMounted(m) {
			t.Fatalf("%s is not mounted", m)
		}
		if strings.HasPrefix(m, data+string(filepath.Separator)) {
			t.Errorf("mount point %s is inside the bucket folder %s", m, data)
		}
		if got := st.Replies[i].Output(); !strings.Contains(got, m) {
			t.Errorf("%s was not started on its mount %s:\n%s", st.Replies[i].Name, m, got)
		}
	}
	env := st.Env(ReplyFunction)
	objects, err := oss.New(oss.Config{
		Bucket: env["OSS_BUCKET"], Endpoint: env["OSS_ENDPOINT"], Region: env["FC_REGION"],
		Credentials: func(context.Context) (alicloud.Credentials, error) {
			return alicloud.Credentials{AccessKeyID: env["ALIBABA_CLOUD_ACCESS_KEY_ID"],
				AccessKeySecret: env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"], SecurityToken: env["ALIBABA_CLOUD_SECURITY_TOKEN"]}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	m1, m2 := st.Mounts[0], st.Mounts[1]

	// Written through a mount: an object the SDK reads, a file of the
	// bucket folder, a file the other mount shows.
	if err := os.Mkdir(filepath.Join(m1, "notes"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m1, "notes", "a.txt"), []byte("through the mount"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := objects.Read(ctx, "notes/a.txt"); err != nil || string(b) != "through the mount" {
		t.Errorf("the SDK reads %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(data, "notes", "a.txt")); err != nil || string(b) != "through the mount" {
		t.Errorf("the bucket folder holds %q, %v", b, err)
	}
	eventually(t, "the other mount shows the file", readIs(filepath.Join(m2, "notes", "a.txt"), "through the mount"))
	if names, err := objects.List(ctx, "notes", 0); err != nil || !slices.Equal(names, []string{"a.txt"}) {
		t.Errorf("the SDK lists %q, %v", names, err)
	}

	// Put through the SDK: a file both mounts list and read.
	if err := objects.Create(ctx, "history/v1/owner/turns/0001.json", []byte(`{"turn":1}`)); err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Mounts {
		eventually(t, "a mount shows the object", readIs(filepath.Join(m, "history", "v1", "owner", "turns", "0001.json"), `{"turn":1}`))
		entries, err := os.ReadDir(filepath.Join(m, "history", "v1", "owner", "turns"))
		if err != nil || len(entries) != 1 || entries[0].Name() != "0001.json" || entries[0].IsDir() {
			t.Errorf("%s lists %v, %v", m, entries, err)
		}
	}

	// chmod and touch through a mount (copy-object onto itself) keep the
	// content.
	p := filepath.Join(m1, "notes", "a.txt")
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(p, when, when); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(when) {
		t.Errorf("after chmod and touch: %v, %v", fi, err)
	}
	if b, err := objects.Read(ctx, "notes/a.txt"); err != nil || string(b) != "through the mount" {
		t.Errorf("after chmod and touch the SDK reads %q, %v", b, err)
	}

	// Deleted through a mount: the object is gone, and from the other mount.
	if err := os.Remove(filepath.Join(m2, "notes", "a.txt")); err != nil {
		t.Fatal(err)
	}
	if _, err := objects.Read(ctx, "notes/a.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after the delete through the mount the SDK reads: %v", err)
	}
	eventually(t, "the other mount drops the file", gone(filepath.Join(m1, "notes", "a.txt")))
	if err := os.Remove(filepath.Join(m2, "notes")); err != nil {
		t.Errorf("rmdir through the mount: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "notes")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after rmdir through the mount the folder is still there: %v", err)
	}

	// Deleted through the SDK: gone from the mounts.
	if err := objects.Remove(ctx, "history/v1/owner/turns/0001.json"); err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Mounts {
		eventually(t, "a mount drops the deleted object", gone(filepath.Join(m, "history", "v1", "owner", "turns", "0001.json")))
	}

	// Close leaves no mount behind.
	closed = true
	if err := st.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	for _, m := range st.Mounts {
		if isMounted(m) {
			t.Errorf("%s is still mounted after Close", m)
		}
		if _, err := os.Stat(m); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the mount point %s is left behind: %v", m, err)
		}
	}
}

func TestFUSEWithMountOnlyIsRefused(t *testing.T) {
	_, err := Start(context.Background(), Config{DataDir: t.TempDir(), FUSE: true, MountOnly: true})
	if err == nil || !strings.Contains(err.Error(), "MountOnly") {
		t.Errorf("Start: %v, want a refusal naming MountOnly", err)
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	if got := unescapeMountinfo(`/tmp/a\040b\134c`); got != `/tmp/a b\c` {
		t.Errorf("got %q", got)
	}
}
