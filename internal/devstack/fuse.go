package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/alicloud"
	"github.com/dingtalk-llm/fcrobot/internal/oss/osstest"
)

// FUSE mounts (Config.FUSE). FC mounts the bucket into each instance of the
// reply function with ossfs, Alibaba's fork of s3fs-fuse; the stack mounts
// the local OSS API's bucket into each reply instance with s3fs-fuse
// itself, speaking S3 to osstest's S3 mode on the same folder. The options
// (s3fsOptions) follow an ossfs mount as far as s3fs and the fake allow:
//
//   - url=<local OSS API>, use_path_request_style: FC's ossfs reaches
//     oss-<region>-internal.aliyuncs.com with virtual-hosted requests; the
//     fake listens on 127.0.0.1, which only path-style requests can address.
//   - endpoint=<region>, sigv4, use_session_token and the function role's
//     temporary credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
//     AWS_SESSION_TOKEN: FC mounts with the role's STS credentials too, but
//     ossfs signs OSS's way; osstest verifies AWS Signature Version 4 by the
//     same key and token.
//   - stat_cache_expire=1: s3fs, and ossfs, cache each stat for 900 s by
//     default, so that a file another instance (or the API) created or
//     deleted may be seen late or not at all. FC does not publish the cache
//     options of its mount; the robot does not rely on the mount to see
//     other instances' writes (it reads and writes through the API when
//     OSS_BUCKET is set), and one second keeps the tests that compare the
//     two views short. Missing names are never cached (enable_noobj_cache
//     is left off), and listings always ask the server.
//   - nomultipart: osstest does not emulate multipart uploads; the robot's
//     files are a few kilobytes, far below s3fs's 10 MB part size.
//   - connect_timeout and readwrite_timeout of seconds, not minutes, so that
//     an unmount never waits long on a stopped server; allow_other (as
//     root) so that every local user sees the files, as every process of an
//     FC instance does.
//   - -f: s3fs runs in the foreground, as a child the stack stops, and with
//     PR_SET_PDEATHSIG it gets SIGTERM if the test binary dies, on which
//     libfuse unmounts; Close unmounts with fusermount3 -u (or umount),
//     within a bounded wait, lazily if it must.

// fuseMount is one s3fs mount.
type fuseMount struct {
	dir  string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	err  error // valid once done is closed
}

// lockedBuffer is an io.Writer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// mountTimeout bounds the wait for s3fs to mount; unmountTimeout the wait
// for a mount to go.
const (
	mountTimeout   = 20 * time.Second
	unmountTimeout = 10 * time.Second
)

// s3fsOptions are the -o options of a mount of bucket at endpoint (see
// above).
func s3fsOptions(endpoint, bucket, region, name string) []string {
	opts := []string{
		"url=" + endpoint,
		"use_path_request_style",
		"endpoint=" + region,
		"sigv4",
		"use_session_token",
		"stat_cache_expire=1",
		"nomultipart",
		"connect_timeout=5",
		"readwrite_timeout=30",
		"retries=3",
		"instance_name=" + name,
		"dbglevel=warn",
	}
	if os.Geteuid() == 0 {
		opts = append(opts, "allow_other")
	}
	return opts
}

