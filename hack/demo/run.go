package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// run starts the stack, injects a secret into the demo pod, runs it and shows what
// happened; with --keep it then serves kubectl until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keep := fs.Bool("keep", false, "keep everything running, print a KUBECONFIG for kubectl and wait for Ctrl-C")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("run as root: the pod runner creates PID and mount namespaces")
	}
	dir, err := os.MkdirTemp("", "vault-injector-demo-")
	if err != nil {
		return fmt.Errorf("work folder: %w", err)
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	stack, err := framework.StartStack(ctx, dir, stderr)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stack.Stop()) }()

	secret := rand.Text() // random per run; only its length and hash are ever shown
	if err := setupVault(ctx, stack, secret); err != nil {
		return err
	}
	if err := showPod(ctx, stack, secret, stdout, stderr); err != nil {
		return err
	}
	if *keep {
		return serve(ctx, stack, stdout)
	}
	return nil
}
