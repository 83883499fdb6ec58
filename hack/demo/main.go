// Command demo runs vault-injector on an embedded local default (`make run`): a real
// cluster on this machine (kube-apiserver and etcd, a node with containerd and a kubelet),
// a Vault dev server, vault-injector installed by helm from its image, and a pod whose
// application proves it received a secret without printing it. --keep leaves it all
// running for kubectl until Ctrl-C.
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
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
