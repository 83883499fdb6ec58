package gobench

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Options select what Run runs.
type Options struct {
	// Bench is the -bench pattern; default ".".
	Bench string
	// Count is -count, the number of samples of each benchmark; default 1.
	Count int
	// Benchtime is -benchtime; default the go tool's (1s).
	Benchtime string
}

// Run runs the benchmarks of pkg (e.g. ./webhook) in the module at root, copying their
// output to out, and returns the command line it ran. A package without benchmarks is
// fine; a failing one returns an error along with its command line.
func Run(ctx context.Context, root, pkg string, o Options, out io.Writer) (string, error) {
	args := []string{"test", "-run", "^$", "-bench", cmp.Or(o.Bench, "."), "-benchmem", "-count", strconv.Itoa(max(o.Count, 1)), "-timeout", "60m"}
	if o.Benchtime != "" {
		args = append(args, "-benchtime", o.Benchtime)
	}
	args = append(args, pkg)
	line := "go " + quote(args)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, out, &stderr
	if err := cmd.Run(); err != nil {
		return line, fmt.Errorf("%s: %w\n%s", line, err, tail(stderr.String(), 4000))
	}
	return line, nil
}

// Benchstat runs the benchstat binary on files and returns its report. With two files the
// report compares them (old, new).
func Benchstat(ctx context.Context, bin string, files ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, files...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", filepath.Base(bin), strings.Join(files, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// Profile runs one benchmark of pkg with CPU and allocation profiles written into dir and
// returns pprof's top tables of both, plus the commands it ran.
func Profile(ctx context.Context, root, pkg, bench, benchtime, dir string) (string, []string, error) {
	bin := filepath.Join(dir, "bench.test")
	cpu, mem := filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "mem.pprof")
	steps := [][]string{
		{"test", "-run", "^$", "-bench", bench, "-benchmem", "-benchtime", benchtime, "-o", bin, "-cpuprofile", cpu, "-memprofile", mem, pkg},
		{"tool", "pprof", "-top", "-nodecount=25", bin, cpu},
		{"tool", "pprof", "-top", "-cum", "-nodecount=25", bin, cpu},
		{"tool", "pprof", "-top", "-nodecount=20", "-sample_index=alloc_space", bin, mem},
	}
	var report strings.Builder
	var lines []string
	for i, args := range steps {
		line := "go " + quote(args)
		lines = append(lines, line)
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = root, &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return report.String(), lines, fmt.Errorf("%s: %w\n%s", line, err, tail(stderr.String(), 4000))
		}
		if i > 0 {
			fmt.Fprintf(&report, "$ %s\n%s\n", line, stdout.String())
		}
	}
	return report.String(), lines, nil
}

// quote joins args as a shell would need them written.
func quote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if strings.ContainsAny(a, " ^$*|&;()<>'\"\\") || a == "" {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

func tail(s string, n int) string {
	return s[max(0, len(s)-n):]
}
