//go:build !linux

package forked

import (
	"io"
	"os"
	"os/exec"
	"syscall"
)

// setLimits sets no kernel limit off Linux, where the function never
// runs: the parent's wall-clock limit and output bound still hold, and the
// runtime's soft memory limit and stack bound.
func setLimits(Limits) error { return nil }

// mapFile does not map off Linux: the child reads the file.
func mapFile(*os.File) ([]byte, bool) { return nil, false }

// isolate kills the child alone when its time is up.
func isolate(cmd *exec.Cmd) {}

// killedBy is the signal that ended the child, if one did.
func killedBy(st *os.ProcessState) (syscall.Signal, bool) {
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return ws.Signal(), true
}

// peakRSSKB is not known off Linux.
func peakRSSKB(*os.ProcessState) int64 { return -1 }

// answerChannel is stdout off Linux: a library's prints would garble the
// answer, which the parent then refuses as a damaged file.
func answerChannel(stdout, _ io.Writer) io.Writer { return stdout }
