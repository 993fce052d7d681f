package reply_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// imports lists what the non-test files of the package in dir import.
func imports(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string][]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			found[path] = append(found[path], filepath.Base(f))
		}
	}
	return found
}

// The layering the package docs promise: the domain depends on nothing, and
// the core reaches DingTalk, the model and the OSS mount only through its
// ports, wired in cmd/reply.
func TestTheDomainAndTheCoreTouchNoOutsideSystem(t *testing.T) {
	const module = "github.com/dingtalk-llm/fcrobot/"
	for path, files := range imports(t, "../chat") {
		if strings.Contains(path, ".") {
			t.Errorf("package chat imports %s (%v); it must depend on the standard library alone", path, files)
		}
	}
	allowed := map[string]bool{
		module + "internal/chat": true, module + "internal/fcruntime": true,
		module + "internal/logging": true, module + "internal/retry": true,
		// A primitive (a semaphore weighted in bytes), no outside system.
		"golang.org/x/sync/semaphore": true,
	}
	for path, files := range imports(t, ".") {
		if strings.Contains(path, ".") && !allowed[path] {
			t.Errorf("package reply imports %s (%v); it speaks to outside systems through its ports only", path, files)
		}
	}
}
