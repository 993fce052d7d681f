package devstack

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: clock ticks,
// which Linux fixes at 100 a second for user space on every architecture Go
// builds for here.
const userHZ = 100

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

// CPUTime is the CPU time the process has used so far, user and system, all
// its threads together, read from /proc/<pid>/stat. Its unit is a clock tick
// (10 ms): measure over many requests, not one.
func (p *Process) CPUTime() (time.Duration, error) {
	select {
	case <-p.done:
		return 0, fmt.Errorf("%s has exited", p.Name)
	default:
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID()))
	if err != nil {
		return 0, fmt.Errorf("CPU time of %s: %w", p.Name, err)
	}
	return parseProcStat(b)
}

// parseProcStat reads utime and stime, the 14th and 15th fields of a
// /proc/<pid>/stat line. The second field, the program's name in
// parentheses, may hold spaces and parentheses itself, so fields are counted
// from the last ')'.
func parseProcStat(stat []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	// After the name: state (field 3), ..., utime (14), stime (15).
	fields := bytes.Fields(stat[end+1:])
	if len(fields) < 13 {
		return 0, errors.New("/proc stat: too few fields")
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: CPU time: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
