// Package ossmount reaches the bucket through the folder Function Compute
// mounts it at (OSS_MOUNT_POINT), or through any local folder: a
// bucket.Objects over files, used when OSS_BUCKET is not set. What it
// guarantees next to the OSS API is in package bucket's doc.
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
	"sync/atomic"
	"syscall"
)

// ErrNoMountPoint is wrapped by New's error when the directory (the OSS
// mount point) does not exist or is not a directory.
var ErrNoMountPoint = errors.New("OSS mount point is missing")

// Mount is the bucket's objects as the files under a folder. On a local
// folder its Create is exclusive; on FC's OSS mount it is exclusive within
// one instance only, as ossfs creates a file by a lookup and then an
// upload, with nothing between two instances (docs/protocols.md §12).
type Mount struct {
	root  string
	files fileWriter
}

// New returns the objects under the folder root, once it is checked to be
// there: a function whose OSS mount is missing or misconfigured should say
// so at start, not lose the first message.
func New(root string) (*Mount, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("ossmount: %w: %w", ErrNoMountPoint, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("ossmount: %w: %s is not a directory", ErrNoMountPoint, root)
	}
	return &Mount{root: root}, nil
}

func (m *Mount) path(p string) string { return filepath.Join(m.root, filepath.FromSlash(p)) }

// List implements bucket.Objects.
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

// Read implements bucket.Objects.
func (m *Mount) Read(ctx context.Context, path string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return os.ReadFile(m.path(path))
}

// ReadAtMost is Read, but reads no more than n bytes of the file: a longer
// one gives its first n bytes, so a file far larger than it should be costs
// no more memory than n.
func (m *Mount) ReadAtMost(ctx context.Context, path string, n int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(m.path(path))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

// Create implements bucket.Objects.
func (m *Mount) Create(ctx context.Context, path string, data []byte) error {
	return m.files.createOnce(ctx, m.path(path), data)
}

// Remove implements bucket.Objects.
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

// RemoveAll implements bucket.Objects.
func (m *Mount) RemoveAll(ctx context.Context, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.RemoveAll(m.path(dir)); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// createOnce writes data to a new file at path, only if there is none: an
// existing file yields an error matching fs.ErrExist. The parent directory
// is created when missing; trying the file first saves the slow metadata
// calls of MkdirAll on every write but the first.
//
// Where the file system links files (a local folder), the data is written
// to a temporary file beside path and linked into place: the file appears
// whole or not at all, so a reader never meets it empty, and of two
// writers exactly one wins. ossfs does not link; there the file is created
// exclusively and then written, a reader may meet it empty for a moment
// (readers skip what does not parse), and exclusivity holds within one
// instance only (docs/protocols.md §12).
func (w *fileWriter) createOnce(ctx context.Context, path string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !w.noLinks.Load() {
		err := createByLink(path, data)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return fmt.Errorf("create directory: %w", err)
			}
			err = createByLink(path, data)
		}
		if !errors.Is(err, errLinkUnsupported) {
			return err
		}
		w.noLinks.Store(true)
	}
	return createExclusive(ctx, path, data)
}

// fileWriter creates the files of the mount.
type fileWriter struct {
	// noLinks is set once the file system refuses a link: from then on
	// files are created exclusively instead, without trying to link first.
	noLinks atomic.Bool
}

// tempSuffix ends the name of a file being written, as it ends every
// object's name.
const tempSuffix = ".json"

var errLinkUnsupported = errors.New("the file system does not link files")

// createByLink writes data to a temporary file in path's directory and
// links it to path.
func createByLink(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "tmp-*"+tempSuffix)
	if err != nil {
		return err
	}
	defer func() {
		if rmErr := os.Remove(tmp.Name()); rmErr != nil && err == nil {
			err = fmt.Errorf("remove temporary file: %w", rmErr)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	// No fsync: see createExclusive.
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	err = os.Link(tmp.Name(), path)
	switch {
	case err == nil, errors.Is(err, fs.ErrExist):
		return err
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.ENOTSUP), errors.Is(err, syscall.ENOSYS), errors.Is(err, syscall.EXDEV):
		return fmt.Errorf("%w: %w", errLinkUnsupported, err)
	}
	return fmt.Errorf("link %s: %w", path, err)
}

// createExclusive creates path exclusively, writes data and closes it. On
// any failure after the creation the partial file is removed, so a reader
// never meets it after this returns.
func createExclusive(ctx context.Context, path string, data []byte) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("create directory: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	}
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if err == nil {
			return
		}
		if !closed {
			_ = f.Close() // the write already failed; that error is the one to report
		}
		if rmErr := os.Remove(path); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("remove partial file: %w", rmErr))
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// No fsync: on the OSS mount close is what uploads the object and
	// reports a failed upload, and an fsync first would only add a flush.
	// What an fsync protects, a local disk's blocks through a power cut,
	// the function does not have: its instance's disk is thrown away.
	closed = true
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}
