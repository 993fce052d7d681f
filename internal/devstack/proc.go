package devstack

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Memory is what the kernel reports about a process's resident memory, in
// bytes: what FC's memory limit is checked against.
type Memory struct {
	// RSS is the resident set now (VmRSS).
	RSS int64
	// PeakRSS is the largest resident set since the process started
	// (VmHWM, the "high water mark").
	PeakRSS int64
}

// Memory reads the process's resident memory from /proc/<pid>/status. It
// works on Linux only, FC's platform.
func (p *Process) Memory() (Memory, error) {
	select {
	case <-p.done:
		return Memory{}, fmt.Errorf("%s has exited", p.Name)
	default:
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		return Memory{}, fmt.Errorf("memory of %s: %w", p.Name, err)
	}
	return parseProcStatus(b)
}

// parseProcStatus reads VmRSS and VmHWM ("VmRSS:	    6016 kB") from the
// contents of a /proc/<pid>/status file.
func parseProcStatus(status []byte) (Memory, error) {
	var m Memory
	var found int
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		name, value, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(name) {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.PeakRSS
		default:
			continue
		}
		fields := bytes.Fields(value)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return Memory{}, fmt.Errorf("/proc status: unexpected %s line %q", name, value)
		}
		kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("/proc status: %s: %w", name, err)
		}
		*dst = kb << 10
		found++
	}
	if found != 2 {
		return Memory{}, errors.New("/proc status: no VmRSS and VmHWM lines")
	}
	return m, nil
}

// CPUTime is the CPU time the process has used so far, all its threads
// together, in nanoseconds: the sum of the first field ("time spent on the
// CPU") of /proc/<pid>/task/<tid>/schedstat. The clock-tick counters of
// /proc/<pid>/stat would be too coarse (10 ms) for a start-up. A thread
// that has exited is not counted; Go's runtime keeps its threads.
func (p *Process) CPUTime() (time.Duration, error) {
	select {
	case <-p.done:
		return 0, fmt.Errorf("%s has exited", p.Name)
	default:
	}
	tasks := fmt.Sprintf("/proc/%d/task", p.PID())
	entries, err := os.ReadDir(tasks)
	if err != nil {
		return 0, fmt.Errorf("CPU time of %s: %w", p.Name, err)
	}
	var total time.Duration
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(tasks, e.Name(), "schedstat"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // the thread exited since the listing
		}
		if err != nil {
			return 0, fmt.Errorf("CPU time of %s: %w", p.Name, err)
		}
		d, err := parseSchedstat(b)
		if err != nil {
			return 0, fmt.Errorf("CPU time of %s: %w", p.Name, err)
		}
		total += d
	}
	return total, nil
}

// parseSchedstat reads the time on the CPU, in nanoseconds, from a
// schedstat line: "<on cpu ns> <waiting ns> <timeslices>".
func parseSchedstat(b []byte) (time.Duration, error) {
	fields := bytes.Fields(b)
	if len(fields) != 3 {
		return 0, fmt.Errorf("schedstat: want 3 fields, got %q", b)
	}
	ns, err := strconv.ParseInt(string(fields[0]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("schedstat: %w", err)
	}
	return time.Duration(ns), nil
}
