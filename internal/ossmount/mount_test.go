package ossmount_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dingtalk-llm/fcrobot/internal/ossmount"
)

func TestNewNeedsTheMountPoint(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, root := range map[string]string{
		"missing":         filepath.Join(dir, "nowhere"),
		"not a directory": file,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ossmount.New(root)
			if !errors.Is(err, ossmount.ErrNoMountPoint) {
				t.Fatalf("New(%s) error = %v, want ErrNoMountPoint", root, err)
			}
			if !strings.Contains(err.Error(), "OSS mount point") || !strings.Contains(err.Error(), root) {
				t.Errorf("error %q should name the OSS mount point and the path", err)
			}
		})
	}
	if _, err := ossmount.New(dir); err != nil {
		t.Errorf("New(%s): %v", dir, err)
	}
}

// ReadAtMost gives a short file whole and a long one cut at the bound.
func TestReadAtMostStopsAtItsBound(t *testing.T) {
	m, err := ossmount.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	long := strings.Repeat("0123456789", 100_000)
	if err := m.Create(ctx, "x/long.json", []byte(long)); err != nil {
		t.Fatal(err)
	}
	if data, err := m.ReadAtMost(ctx, "x/long.json", 1001); err != nil || string(data) != long[:1001] {
		t.Errorf("a long file read at most 1001 bytes: %d bytes, %v; want its first 1001", len(data), err)
	}
	if data, err := m.ReadAtMost(ctx, "x/long.json", int64(len(long))+1); err != nil || string(data) != long {
		t.Errorf("a file within the bound: %d bytes, %v; want it whole", len(data), err)
	}
	if _, err := m.ReadAtMost(ctx, "x/missing.json", 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
	}
}
