package devstack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/fcruntime"
)

// Modes of the test binary as a child (see TestMain).
const (
	// childListen listens on FC_CUSTOM_LISTEN_PORT, as the functions do,
	// logs other lines and then its listening line, and answers "ok".
	childListen = "listen"
	// childExit writes an error and exits with status 2.
	childExit = "exit"
	// childSilent never listens and never writes.
	childSilent = "silent"
)

// runChild plays the part mode names, if it is one of the above.
func runChild(mode string) {
	switch mode {
	case childListen:
		ln, err := net.Listen("tcp", net.JoinHostPort("0.0.0.0", os.Getenv("FC_CUSTOM_LISTEN_PORT")))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("FC_CUSTOM_LISTEN_PORT=" + os.Getenv("FC_CUSTOM_LISTEN_PORT"))
		fmt.Println(`{"level":"INFO","msg":"listening soon","addr":"[::]:1"}`)
		// Written in two parts, as a pipe may deliver it.
		line := fcruntime.ListeningMarker + ln.Addr().String() + "\n"
		os.Stdout.WriteString(line[:10])
		time.Sleep(10 * time.Millisecond)
		os.Stdout.WriteString(line[10:])
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

func TestParseListeningLine(t *testing.T) {
	tests := []struct {
		line, want string
	}{
		{fcruntime.ListeningMarker + "0.0.0.0:41234", "0.0.0.0:41234"},
		{fcruntime.ListeningMarker + "[::]:41234\r", "[::]:41234"},
		{`{"level":"NOTICE","msg":"reply function listening","addr":"[::]:41234"}`, ""},
		{fcruntime.ListeningMarker, ""},
		{`FC Invoke Start RequestId: 1`, ""},
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
