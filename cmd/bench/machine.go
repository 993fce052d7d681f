package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// machine is what the figures were measured on, and when.
type machine struct {
	CPU    string
	Cores  int
	Go     string
	OS     string
	Date   time.Time
	Commit string
}

func (m machine) String() string {
	return fmt.Sprintf("%s, %d cores, %s, %s; commit %s", m.CPU, m.Cores, m.Go, m.OS, m.Commit)
}

func describeMachine(ctx context.Context, root string) (machine, error) {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU = procField(b, "model name", ":")
	}
	if m.CPU == "" {
		m.CPU = "unknown CPU"
	}
	m.OS = runtime.GOOS + "/" + runtime.GOARCH
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		if name := strings.Trim(procField(b, "PRETTY_NAME", "="), `"`); name != "" {
			m.OS = name + ", " + m.OS
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.OS += ", Linux " + strings.TrimSpace(string(b))
	}
	commit, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return m, fmt.Errorf("git rev-parse: %w", err)
	}
	m.Commit = strings.TrimSpace(string(commit))
	// Others may be editing the checkout: say when the tree is not the commit.
	if dirty, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(dirty)) > 0 {
		m.Commit += " (with uncommitted changes)"
	}
	return m, nil
}

// procField returns the value of the first "key<sep>value" line.
func procField(b []byte, key, sep string) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), sep)
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// functionSpec is a function's size as s.yaml deploys it.
type functionSpec struct {
	CPU                 float64 `yaml:"cpu"`
	MemorySize          int     `yaml:"memorySize"` // MB
	InstanceConcurrency int     `yaml:"instanceConcurrency"`
}

// MemoryGB is the memory FC bills, in GB.
func (f functionSpec) MemoryGB() float64 { return float64(f.MemorySize) / 1024 }

// readSYAML reads the functions' sizes from s.yaml, so that the cost is
// that of what gets deployed.
func readSYAML(path string) (map[string]functionSpec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Resources map[string]struct {
			Props functionSpec `yaml:"props"`
		} `yaml:"resources"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	specs := map[string]functionSpec{}
	for _, f := range functions() {
		r, ok := doc.Resources[f]
		if !ok || r.Props.CPU <= 0 || r.Props.MemorySize <= 0 || r.Props.InstanceConcurrency <= 0 {
			return nil, fmt.Errorf("%s: resource %s needs cpu, memorySize and instanceConcurrency", path, f)
		}
		specs[f] = r.Props
	}
	return specs, nil
}