// mountS3FS mounts bucket from the S3 endpoint at dir, which must exist,
// and waits until the mount is there.
func mountS3FS(ctx context.Context, name, dir, endpoint, bucket, region string, cred alicloud.Credentials, logs io.Writer) (*fuseMount, error) {
	args := []string{bucket, dir, "-f"}
	for _, o := range s3fsOptions(endpoint, bucket, region, name) {
		args = append(args, "-o", o)
	}
	cmd := exec.Command("s3fs", args...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"AWS_ACCESS_KEY_ID=" + cred.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + cred.AccessKeySecret,
		"AWS_SESSION_TOKEN=" + cred.SecurityToken,
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	m := &fuseMount{dir: dir, cmd: cmd, out: &lockedBuffer{}, done: make(chan struct{})}
	var w io.Writer = m.out
	if logs != nil {
		w = io.MultiWriter(m.out, logs)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("s3fs mount at %s: %w", dir, err)
	}
	go func() {
		m.err = cmd.Wait()
		close(m.done)
	}()
	ctx, cancel := context.WithTimeout(ctx, mountTimeout)
	defer cancel()
	for !isMounted(dir) {
		select {
		case <-m.done:
			return nil, fmt.Errorf("s3fs mount at %s: s3fs exited (%v) before mounting:\n%s", dir, m.err, m.out.String())
		case <-ctx.Done():
			err := m.unmount()
			return nil, errors.Join(fmt.Errorf("s3fs mount at %s: not mounted after %v: %w\n%s", dir, mountTimeout, ctx.Err(), m.out.String()), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return m, nil
}

// unmount unmounts m and waits for s3fs to exit: fusermount3 -u (or
// umount) first; if the mount is still there, SIGTERM to s3fs, on which
// libfuse unmounts; then a lazy unmount; s3fs is killed if it outlives it
// all. The error says what was left behind, if anything.
func (m *fuseMount) unmount() error {
	deadline := time.Now().Add(unmountTimeout)
	var lastErr error
	for isMounted(m.dir) && time.Now().Before(deadline) {
		if lastErr = runUnmount(m.dir, false); lastErr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if isMounted(m.dir) {
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.done:
		case <-time.After(3 * time.Second):
		}
	}
	if isMounted(m.dir) {
		lastErr = errors.Join(lastErr, runUnmount(m.dir, true))
	}
	select {
	case <-m.done:
	case <-time.After(unmountTimeout):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	if isMounted(m.dir) {
		return fmt.Errorf("the FUSE mount at %s is still there: %v\n%s", m.dir, lastErr, m.out.String())
	}
	_ = os.Remove(m.dir) // the fresh folder the stack made for it, now empty
	return nil
}

// runUnmount unmounts dir with fusermount3, or umount when it is missing;
// lazily (detaching a busy mount) when lazy.
func runUnmount(dir string, lazy bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	if _, err := exec.LookPath("fusermount3"); err == nil {
		flags := "-u"
		if lazy {
			flags = "-uz"
		}
		cmd = exec.CommandContext(ctx, "fusermount3", flags, dir)
	} else {
		args := []string{dir}
		if lazy {
			args = []string{"-l", dir}
		}
		cmd = exec.CommandContext(ctx, "umount", args...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// isMounted tells whether dir is a mount point, from /proc/self/mountinfo.
func isMounted(dir string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescapeMountinfo(f[4]) == dir {
			return true
		}
	}
	return false
}

// unescapeMountinfo undoes mountinfo's octal escapes ("\040" for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountPoint makes the fresh folder for the n-th reply instance's mount,
// beside dataDir (never inside it: the mount shows the bucket that is
// dataDir's files).
func mountPoint(dataDir string, n int) (string, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", err
	}
	dir := fmt.Sprintf("%s-mnt-%d", abs, n)
	if isMounted(dir) {
		return "", fmt.Errorf("%s is already a mount point (left behind by an earlier run? fusermount3 -u %s)", dir, dir)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if !errors.Is(err, os.ErrExist) {
			return "", err
		}
		entries, rerr := os.ReadDir(dir)
		if rerr != nil || len(entries) > 0 {
			return "", fmt.Errorf("the mount point %s exists and is not an empty folder", dir)
		}
	}
	return dir, nil
}

var (
	fuseOnce sync.Once
	fuseErr  error
)

// FUSEAvailable tells why the stack cannot mount the bucket with FUSE
// (Config.FUSE) on this machine, or nil when it can: no /dev/fuse, no s3fs
// or no fusermount3/umount on PATH, or a trial mount refused (typically
// when not root, or in a container without the right to mount). The trial
// mounts a bucket of the local OSS API in a temporary folder, reads a file
// through it and unmounts it; its answer is kept for the life of the
// process.
func FUSEAvailable() error {
	fuseOnce.Do(func() { fuseErr = tryFUSE() })
	return fuseErr
}

func tryFUSE() error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("FUSE is unavailable: no /dev/fuse (%v)", err)
	}
	if _, err := exec.LookPath("s3fs"); err != nil {
		return errors.New("FUSE is unavailable: no s3fs binary on PATH (apt-get install s3fs fuse3)")
	}
	_, errF := exec.LookPath("fusermount3")
	_, errU := exec.LookPath("umount")
	if errF != nil && errU != nil {
		return errors.New("FUSE is unavailable: neither fusermount3 nor umount is on PATH (apt-get install fuse3)")
	}
	tmp, err := os.MkdirTemp("", "fcrobot-fuse-check-")
	if err != nil {
		return fmt.Errorf("FUSE is unavailable: %w", err)
	}
	defer os.RemoveAll(tmp)
	data := filepath.Join(tmp, "bucket")
	cred := alicloud.Credentials{AccessKeyID: "STS." + randomHex(8), AccessKeySecret: randomHex(15), SecurityToken: randomHex(24)}
	srv := osstest.NewServer(osstest.Config{Dir: data, Bucket: localBucket, Region: localRegion, S3: true,
		AccessKeyID: cred.AccessKeyID, AccessKeySecret: cred.AccessKeySecret, SecurityToken: cred.SecurityToken})
	defer srv.Close()
	if err := os.WriteFile(filepath.Join(data, "probe.txt"), []byte("probe"), 0o644); err != nil {
		return fmt.Errorf("FUSE is unavailable: %w", err)
	}
	dir, err := mountPoint(data, 0)
	if err != nil {
		return fmt.Errorf("FUSE is unavailable: %w", err)
	}
	defer os.Remove(dir)
	root := ""
	if os.Geteuid() != 0 {
		root = fmt.Sprintf(" (running as uid %d, not root)", os.Geteuid())
	}
	m, err := mountS3FS(context.Background(), "fuse-check", dir, srv.URL(), localBucket, localRegion, cred, nil)
	if err != nil {
		return fmt.Errorf("FUSE is unavailable: a trial s3fs mount was refused%s: %w", root, err)
	}
	b, rerr := os.ReadFile(filepath.Join(dir, "probe.txt"))
	uerr := m.unmount()
	switch {
	case uerr != nil:
		return fmt.Errorf("FUSE is unavailable: a trial s3fs mount could not be unmounted: %w", uerr)
	case rerr != nil || string(b) != "probe":
		return fmt.Errorf("FUSE is unavailable: a trial s3fs mount did not show the bucket's file (%q, %v):\n%s", b, rerr, m.out.String())
	}
	return nil
}
