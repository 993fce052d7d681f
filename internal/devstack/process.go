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
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/fcruntime"
)

// Process is one of the functions, running as its own program, as on FC.
type Process struct {
	Name string
	// URL is where it serves FC's custom-runtime protocol, on the loopback
	// interface. It is set once the program has said where it listens: by
	// the time Start returns, and after WaitListening for a process from
	// Launch.
	URL string

	cmd     *exec.Cmd
	started time.Time
	out     *logBuffer
	done    chan struct{}
	err     error // valid once done is closed
	killed  atomic.Bool
}

// listenTimeout bounds the wait for a program to say where it listens.
const listenTimeout = 30 * time.Second

// startProcess starts bin with env (and nothing inherited but PATH and HOME)
// and waits until it listens, on a port of its choosing.
func startProcess(ctx context.Context, name, bin string, env map[string]string, logs io.Writer) (*Process, error) {
	p, err := Launch(name, bin, env, logs)
	if err != nil {
		return nil, err
	}
	if err := p.WaitListening(ctx); err != nil {
		p.Stop(time.Second)
		return nil, err
	}
	return p, nil
}

// Launch starts bin as startProcess does but returns as soon as the program
// is executing, without waiting for it to listen: a cold-start measurement
// times that wait itself, from Started. Call WaitListening before reading
// URL. The caller stops the process.
//
// The program is told to listen on port 0 (FC_CUSTOM_LISTEN_PORT=0), so the
// kernel picks a free port when it binds, and no other process can take the
// port between the choice and the bind; the program then says which port it
// got, in the line it logs once listening.
func Launch(name, bin string, env map[string]string, logs io.Writer) (*Process, error) {
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "FC_CUSTOM_LISTEN_PORT=0"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &logBuffer{listening: make(chan struct{})}
	var w io.Writer = out
	if logs != nil {
		w = io.MultiWriter(out, logs)
	}
	cmd.Stdout, cmd.Stderr = w, w
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, started: started, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// WaitListening waits, at most 30 s, until the program has said where it
// listens, and sets URL. Its error, if the program exits first or ctx ends,
// includes everything the program has written so far. It is called once,
// before the Process is shared.
//
// The programs write one plain line when their listener is open, whatever
// their log level: fcruntime.ListeningMarker and the address they bound.
func (p *Process) WaitListening(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, listenTimeout)
	defer cancel()
	addr, err := p.waitListeningLine(ctx)
	if err == nil {
		p.URL, err = loopbackURL(addr)
	}
	if err != nil {
		return fmt.Errorf("%s did not start: %w\n%s", p.Name, err, p.out.String())
	}
	return nil
}

func (p *Process) waitListeningLine(ctx context.Context) (string, error) {
	select {
	case <-p.out.listening:
		return p.out.listeningAddr(), nil
	case <-p.done:
		// Wait returns once the program's output has all been copied,
		// so a listening line it wrote before exiting has been seen.
		return "", fmt.Errorf("exited (%v) before saying where it listens", p.err)
	case <-ctx.Done():
		return "", fmt.Errorf("did not say where it listens: %w", ctx.Err())
	}
}

// parseListeningLine reads the address from a program's listening line.
func parseListeningLine(line []byte) (string, bool) {
	addr, ok := strings.CutPrefix(strings.TrimSpace(string(line)), fcruntime.ListeningMarker)
	if !ok || addr == "" {
		return "", false
	}
	return addr, true
}

// loopbackURL is the URL that reaches a listener bound to addr from this
// machine: a listener on every interface ("0.0.0.0:41234", "[::]:41234")
// is reached through 127.0.0.1.
func loopbackURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("listening address %q: %w", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return "", fmt.Errorf("listening address %q: no port", addr)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
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

// logBuffer collects a process's output for later reading, and watches it
// for the line that says where the process listens.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	// scanned is how much of b has been looked through for the listening
	// line: whole lines only.
	scanned int
	addr    string
	// listening is closed once addr is set.
	listening chan struct{}
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.b.Write(p)
	if l.addr == "" {
		l.scanLocked()
	}
	return n, err
}

// scanLocked looks through the complete lines not yet scanned for the
// listening line.
func (l *logBuffer) scanLocked() {
	for {
		rest := l.b.Bytes()[l.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return
		}
		l.scanned += i + 1
		if addr, ok := parseListeningLine(rest[:i]); ok {
			l.addr = addr
			close(l.listening)
			return
		}
	}
}

// listeningAddr is the address of the listening line; it is set once
// listening is closed.
func (l *logBuffer) listeningAddr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addr
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
