package forked

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// setLimits sets the child's own limits, which the kernel enforces:
//
//   - RLIMIT_DATA bounds the memory the process maps for writing, which
//     is where Go's heap and goroutine stacks live; Go's reservations of
//     address space, mapped without access, do not count (unlike
//     RLIMIT_AS, which they fill). The runtime starts with tens of MB
//     mapped for writing but untouched (the heap's arena index, the
//     program's zeroed data), so the limit is what is mapped when the
//     child starts plus Memory. A mapping beyond it fails, and the Go
//     runtime ends the process: "out of memory".
//   - RLIMIT_CPU, soft and hard alike, has the kernel kill the process
//     (SIGKILL) once it used that much CPU time.
//   - RLIMIT_FSIZE bounds each file it writes (excelize spills big sheets
//     to temporary files); RLIMIT_CORE forbids a core dump.
//
// Its priority is lowered too, so that on the function's fraction of a
// CPU a file being read slows the answers in flight as little as it can.
func setLimits(l Limits) error {
	set := func(resource int, n uint64) error {
		// A platform whose own hard limit is lower keeps it: raising it
		// is refused (EPERM), and lower is as safe.
		var cur syscall.Rlimit
		if err := syscall.Getrlimit(resource, &cur); err == nil && cur.Max < n {
			n = cur.Max
		}
		return syscall.Setrlimit(resource, &syscall.Rlimit{Cur: n, Max: n})
	}
	if l.Memory > 0 {
		if err := set(syscall.RLIMIT_DATA, dataMapped()+uint64(l.Memory)); err != nil {
			return err
		}
	}
	if l.CPU > 0 {
		secs := uint64((l.CPU + 999_999_999) / 1_000_000_000) // whole seconds, at least one
		if err := set(syscall.RLIMIT_CPU, secs); err != nil {
			return err
		}
	}
	if l.TempFiles > 0 {
		if err := set(syscall.RLIMIT_FSIZE, uint64(l.TempFiles)); err != nil {
			return err
		}
	}
	if err := set(syscall.RLIMIT_CORE, 0); err != nil {
		return err
	}
	return syscall.Setpriority(syscall.PRIO_PROCESS, 0, childNice)
}

// dataMapped is the memory the process mapped for writing so far, as
// RLIMIT_DATA counts it (VmData); an unreadable /proc counts as
// mappedAtStart.
func dataMapped() uint64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return mappedAtStart
	}
	_, rest, ok := bytes.Cut(status, []byte("\nVmData:"))
	if !ok {
		return mappedAtStart
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kB, err := strconv.ParseUint(string(bytes.TrimSuffix(bytes.TrimSpace(line), []byte(" kB"))), 10, 64)
	if err != nil {
		return mappedAtStart
	}
	return kB << 10
}

// mappedAtStart is about what a Go program maps for writing at its start
// (linux/amd64, go1.26: 74 MB, nearly all of it untouched).
const mappedAtStart = 80 << 20

// childNice is the child's scheduling priority: lower than the parent's
// (0).
const childNice = 10

// mapFile maps f's content read-only: a parser that writes into it
// faults, which SetPanicOnFault turns into a panic the parser's recover
// catches.
func mapFile(f *os.File) ([]byte, bool) {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() == 0 || st.Size() != int64(int(st.Size())) {
		return nil, false
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_PRIVATE)
	if err != nil {
		return nil, false
	}
	return data, true
}

// isolate puts the child in a process group of its own, so that killing
// the group kills whatever it may have started, and has the kernel kill it
// if the parent dies first.
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// killedBy is the signal that ended the child, if one did.
func killedBy(st *os.ProcessState) (syscall.Signal, bool) {
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return ws.Signal(), true
}

// peakRSSKB is the largest resident set of a finished process, in KB.
func peakRSSKB(st *os.ProcessState) int64 {
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss
	}
	return -1
}

// answerChannel is where the child writes its answer: a new descriptor of
// stdout, whose own descriptor then points at stderr, so that whatever
// the process prints to its stdout cannot be taken for the answer. It is
// stdout itself when either is not a file.
func answerChannel(stdout, stderr io.Writer) io.Writer {
	out, ok1 := stdout.(*os.File)
	errf, ok2 := stderr.(*os.File)
	if !ok1 || !ok2 {
		return stdout
	}
	fd, err := syscall.Dup(int(out.Fd()))
	if err != nil {
		return stdout
	}
	if err := syscall.Dup3(int(errf.Fd()), int(out.Fd()), 0); err != nil {
		syscall.Close(fd)
		return stdout
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "answer")
}
