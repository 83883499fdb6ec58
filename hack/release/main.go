// Command release publishes a release (`make release`): it builds the image from the
// binaries of `make build`, pushes it, writes the SBOMs of both binaries and of the image
// and the build's provenance, signs the image and attaches them with cosign, packages the
// chart for the image and pushes it as an OCI artifact, and writes checksums of every file
// of dist/. See docs/release.md.
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
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}
