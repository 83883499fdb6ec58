// Command bench is `make bench`: it runs the in-process Go benchmarks, drives the real
// vault-injector binary and a floor server over HTTPS on loopback, profiles the handler,
// and writes bench/RESULTS.md and bench/results.json. See -help for the flags.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
