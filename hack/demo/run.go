package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"io"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// run starts the stack, injects a secret into the demo pod, runs it and shows what
// happened; with --keep it then serves kubectl until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keep := fs.Bool("keep", false, "keep everything running, print a KUBECONFIG for kubectl and wait for Ctrl-C")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	return framework.WithNodeStack(ctx, "vi-demo-", stderr, func(stack *framework.NodeStack) error {
		return demo(ctx, stack, *keep, stdout, stderr)
	})
}

// demo puts a secret in Vault, runs the demo pod and shows what happened; with keep it
// then serves kubectl until ctx ends.
func demo(ctx context.Context, stack *framework.NodeStack, keep bool, stdout, stderr io.Writer) error {
	secret := rand.Text() // random per run; only its length and hash are ever shown
	if err := setupVault(ctx, stack, secret); err != nil {
		return err
	}
	if err := showPod(ctx, stack, secret, stdout, stderr); err != nil {
		return err
	}
	if keep {
		return serve(ctx, stack, stdout)
	}
	return nil
}
