package ossmount_test

import (
	"errors"
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
