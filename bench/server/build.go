package server

import (
	"context"
	"fmt"
	"os/exec"
)

// Build compiles the package pkg of the module at root into out, static and stripped as
// `make build` does, and returns the command line it ran, for the report.
func Build(ctx context.Context, root, pkg, out string) (string, error) {
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	line := "CGO_ENABLED=0 go build -trimpath '-ldflags=-s -w' -o " + out + " " + pkg
	if output, err := cmd.CombinedOutput(); err != nil {
		return line, fmt.Errorf("%s: %w\n%s", line, err, output)
	}
	return line, nil
}
