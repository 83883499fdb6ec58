package report

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// Machine describes where figures were taken; without it they cannot be compared.
type Machine struct {
	// CPUs is the number of logical CPUs in /proc/cpuinfo.
	CPUs int `json:"cpus"`
	// CPUModel is /proc/cpuinfo's model name.
	CPUModel string `json:"cpuModel"`
	// Kernel is the kernel release.
	Kernel string `json:"kernel"`
	// GoVersion is `go version` of the toolchain that built everything.
	GoVersion string `json:"goVersion"`
	// LoadStart is /proc/loadavg when the run started: other work skews the figures.
	LoadStart string `json:"loadAvgStart"`
	// LoadEnd is /proc/loadavg when the run ended.
	LoadEnd string `json:"loadAvgEnd"`
}

// ReadMachine describes this machine; unreadable parts stay empty.
func ReadMachine(ctx context.Context) Machine {
	m := Machine{CPUs: runtime.NumCPU(), LoadStart: LoadAvg()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUs, m.CPUModel = cpuInfo(data)
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if out, err := exec.CommandContext(ctx, "go", "version").Output(); err == nil {
		m.GoVersion = strings.TrimSpace(string(out))
	}
	return m
}

// cpuInfo counts the processor entries of /proc/cpuinfo and reads the first model name.
func cpuInfo(data []byte) (cpus int, model string) {
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		key, value, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "processor":
			cpus++
		case "model name":
			if model == "" {
				model = strings.TrimSpace(value)
			}
		}
	}
	return cpus, model
}

// LoadAvg is the 1, 5 and 15 minute load averages from /proc/loadavg.
func LoadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	return strings.Join(f[:min(3, len(f))], " ")
}

// Commit is `git describe --always --dirty` of the tree at root, or "unknown".
func Commit(ctx context.Context, root string) string {
	cmd := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
