package bucket

import (
	"context"
	"path"
)

// Objects is the bucket as a store sees it: objects named by
// slash-separated paths relative to the stores' folder. Two implementations
// see the same objects: the OSS API on the keys below OSS_BUCKET_PATH
// (package oss), and the mount, the files under the mount point (package
// ossmount). What each guarantees is in the package doc.
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
	// receipts, an asker's files waiting for a question).
	RemoveAll(ctx context.Context, dir string) error
}

// pruneBefore removes the objects of dir, among names, whose instant (as
// at reads it from a name) is before ms.
func pruneBefore(ctx context.Context, objects Objects, dir string, names []string, ms int64, at func(name string) (int64, bool)) error {
	for _, n := range names {
		if t, ok := at(n); ok && t < ms {
			if err := objects.Remove(ctx, path.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// boundedReader is Objects that can stop reading an object after n bytes,
// as both implementations can: a file far larger than a store writes (a
// bug, a hand edit) then costs no more memory than the store's bound, which
// matters in a function of 128 MB.
type boundedReader interface {
	// ReadAtMost is Read, but reads no more than n bytes: a longer object
	// gives its first n.
	ReadAtMost(ctx context.Context, path string, n int64) ([]byte, error)
}

// readAtMost reads at most n bytes of the object at p: through
// ReadAtMost where objects has it, else whole and then cut.
func readAtMost(ctx context.Context, objects Objects, p string, n int64) ([]byte, error) {
	if b, ok := objects.(boundedReader); ok {
		return b.ReadAtMost(ctx, p, n)
	}
	data, err := objects.Read(ctx, p)
	if int64(len(data)) > n {
		data = data[:n]
	}
	return data, err
}
