package framework

import (
	"context"
	"fmt"
	"os/exec"
)

// goBuild runs go build with CGO off, so the binaries run in any image or mount namespace.
func goBuild(ctx context.Context, root, pkg, out string, flags ...string) error {
	args := append([]string{"build", "-o", out}, flags...)
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...) //nolint:gosec // builds this repository's packages
	cmd.Dir = root
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w: %s", pkg, err, tail(output, 4096))
	}
	return nil
}
