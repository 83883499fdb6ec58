package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/vault-injector/vault-injector/bench/gobench"
	"github.com/vault-injector/vault-injector/bench/report"
	"github.com/vault-injector/vault-injector/bench/server"
)

// goSection runs the Go benchmarks package by package (a failing package is reported and
// the others still run), keeps their raw output in gobench.txt for later comparisons and
// summarizes them.
func goSection(ctx context.Context, o *options, res *report.Results, stdout io.Writer) error {
	baseline, err := copyBaseline(o)
	if err != nil {
		return err
	}
	var raw bytes.Buffer
	for _, pkg := range strings.Split(o.packages, ",") {
		line, err := gobench.Run(ctx, o.root, pkg, gobench.Options{Count: o.count, Benchtime: o.benchtime}, io.MultiWriter(&raw, stdout))
		res.Commands = append(res.Commands, line)
		if err != nil {
			res.GoBenchmarkErrors = append(res.GoBenchmarkErrors, err.Error())
		}
	}
	rawPath := filepath.Join(o.out, "gobench.txt")
	if err := os.WriteFile(rawPath, raw.Bytes(), 0o644); err != nil { //nolint:gosec // a report meant to be read
		return fmt.Errorf("write raw benchmark output: %w", err)
	}
	if res.GoBenchmarks, err = gobench.Parse(bytes.NewReader(raw.Bytes())); err != nil {
		return err
	}
	summarizeBenchstat(ctx, o, res, rawPath, baseline)
	if err := measureEnvexec(ctx, o, res); err != nil {
		res.Notes = append(res.Notes, err.Error())
	}
	res.Targets = append(res.Targets, report.EvaluateEnvexec(res.GoBenchmarks, res.EnvexecBytes)...)
	if len(res.GoBenchmarkErrors) > 0 {
		return fmt.Errorf("%d benchmark package(s) failed; see RESULTS.md", len(res.GoBenchmarkErrors))
	}
	return nil
}

// measureEnvexec builds envexec as every injected pod carries it and records its size.
func measureEnvexec(ctx context.Context, o *options, res *report.Results) error {
	bin := filepath.Join(o.workDir, "envexec")
	line, err := server.Build(ctx, o.root, "./cmd/envexec", bin)
	res.Commands = append(res.Commands, line)
	if err != nil {
		return fmt.Errorf("envexec size: %w", err)
	}
	st, err := os.Stat(bin) //nolint:gosec // our own work directory
	if err != nil {
		return fmt.Errorf("envexec size: %w", err)
	}
	res.EnvexecBytes = st.Size()
	return nil
}

// copyBaseline copies -baseline into the work directory: it may be the gobench.txt this
// run is about to overwrite.
func copyBaseline(o *options) (string, error) {
	if o.baseline == "" {
		return "", nil
	}
	data, err := os.ReadFile(o.baseline) //nolint:gosec // the file the operator named
	if err != nil {
		return "", fmt.Errorf("baseline: %w", err)
	}
	path := filepath.Join(o.workDir, "baseline.txt")
	if err := os.WriteFile(path, data, 0o600); err != nil { //nolint:gosec // under our own work directory
		return "", fmt.Errorf("baseline: %w", err)
	}
	return path, nil
}

// summarizeBenchstat adds benchstat's summary, and its comparison with the baseline, when
// benchstat can be found; otherwise the report has medians only and says why.
func summarizeBenchstat(ctx context.Context, o *options, res *report.Results, rawPath, baseline string) {
	bin := o.benchstat
	if bin == "" {
		found, err := exec.LookPath("benchstat")
		if err != nil {
			res.Notes = append(res.Notes, "benchstat not found (pass -benchstat; `hack/tools/build.sh benchstat` builds it): medians only")
			return
		}
		bin = found
	}
	var err error
	res.Commands = append(res.Commands, "benchstat "+rawPath)
	if res.Benchstat, err = gobench.Benchstat(ctx, bin, rawPath); err != nil {
		res.Notes = append(res.Notes, err.Error())
	}
	if baseline == "" {
		return
	}
	res.Commands = append(res.Commands, "benchstat "+o.baseline+" "+rawPath)
	if res.Comparison, err = gobench.Benchstat(ctx, bin, baseline, rawPath); err != nil {
		res.Notes = append(res.Notes, err.Error())
	}
}

// profileSection profiles the handler on the typical pod (CPU and allocations).
func profileSection(ctx context.Context, o *options, res *report.Results, _ io.Writer) error {
	dir := filepath.Join(o.workDir, "profile")
	if err := os.MkdirAll(dir, 0o700); err != nil { //nolint:gosec // under our own work directory
		return fmt.Errorf("profile directory: %w", err)
	}
	top, lines, err := gobench.Profile(ctx, o.root, "./webhook", "^BenchmarkHandle$/^typical$", "3s", dir)
	res.Commands = append(res.Commands, lines...)
	res.Profile = top
	return err
}
