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

func TestParseSchedstat(t *testing.T) {
	tests := []struct {
		line    string
		want    time.Duration
		wantErr bool
	}{
		{line: "617854 0 1\n", want: 617854 * time.Nanosecond},
		{line: "12345678901 2222 37", want: 12345678901 * time.Nanosecond},
		{line: "", wantErr: true},
		{line: "1 2", wantErr: true},
		{line: "x 2 3", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseSchedstat([]byte(tt.line))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseSchedstat(%q) = %v, %v; want %v, error %v", tt.line, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestMain lets the test binary stand in for a function program: started
// with childEnv set to one of process_test.go's modes it plays that part,
// and with any other value it uses some CPU and then waits to be stopped.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		runChild(mode)
		deadline := time.Now().Add(20 * time.Millisecond)
		for time.Now().Before(deadline) {
		}
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const childEnv = "DEVSTACK_TEST_CHILD"

func TestLaunchedProcessReportsItsMemoryAndCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	p, err := Launch("child", self, map[string]string{childEnv: "1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if p.PID() <= 0 || p.Started().Before(before) || p.Started().After(time.Now()) {
		t.Errorf("pid %d, started %v: want a pid and the time of the exec", p.PID(), p.Started())
	}
	// The child burns 20 ms of CPU first; wait for some of it to show.
	var cpu time.Duration
	for deadline := time.Now().Add(time.Minute); cpu < 5*time.Millisecond && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		if cpu, err = p.CPUTime(); err != nil {
			t.Fatal(err)
		}
	}
	if cpu < 5*time.Millisecond {
		t.Errorf("CPU time %v, want at least 5ms", cpu)
	}
	m, err := p.Memory()
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.PeakRSS < m.RSS {
		t.Errorf("memory %+v, want 0 < RSS <= PeakRSS", m)
	}
	p.Kill()
	if _, err := p.Memory(); err == nil {
		t.Error("Memory of an exited process: no error")
	}
	if _, err := p.CPUTime(); err == nil {
		t.Error("CPUTime of an exited process: no error")
	}
}
