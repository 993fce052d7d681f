package osstest

import (
	"crypto/md5"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"unicode/utf8"
)

// The files of the bucket: the object with key k is the regular file
// <dir>/k. Directories are not objects, and a directory stands for a "folder"
// only while some file is below it. Symbolic links are neither objects nor
// followed.

const (
	// StagingDir is the directory of Dir where uploads are written before
	// they are linked into place; it is not part of the bucket, and a test
	// that looks at Dir's files leaves it out.
	StagingDir = ".osstest-tmp"
	// maxKeyLen is OSS's limit on the length of a key, in bytes.
	maxKeyLen = 1023
	// maxNameLen is the file system's limit on each segment of a key.
	maxNameLen = 255
	// maxPutSize is OSS's limit on the body of a PutObject.
	maxPutSize = 5 << 30
)

var crcTable = crc64.MakeTable(crc64.ECMA)

// errConflict is a key the file system cannot hold beside the others: a
// file where the key needs a directory, or a directory where it needs a
// file.
var errConflict = errors.New("conflict")

// keyProblem tells why key cannot be an object's key, or "".
func keyProblem(key string) string {
	switch {
	case key == "":
		return "The object name is empty."
	case len(key) > maxKeyLen:
		return fmt.Sprintf("The object name is %d bytes long; OSS allows at most %d.", len(key), maxKeyLen)
	case !utf8.ValidString(key):
		return "The object name is not valid UTF-8."
	case strings.IndexByte(key, 0) >= 0:
		return "The object name contains a NUL byte."
	case key[0] == '/' || key[0] == '\\':
		return "The object name must not start with '/' or '\\'."
	case strings.HasSuffix(key, "/"):
		return "osstest does not emulate objects whose name ends in '/' (folder markers): its objects are files."
	}
	for i, seg := range strings.Split(key, "/") {
		switch {
		case seg == "":
			return "The object name contains an empty path segment ('//')."
		case seg == "." || seg == "..":
			return "The object name contains a '.' or '..' path segment."
		case len(seg) > maxNameLen:
			return fmt.Sprintf("osstest keeps objects as files: a segment of the object name between '/' may be at most %d bytes.", maxNameLen)
		case i == 0 && seg == StagingDir:
			return "osstest reserves the prefix " + StagingDir + "/ for its uploads in progress."
		}
	}
	return ""
}

func invalidObjectName(key, why string) *ossError {
	return &ossError{status: 400, code: "InvalidObjectName", msg: why, extra: [][2]string{{"ObjectName", key}}}
}

func conflictError(key string) *ossError {
	return invalidObjectName(key, "osstest keeps objects as files: an object cannot be named both "+
		"as a file and as a folder of other objects (the key is, or is below, another object's name, or other objects are below it).")
}

// file is the path of key's file.
func (s *Server) file(key string) string { return filepath.Join(s.dir, filepath.FromSlash(key)) }

// checkParents returns nil when every parent of key's file is a directory
// (not a link): fs.ErrNotExist when one is missing, errConflict when one is
// something else.
func (s *Server) checkParents(key string) error {
	segs := strings.Split(key, "/")
	for i := 1; i < len(segs); i++ {
		fi, err := os.Lstat(s.file(strings.Join(segs[:i], "/")))
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return errConflict
		}
	}
	return nil
}

// makeParents creates the missing parents of key's file.
func (s *Server) makeParents(key string) error {
	segs := strings.Split(key, "/")
	for i := 1; i < len(segs); i++ {
		p := s.file(strings.Join(segs[:i], "/"))
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if err = os.Mkdir(p, 0o755); err == nil || errors.Is(err, fs.ErrExist) {
				fi, err = os.Lstat(p)
			}
		}
		if err != nil {
			if errors.Is(err, syscall.ENOTDIR) {
				return errConflict
			}
			return err
		}
		if !fi.IsDir() {
			return errConflict
		}
	}
	return nil
}

// object is what a file tells of its object.
type object struct {
	key   string
	info  fs.FileInfo
	md5   []byte
	crc64 uint64
}

func (o *object) etag() string { return `"` + strings.ToUpper(fmt.Sprintf("%x", o.md5)) + `"` }

// open opens key's file, with its hashes: fs.ErrNotExist when key is not an
// object.
func (s *Server) open(key string) (*os.File, *object, error) {
	if err := s.checkParents(key); err != nil {
		return nil, nil, fs.ErrNotExist
	}
	p := s.file(key)
	if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
		return nil, nil, fs.ErrNotExist
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fs.ErrNotExist
		}
		return nil, nil, err
	}
	o, err := hashFile(f, key)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, o, nil
}

// stat is key's object, without keeping its file open.
func (s *Server) stat(key string) (*object, error) {
	f, o, err := s.open(key)
	if err != nil {
		return nil, err
	}
	f.Close()
	return o, nil
}

