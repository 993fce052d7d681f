package devstack

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildFunctions builds the conversation and reply programs of this module
// into dir, for tests that run them as real processes.
func BuildFunctions(ctx context.Context, dir string) error {
	return build(ctx, dir, nil)
}

// BuildRelease builds the two programs into dir exactly as `make build`
// builds them for FC: static (no cgo), for linux/amd64, with -trimpath and
// without symbol tables and debug information (-s -w). They run here only
// on that platform; measuring them measures what FC runs.
func BuildRelease(ctx context.Context, dir string) error {
	return build(ctx, dir, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}, "-trimpath", "-ldflags=-s -w")
}

// ModuleRoot is the directory of this module's go.mod, as the go command in
// the current directory finds it.
func ModuleRoot(ctx context.Context) (string, error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module: %w", err)
	}
	path := strings.TrimSpace(string(gomod))
	if path == "" || path == os.DevNull {
		return "", fmt.Errorf("find the module: not inside one")
	}
	return filepath.Dir(path), nil
}

func build(ctx context.Context, dir string, env []string, flags ...string) error {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return err
	}
	args := append([]string{"build"}, flags...)
	args = append(args, "-o", dir+string(filepath.Separator), "./cmd/"+ConversationFunction, "./cmd/"+ReplyFunction)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build the functions: %w\n%s", err, out.String())
	}
	return nil
}
