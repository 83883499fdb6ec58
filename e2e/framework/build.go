package framework

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
)

// Binaries are the product's executables built from the working tree, for the webhooks
// the suite runs as host processes (admission specs, certificate modes); pods on the
// node run the released image instead.
type Binaries struct {
	// Webhook is the absolute path of cmd/vault-injector.
	Webhook string `json:"webhook"`
}

// BuildBinaries builds the webhook into outDir.
func BuildBinaries(ctx context.Context, root, outDir string) (Binaries, error) {
	b := Binaries{Webhook: filepath.Join(outDir, "vault-injector")}
	if err := goBuild(ctx, root, "./cmd/vault-injector", b.Webhook); err != nil {
		return Binaries{}, err
	}
	return b, nil
}

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
