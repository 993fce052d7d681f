package ossmount

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
)

// Objects is the bucket as a store sees it: objects named by
// slash-separated paths relative to the mount's root, which the mount shows
// as files under the mount point. Two implementations see the same
// objects: Mount, the files under the mount point, and the OSS API on the
// keys below the mounted bucket path (package oss), which is what makes
// "create if absent" hold across instances (docs/protocols.md §12).
type Objects interface {
	// List returns the names (not paths) of what is directly in dir, the
	// objects and the folders that hold objects, sorted; a missing dir is
	// empty. A limit above 0 returns at most that many names, not
	// necessarily the first ones.
	List(ctx context.Context, dir string, limit int) ([]string, error)
	// Read returns an object's content; a missing object is an error
	// matching fs.ErrNotExist.
	Read(ctx context.Context, path string) ([]byte, error)
	// Create writes a new object at path, whole, only if there is none:
	// an existing one is an error matching fs.ErrExist and is left as it
	// was.
	Create(ctx context.Context, path string, data []byte) error
	// Remove removes the object at path, or the folder at path once it is
	// empty; a missing one is no error.
	Remove(ctx context.Context, path string) error
	// RemoveAll removes the folder at dir and everything below it, in a
	// request or two whatever it holds: its objects are few (a message's
	// receipts).
	RemoveAll(ctx context.Context, dir string) error
}

// Mount is Objects over the mount point itself. On a local folder its
// Create is exclusive; on FC's OSS mount it is exclusive within one
// instance only, as ossfs creates a file by a lookup and then an upload,
// with nothing between two instances (docs/protocols.md §12).
type Mount struct {
	root  string
	files fileWriter
}

// NewMount returns the Objects of the mount point root.
func NewMount(root string) *Mount { return &Mount{root: root} }

func (m *Mount) path(p string) string { return filepath.Join(m.root, filepath.FromSlash(p)) }

// List implements Objects.
func (m *Mount) List(ctx context.Context, dir string, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(m.path(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(limit)
	if err != nil && !(errors.Is(err, io.EOF) && limit > 0) {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	slices.Sort(names)
	return names, nil
}

// Read implements Objects.
func (m *Mount) Read(ctx context.Context, path string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return os.ReadFile(m.path(path))
}

// Create implements Objects.
func (m *Mount) Create(ctx context.Context, path string, data []byte) error {
	return m.files.createOnce(ctx, m.path(path), data)
}

// Remove implements Objects.
func (m *Mount) Remove(ctx context.Context, path string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// A folder that is not empty yet (a file written after the listing)
	// stays, to be removed by a later step.
	if err := os.Remove(m.path(path)); err != nil && !errors.Is(err, fs.ErrNotExist) && !isNotEmpty(err) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// isNotEmpty reports whether err says a folder still holds something.
func isNotEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}

// RemoveAll implements Objects.
func (m *Mount) RemoveAll(ctx context.Context, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.RemoveAll(m.path(dir)); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}
