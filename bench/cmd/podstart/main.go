// Command podstart measures what injection adds to a pod's start on a real node (kubelet,
// containerd, the chart installed by helm): the time from the pod's creation to the
// application's first instruction, for a pod with 10 references injected with each
// envexec delivery (init-copy, image-volume), against the same pod without references.
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
		fmt.Fprintln(os.Stderr, "podstart:", err)
		os.Exit(1)
	}
}
