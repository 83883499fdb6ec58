package vaultdev

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// FindBinary returns the vault binary to run: $VAULT_BIN if set, otherwise the one
// hack/tools/build.sh prints (it builds into a versioned cache outside the repository
// when missing, which takes minutes cold). Build progress goes to log (nil discards).
func FindBinary(ctx context.Context, log io.Writer) (string, error) {
	if bin := os.Getenv("VAULT_BIN"); bin != "" {
		return bin, nil
	}
	if log == nil {
		log = io.Discard
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, err := repoRoot(wd)
	if err != nil {
		return "", err
	}
	unlock, err := lockBuild()
	if err != nil {
		return "", err
	}
	defer unlock()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "hack", "tools", "build.sh"), "vault") //nolint:gosec // the repository's own script
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &out, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("hack/tools/build.sh vault: %w", err)
	}
	lines := strings.Fields(out.String())
	if len(lines) == 0 {
		return "", errors.New("hack/tools/build.sh vault printed no path")
	}
	return lines[len(lines)-1], nil
}

// repoRoot walks up from dir to the module root that holds hack/tools/build.sh (the
// tool modules under hack/tools have their own go.mod, so go.mod alone is not enough).
func repoRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if isFile(filepath.Join(d, "go.mod")) && isFile(filepath.Join(d, "hack", "tools", "build.sh")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod with hack/tools/build.sh above %s; set VAULT_BIN", dir)
		}
	}
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
