package devstack

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestParseProcStatus(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    Memory
		wantErr bool
	}{
		{
			name:   "a real status file's lines",
			status: "Name:\tconversation\nVmPeak:\t 1237644 kB\nVmHWM:\t    9876 kB\nVmRSS:\t    6016 kB\nThreads:\t5\n",
			want:   Memory{RSS: 6016 << 10, PeakRSS: 9876 << 10},
		},
		{name: "no memory lines (a kernel thread)", status: "Name:\tkthreadd\nThreads:\t1\n", wantErr: true},
		{name: "a unit other than kB", status: "VmHWM:\t 9 MB\nVmRSS:\t 6 MB\n", wantErr: true},
		{name: "not a number", status: "VmHWM:\t x kB\nVmRSS:\t 6 kB\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStatus([]byte(tt.status))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseProcStatusOfThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseProcStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.PeakRSS < m.RSS {
		t.Errorf("got %+v, want 0 < RSS <= PeakRSS", m)
	}
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{
			name: "utime 150 and stime 25 ticks",
			stat: "4242 (conversation) S 1 4242 4242 0 -1 4194560 700 0 0 0 150 25 0 0 20 0 5 0 1000 1237644288 1504 18446744073709551615",
			want: 1750 * time.Millisecond,
		},
		{
			name: "a name with spaces and parentheses",
			stat: "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 0 0 0",
			want: 70 * time.Millisecond,
		},
		{name: "no name", stat: "7 R 1", wantErr: true},
		{name: "cut short", stat: "7 (x) R 1 7 7", wantErr: true},
		{name: "not a number", stat: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 x 4 0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tt.stat))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