func hashFile(f *os.File, key string) (*object, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fs.ErrNotExist
	}
	m, c := md5.New(), crc64.New(crcTable)
	if _, err := io.CopyN(io.MultiWriter(m, c), f, fi.Size()); err != nil {
		return nil, err
	}
	return &object{key: key, info: fi, md5: m.Sum(nil), crc64: c.Sum64()}, nil
}

// tempFile creates a file in the temporary directory, which a concurrent
// put may be removing.
func (s *Server) tempFile() (*os.File, error) {
	dir := filepath.Join(s.dir, StagingDir)
	var err error
	for range 100 {
		if err = os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		var f *os.File
		if f, err = os.CreateTemp(dir, "put-*"); err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, err
}

// put writes body as key's object, atomically; with forbidOverwrite it
// refuses an existing object, also atomically. wantMD5, when not nil, is the
// Content-MD5 the body must have.
func (s *Server) put(key string, body io.Reader, forbidOverwrite bool, wantMD5 []byte) (*object, *ossError) {
	f, err := s.tempFile()
	if err != nil {
		return nil, internalError(err)
	}
	tmp := f.Name()
	defer func() {
		_ = os.Remove(tmp)
		_ = os.Remove(filepath.Dir(tmp)) // only if empty: keep Dir as the objects leave it
	}()
	m, c := md5.New(), crc64.New(crcTable)
	n, err := io.Copy(io.MultiWriter(f, m, c), io.LimitReader(body, maxPutSize+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case n > maxPutSize:
		return nil, &ossError{status: 400, code: "EntityTooLarge", msg: "Your proposed upload exceeds the maximum allowed size."}
	case err != nil:
		return nil, &ossError{status: 400, code: "IncompleteBody", msg: "The request body was not received in full: " + err.Error()}
	}
	sum := m.Sum(nil)
	if wantMD5 != nil && string(wantMD5) != string(sum) {
		return nil, &ossError{status: 400, code: "InvalidDigest", msg: "The Content-MD5 you specified did not match what we received."}
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return nil, internalError(err)
	}

	p := s.file(key)
	for attempt := 0; ; attempt++ {
		if err := s.makeParents(key); err != nil {
			if err == errConflict {
				return nil, conflictError(key)
			}
			return nil, internalError(err)
		}
		if forbidOverwrite {
			// link(2) creates the name only if it is absent: the
			// check-and-create of x-oss-forbid-overwrite.
			err = os.Link(tmp, p)
		} else {
			err = os.Rename(tmp, p)
		}
		if err == nil {
			break
		}
		if errors.Is(err, fs.ErrNotExist) && attempt < 100 {
			continue // a delete removed the parent, now empty, meanwhile
		}
		if fi, lerr := os.Lstat(p); lerr == nil {
			switch {
			case fi.IsDir():
				return nil, conflictError(key)
			case forbidOverwrite && errors.Is(err, fs.ErrExist) && fi.Mode().IsRegular():
				return nil, &ossError{status: 409, code: "FileAlreadyExists", msg: "The object you specified already exists and can not be overwritten.",
					extra: [][2]string{{"ObjectName", key}}}
			}
		}
		if errors.Is(err, syscall.ENOTDIR) {
			return nil, conflictError(key)
		}
		return nil, internalError(err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, internalError(err)
	}
	return &object{key: key, info: fi, md5: sum, crc64: c.Sum64()}, nil
}

// remove deletes key's object, if there is one, and with prune the parents
// it leaves empty: OSS has no folders. (S3 requests do not prune: there a
// directory is a "dir/" object of its own.)
func (s *Server) remove(key string, prune bool) error {
	if s.checkParents(key) != nil {
		return nil
	}
	p := s.file(key)
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	s.forgetMeta(key)
	if !prune {
		return nil
	}
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		if syscall.Rmdir(s.file(dir)) != nil {
			break // not empty (or gone)
		}
	}
	return nil
}

// keys lists the keys of the objects whose key starts with prefix, in byte
// order; with dirs (S3 requests), each directory is an object too, named
// "dir/".
func (s *Server) keys(prefix string, dirs bool) ([]string, error) {
	base := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		base = prefix[:i]
		if keyProblem(base) != "" || s.checkParents(base+"/x") != nil {
			return nil, nil
		}
	}
	root := s.file(base)
	if base == "" {
		root = s.dir
	}
	var keys []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // gone meanwhile, or no such folder
			}
			return err
		}
		if p == root {
			if !d.IsDir() {
				return fs.SkipAll
			}
			if dirs && base != "" && strings.HasPrefix(base+"/", prefix) {
				keys = append(keys, base+"/")
			}
			return nil
		}
		rel, err := filepath.Rel(s.dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			dk := key + "/"
			if key == StagingDir || !strings.HasPrefix(dk, prefix) && !strings.HasPrefix(prefix, dk) {
				return fs.SkipDir
			}
			if dirs && strings.HasPrefix(dk, prefix) && keyProblem(key) == "" {
				keys = append(keys, dk)
			}
			return nil
		}
		if d.Type().IsRegular() && strings.HasPrefix(key, prefix) && keyProblem(key) == "" {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(keys)
	return keys, nil
}
