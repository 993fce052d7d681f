package devstack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Process is one of the functions, running as its own program, as on FC.
type Process struct {
	Name string
	// URL is where it serves FC's custom-runtime protocol.
	URL string

	cmd     *exec.Cmd
	port    int
	started time.Time
	out     *logBuffer
	done    chan struct{}
	err     error // valid once done is closed
	killed  atomic.Bool
}

// startProcess starts bin with env (and nothing inherited but PATH and HOME)
// on a free loopback port, and waits until it accepts connections.
func startProcess(ctx context.Context, name, bin string, env map[string]string, logs io.Writer) (*Process, error) {
	p, err := Launch(name, bin, env, logs)
	if err != nil {
		return nil, err
	}
	if err := p.waitListening(ctx, p.port); err != nil {
		p.Stop(time.Second)
		return nil, fmt.Errorf("%s did not start: %w\n%s", name, err, p.out.String())
	}
	return p, nil
}

// Launch starts bin as startProcess does but returns as soon as the program
// is executing, without waiting for it to listen: a cold-start measurement
// times that wait itself, from Started. The caller stops the process.
func Launch(name, bin string, env map[string]string, logs io.Writer) (*Process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "FC_CUSTOM_LISTEN_PORT=" + strconv.Itoa(port)}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &logBuffer{}
	var w io.Writer = out
	if logs != nil {
		w = io.MultiWriter(out, logs)
	}
	cmd.Stdout, cmd.Stderr = w, w
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, URL: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, port: port,
		started: started, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *Process) waitListening(ctx context.Context, port int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited: %v", p.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM, as FC does when it stops an instance, and kills the
// process if it has not exited within timeout.
func (p *Process) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.exitError()
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within %v of SIGTERM", p.Name, timeout)
	}
	return p.exitError()
}

// Kill ends the process at once, as a crash or an out-of-memory kill would,
// and waits for it to be gone.
func (p *Process) Kill() {
	p.killed.Store(true)
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

func (p *Process) exitError() error {
	if p.err != nil && !p.killed.Load() {
		return fmt.Errorf("%s: %w", p.Name, p.err)
	}
	return nil
}

// PID is the operating system's id of the process.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Started is when the program was executed (just before the exec).
func (p *Process) Started() time.Time { return p.started }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Output is everything the process has written to stdout and stderr.
func (p *Process) Output() string { return p.out.String() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logBuffer collects a process's output for later reading.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
