// Command soak puts the webhook under load for a long time while it is disrupted: pod
// creations at a fixed rate through a real kube-apiserver, two webhook replicas behind a
// loopback TCP load balancer, one replica killed and restarted every minute, and the
// serving certificate rewritten under load. It reports errors, latency percentiles and
// each replica's memory over time, and fails if any pod was stored without its injection
// or a certificate rotation dropped a request. `make soak` runs it; see docs/faults.md.
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
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}
