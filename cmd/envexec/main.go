// Command envexec becomes PID 1 of an injected container: it resolves vault:
// references in its environment and execs the application. See docs/envexec.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vault-injector/vault-injector/envexec"
)

func main() {
	// As PID 1, envexec would otherwise ignore SIGTERM while it waits for Vault.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := envexec.Main(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
