package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"strconv"

	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/internal/buildinfo"
	"github.com/vault-injector/vault-injector/webhook"
)

// errUsage marks a command-line mistake; it exits 2 like the flag package does.
var errUsage = errors.New("usage")

// run dispatches the subcommand: `mutate` prints a mutation offline, `version` describes
// the build; anything else parses the configuration, sets up JSON logging and serves until
// ctx ends.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "mutate" {
		return runMutate(ctx, args[1:], lookupEnv, stdin, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "version" {
		if err := buildinfo.Command("vault-injector", args[1:], stdout); err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
		return nil
	}
	version := buildinfo.Read().Version
	fs := flag.NewFlagSet("vault-injector", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "vault-injector %s: Kubernetes admission webhook that injects Vault secrets into pods.\n\n"+
			"usage: vault-injector [flags]            serve the webhook\n"+
			"       vault-injector mutate -f FILE     print the mutated objects of FILE, offline\n"+
			"       vault-injector version [--json]   print the version, commit, Go version and modules\n\nFlags:\n", version)
		fs.PrintDefaults()
	}
	showVersion := fs.Bool("version", false, "print the version and exit")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	cfg, err := config.ParseWebhook(fs, args, lookupEnv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil
	case err != nil:
		return fmt.Errorf("%w: %w", errUsage, err)
	case *showVersion:
		fmt.Fprintln(stderr, version)
		return nil
	}
	log := zap.New(zap.UseFlagOptions(&zapOpts), zap.WriteTo(stderr))
	logf.SetLogger(log)
	log.Info("starting vault-injector", "version", version, "gogc", setGCPercent(lookupEnv),
		"gomemlimit", setMemoryLimit(cfg.MemoryLimit.Value(), lookupEnv))
	return webhook.Serve(ctx, cfg, log)
}

// gcPercent is the webhook's GOGC unless its environment sets one. What survives a
// collection is a few MiB of buffers, so at Go's default (100) the collector ran after
// every ~3 MiB of allocation, about 70 admissions, and was a fifth of the server's CPU
// under load. At 200 it runs half as often, for about 4 MiB more at the peak
// (bench/RESULTS.md); setMemoryLimit keeps the heap under the container's limit, so a
// burst of large pods makes it collect sooner rather than grow into that limit.
const gcPercent = 200

// memoryLimitShare is the share of the container's memory limit the Go runtime keeps its
// own memory under: the rest is for what it does not count (the binary's pages, the
// certificate volume, the kernel's buffers).
const memoryLimitShare = 0.9

// setMemoryLimit sets the Go runtime's soft memory limit to memoryLimitShare of
// containerLimit (bytes; 0 for none) unless GOMEMLIMIT is set, and returns the limit in
// force in bytes (math.MaxInt64: none).
func setMemoryLimit(containerLimit int64, lookupEnv func(string) (string, bool)) int64 {
	if _, set := lookupEnv("GOMEMLIMIT"); !set && containerLimit > 0 {
		debug.SetMemoryLimit(int64(float64(containerLimit) * memoryLimitShare))
	}
	return debug.SetMemoryLimit(-1) // -1 reads it
}

// setGCPercent applies gcPercent unless GOGC is set, and returns the setting in force, as
// text: a number, or "off". A GOGC the runtime could not read has left Go's default, 100,
// as it would in any Go program.
func setGCPercent(lookupEnv func(string) (string, bool)) string {
	if _, set := lookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return "unknown"
	}
	if p := s[0].Value.Uint64(); p <= math.MaxInt32 {
		return strconv.FormatUint(p, 10)
	}
	return "off"
}

func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}
