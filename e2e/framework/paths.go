package framework

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// modulePath identifies the repository root, so the framework works from any package
// directory (go test runs in the package's folder, the demo in the repository root).
const modulePath = "github.com/vault-injector/vault-injector"

// RepoRoot finds the folder holding this module's go.mod by walking up from the working
// directory, because binaries are built and tool scripts run relative to it.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working directory: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(data, []byte("module "+modulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s above the working directory", modulePath)
		}
		dir = parent
	}
}

// KubebuilderAssets returns the folder holding kube-apiserver and etcd: KUBEBUILDER_ASSETS
// if set, else the cached build of hack/tools/build.sh (which builds what is missing).
func KubebuilderAssets(ctx context.Context, root string) (string, error) {
	if dir := lookupEnv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	return toolScript(ctx, root)
}

// toolScript runs hack/tools/build.sh and returns the last line it printed, which is the
// path the caller asked for; the script's progress on stderr is kept for the error.
func toolScript(ctx context.Context, root string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "tools", "build.sh"), args...) //nolint:gosec // the repository's own script
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("hack/tools/build.sh %s: %w: %s", strings.Join(args, " "), err, tail(stderr.Bytes(), 2048))
	}
	last := ""
	for sc := bufio.NewScanner(&stdout); sc.Scan(); {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			last = line
		}
	}
	if last == "" {
		return "", errors.New("hack/tools/build.sh printed no path")
	}
	return last, nil
}

// lookupEnv is the one place the framework reads the environment: tool locations a
// developer or CI may override.
func lookupEnv(name string) string {
	return os.Getenv(name)
}

// tail keeps the end of a log for an error message, where the cause usually is.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
