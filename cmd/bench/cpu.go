package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is where the machine's and this process's CPU time stood at
// one moment, to tell afterwards who used the cores during a run.
type cpuSample struct {
	at time.Time
	// busy and total are the machine's jiffies (all cores) from /proc/stat.
	busy, total int64
	// self is this process's CPU time: the load generator, the local FC
	// and the fakes.
	self time.Duration
}

func sampleCPU() (cpuSample, error) {
	s := cpuSample{at: time.Now()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	if s.busy, s.total, err = parseProcStatCPU(b); err != nil {
		return s, err
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s, fmt.Errorf("getrusage: %w", err)
	}
	s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return s, nil
}

// parseProcStatCPU reads the machine's "cpu" line of /proc/stat: user, nice,
// system, idle, iowait, irq, softirq, steal, ... in jiffies. Idle and
// iowait are idle; the rest is busy (guest time is already in user).
func parseProcStatCPU(b []byte) (busy, total int64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 9 || fields[0] != "cpu" {
			continue
		}
		for i, f := range fields[1:9] {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("/proc/stat: %w", err)
			}
			total += n
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		return busy, total, nil
	}
	return 0, 0, fmt.Errorf("/proc/stat: no cpu line")
}

// cpuShare is who used the cores between two samples, in cores.
type cpuShare struct {
	// Machine is the share of all cores that was busy, 0 to 1.
	Machine float64
	// Self is the cores this process used.
	Self float64
}

func cpuBetween(a, b cpuSample) cpuShare {
	var s cpuShare
	if b.total > a.total {
		s.Machine = float64(b.busy-a.busy) / float64(b.total-a.total)
	}
	if d := b.at.Sub(a.at); d > 0 {
		s.Self = float64(b.self-a.self) / float64(d)
	}
	return s
}
