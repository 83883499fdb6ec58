// Command floor-server is the load harness's floor: a minimal TLS admission server (see
// package floor) started and driven exactly like vault-injector.
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
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor-server:", err)
		os.Exit(1)
	}
}
