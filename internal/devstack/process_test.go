package devstack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Modes of the test binary as a child (see TestMain).
const (
	// childListen listens on FC_CUSTOM_LISTEN_PORT, as the functions do,
	// logs other lines and then its listening line, and answers "ok".
	childListen = "listen"
	// childListenQuiet listens and answers but logs nothing, as the
	// functions do at VERBOSE=30.
	childListenQuiet = "listen-quiet"
	// childExit writes an error and exits with status 2.
	childExit = "exit"
	// childSilent never listens and never writes.
	childSilent = "silent"
)

// runChild plays the part mode names, if it is one of the above.
func runChild(mode string) {
	switch mode {
	case childListen, childListenQuiet:
		ln, err := net.Listen("tcp", net.JoinHostPort("0.0.0.0", os.Getenv("FC_CUSTOM_LISTEN_PORT")))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if mode == childListen {
			fmt.Println("FC_CUSTOM_LISTEN_PORT=" + os.Getenv("FC_CUSTOM_LISTEN_PORT"))
			fmt.Println(`{"level":"INFO","msg":"listening soon","port":0}`)
			fmt.Println(`{"level":"INFO","msg":"starting","addr":"not this one"}`)
			// Written in two parts, as a pipe may deliver it.
			line := fmt.Sprintf(`{"time":"2025-01-01T00:00:00Z","level":"NOTICE","msg":"test function listening","function":"test","addr":%q}`+"\n", ln.Addr().String())
			os.Stdout.WriteString(line[:20])
			time.Sleep(10 * time.Millisecond)
			os.Stdout.WriteString(line[20:])
		}
		http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
		os.Exit(1)
	case childExit:
		fmt.Fprintln(os.Stderr, "configuration: DINGTALK_APP_SECRET is required")
		os.Exit(2)
	case childSilent:
		time.Sleep(time.Minute)
		os.Exit(0)
	}
}

func launchChild(t *testing.T, mode string, env map[string]string) *Process {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if env == nil {
		env = map[string]string{}
	}
	env[childEnv] = mode
	p, err := Launch("child", self, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProcessLearnsItsURLFromTheListeningLine(t *testing.T) {
	p := launchChild(t, childListen, nil)
	if p.URL != "" {
		t.Errorf("URL %q before the program said where it listens", p.URL)
	}
	if err := p.WaitListening(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.URL, "http://127.0.0.1:") || strings.HasSuffix(p.URL, ":0") {
		t.Errorf("URL = %q, want http://127.0.0.1:<the bound port>", p.URL)
	}
	if got := get(t, p.URL+"/"); got != "ok" {
		t.Errorf("answer %q, want ok", got)
	}
	if !strings.Contains(p.Output(), "FC_CUSTOM_LISTEN_PORT=0\n") {
		t.Errorf("the program was not told to listen on port 0:\n%s", p.Output())
	}
}

func TestWaitListeningReportsAnExitWithTheOutput(t *testing.T) {
	p := launchChild(t, childExit, nil)
	err := p.WaitListening(t.Context())
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "DINGTALK_APP_SECRET is required") {
		t.Errorf("error = %v, want that it exited, with its output", err)
	}
}

func TestWaitListeningGivesUpWhenTheContextEnds(t *testing.T) {
	p := launchChild(t, childSilent, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := p.WaitListening(ctx)
	if err == nil || !strings.Contains(err.Error(), "did not say where it listens") || !strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
		t.Errorf("error = %v, want that it did not say where it listens in time", err)
	}
}

func TestQuietProcessIsFoundInProc(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	p := launchChild(t, childListenQuiet, map[string]string{"VERBOSE": "30"})
	if err := p.WaitListening(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := get(t, p.URL+"/"); got != "ok" {
		t.Errorf("answer %q, want ok", got)
	}
}

func TestParseListeningLine(t *testing.T) {
	tests := []struct {
		line, want string
	}{
		{`{"time":"t","level":"NOTICE","msg":"conversation function listening","function":"conversation","addr":"0.0.0.0:41234","fcEndpoint":"x"}`, "0.0.0.0:41234"},
		{`{"level":"NOTICE","msg":"reply function listening","addr":"[::]:41234"}` + "\r", "[::]:41234"},
		{`{"level":"INFO","msg":"listening soon","addr":"[::]:1"}`, ""},
		{`{"level":"NOTICE","msg":"reply function listening"}`, ""},
		{`FC Invoke Start RequestId: 1 listening`, ""},
		{`{"msg":"listening","addr":`, ""},
		{``, ""},
	}
	for _, tt := range tests {
		got, ok := parseListeningLine([]byte(tt.line))
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("parseListeningLine(%q) = %q, %v; want %q", tt.line, got, ok, tt.want)
		}
	}
}

func TestLoopbackURL(t *testing.T) {
	tests := []struct {
		addr, want string
		wantErr    bool
	}{
		{addr: "0.0.0.0:41234", want: "http://127.0.0.1:41234"},
		{addr: "[::]:41234", want: "http://127.0.0.1:41234"},
		{addr: ":41234", want: "http://127.0.0.1:41234"},
		{addr: "127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{addr: "[::1]:8080", want: "http://[::1]:8080"},
		{addr: "0.0.0.0:0", wantErr: true},
		{addr: "0.0.0.0", wantErr: true},
	}
	for _, tt := range tests {
		got, err := loopbackURL(tt.addr)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("loopbackURL(%q) = %q, %v; want %q, error %v", tt.addr, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestSilencesListening(t *testing.T) {
	for verbose, want := range map[string]bool{"": false, "10": false, "25": false, "27": false, "28": true, "30": true, "ERROR": true, "loud": false} {
		env := map[string]string{"VERBOSE": verbose}
		if got := silencesListening(env); got != want {
			t.Errorf("VERBOSE=%q: silences the listening line %v, want %v", verbose, got, want)
		}
	}
	if silencesListening(map[string]string{}) {
		t.Error("no VERBOSE: silences the listening line")
	}
}

func TestParseListeningSocket(t *testing.T) {
	table := `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:A042 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:A043 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 222 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:A044 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 333 1 0000000000000000 20 4 30 10 -1
`
	for _, tt := range []struct {
		inodes []string
		want   int
	}{
		{[]string{"222"}, 0xA043},
		{[]string{"333"}, 0}, // connected, not listening
		{[]string{"444"}, 0}, // another process's
		{nil, 0},
	} {
		inodes := map[string]bool{}
		for _, i := range tt.inodes {
			inodes[i] = true
		}
		got, ok := parseListeningSocket([]byte(table), inodes)
		if got != tt.want || ok != (tt.want != 0) {
			t.Errorf("inodes %v: port %d, %v; want %d", tt.inodes, got, ok, tt.want)
		}
	}
}
