package framework

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Binaries are the product's executables built from the working tree, so the e2e suite
// tests the code under review rather than an image someone pushed earlier.
type Binaries struct {
	// Webhook is the absolute path of cmd/vault-injector.
	Webhook string `json:"webhook"`
	// Envexec is the absolute path of a static cmd/envexec; the pod runner uses the host's
	// root filesystem as every image, so this path is also where the "injector image" has it.
	Envexec string `json:"envexec"`
}

// BuildBinaries builds the webhook and a static, stripped envexec (the release flags of
// style rule 24) into outDir, and makes outDir world-traversable: it plays the injector
// image's bin folder, which the copy init container reads as a non-root user.
func BuildBinaries(ctx context.Context, root, outDir string) (Binaries, error) {
	if err := os.Chmod(outDir, 0o755); err != nil { //nolint:gosec // an image's bin folder is world-readable
		return Binaries{}, fmt.Errorf("binaries folder: %w", err)
	}
	b := Binaries{
		Webhook: filepath.Join(outDir, "vault-injector"),
		Envexec: filepath.Join(outDir, "envexec"),
	}
	if err := goBuild(ctx, root, "./cmd/vault-injector", b.Webhook); err != nil {
		return Binaries{}, err
	}
	if err := goBuild(ctx, root, "./cmd/envexec", b.Envexec,
		"-trimpath", "-ldflags=-s -w -buildid="); err != nil {
		return Binaries{}, err
	}
	return b, nil
}

// goBuild runs go build with CGO off, so the binaries run in any mount namespace.
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
