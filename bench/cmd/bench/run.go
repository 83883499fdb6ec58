package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vault-injector/vault-injector/bench/report"
)

// options are the command's flags.
type options struct {
	out, root, only      string
	duration, warmup     time.Duration
	clients              []int
	count, rounds        int
	benchtime, packages  string
	benchstat, baseline  string
	injectorBin, workDir string
	injectorEnv          []string
	keep                 bool
}

// sections the command knows, in the order it runs them.
var sections = []string{"load", "go", "profile", "podstart"}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.out, "out", "bench", "directory that receives RESULTS.md, results.json and gobench.txt")
	fs.StringVar(&o.root, "root", ".", "root of the vault-injector module")
	fs.StringVar(&o.only, "only", strings.Join(sections, ","), "comma-separated sections to run: load, go, profile, podstart")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each load level, per server")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unrecorded warm-up before each load level, per server")
	fs.IntVar(&o.rounds, "rounds", 5, "rounds each level's measured time is split into, the servers taking turns, so a slow spell of the machine hits both")
	clients := fs.String("clients", "1,8,32", "comma-separated numbers of concurrent clients, one load level each")
	fs.IntVar(&o.count, "count", 6, "go test -count: samples of each Go benchmark (benchstat wants 6 or more)")
	fs.StringVar(&o.benchtime, "benchtime", "1s", "go test -benchtime of each sample")
	fs.StringVar(&o.packages, "packages", "./injector,./webhook,./registry,./envexec", "comma-separated packages whose benchmarks run")
	fs.StringVar(&o.benchstat, "benchstat", "", "benchstat binary (default: benchstat on PATH; without it medians only)")
	fs.StringVar(&o.baseline, "baseline", "", "an earlier gobench.txt to compare against (old → new)")
	fs.StringVar(&o.injectorBin, "injector-bin", "", "prebuilt vault-injector binary (default: build ./cmd/vault-injector)")
	env := fs.String("injector-env", "", "comma-separated KEY=VALUE added to vault-injector's environment (e.g. GOGC=50,GOMEMLIMIT=32MiB)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (binaries, certificates, server logs, profiles)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, s := range strings.Split(*clients, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil || n < 1 {
			return o, fmt.Errorf("-clients: %q is not a positive number", s)
		}
		o.clients = append(o.clients, n)
	}
	for _, kv := range strings.Split(*env, ",") {
		if kv == "" {
			continue
		}
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return o, fmt.Errorf("-injector-env: %q is not KEY=VALUE", kv)
		}
		o.injectorEnv = append(o.injectorEnv, kv)
	}
	for _, s := range strings.Split(o.only, ",") {
		if !slices.Contains(sections, s) {
			return o, fmt.Errorf("-only: unknown section %q (want %s)", s, strings.Join(sections, ", "))
		}
	}
	return o, nil
}

func (o *options) runs(section string) bool {
	return slices.Contains(strings.Split(o.only, ","), section)
}

// run measures the selected sections and writes the report; a failed section is
// reported and fails the command, but the others still run and are written.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if o.workDir, err = os.MkdirTemp("", "vault-injector-bench-"); err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	if o.keep {
		fmt.Fprintf(stdout, "work directory (kept): %s\n", o.workDir)
	} else {
		defer os.RemoveAll(o.workDir)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil { //nolint:gosec // a report directory meant to be read
		return fmt.Errorf("output directory: %w", err)
	}
	res := &report.Results{
		Schema: report.Schema, Date: time.Now(), Commit: report.Commit(ctx, o.root), Machine: report.ReadMachine(ctx),
		Commands: []string{"go run ./bench/cmd/bench " + strings.Join(args, " ")},
	}
	if res.Machine.LoadStart != "" {
		res.Notes = append(res.Notes, "load average at start: "+res.Machine.LoadStart+
			" (1, 5, 15 min); anything near the CPU count means the figures are skewed by other work")
	}
	var errs []error
	for _, s := range []struct {
		name string
		fn   func(context.Context, *options, *report.Results, io.Writer) error
	}{{"load", admissionSection}, {"go", goSection}, {"profile", profileSection}, {"podstart", podStartSection}} {
		if !o.runs(s.name) {
			continue
		}
		fmt.Fprintf(stdout, "== %s\n", s.name)
		if err := s.fn(ctx, &o, res, stdout); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
			res.Notes = append(res.Notes, fmt.Sprintf("section %s failed: %v", s.name, err))
		}
	}
	res.Machine.LoadEnd = report.LoadAvg()
	if err := res.Write(o.out); err != nil {
		errs = append(errs, err)
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n", filepath.Join(o.out, "RESULTS.md"), filepath.Join(o.out, "results.json"))
	return errors.Join(errs...)
}
