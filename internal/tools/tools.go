// Package tools finds the real test components (kube-apiserver and etcd, Vault, helm): a
// path from the environment when a developer or CI sets one, else the cached build of
// hack/tools/build.sh, which builds what is missing. Tests, the e2e suite and the demo all
// find them the same way.
package tools

import (
	"bufio"
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

// modulePath identifies this repository's go.mod.
const modulePath = "github.com/vault-injector/vault-injector"

// Environment variables that override the cached builds.
const (
	EnvAssets   = "KUBEBUILDER_ASSETS"
	EnvVault    = "VAULT_BIN"
	EnvHelm     = "HELM_BIN"
	EnvRegistry = "REGISTRY_BIN"
	EnvKubectl  = "KUBECTL_BIN"
	EnvPromtool = "PROMTOOL_BIN"
	EnvNode     = "NODE_BIN_DIR"
	EnvCosign   = "COSIGN_BIN"
)

// KubebuilderAssets is the folder holding kube-apiserver and etcd, for envtest.
func KubebuilderAssets(ctx context.Context, progress io.Writer) (string, error) {
	return Locate(ctx, EnvAssets, "", progress)
}

// Vault is the vault server binary.
func Vault(ctx context.Context, progress io.Writer) (string, error) {
	return Locate(ctx, EnvVault, "vault", progress)
}

// Helm is the helm binary.
func Helm(ctx context.Context, progress io.Writer) (string, error) {
	return Locate(ctx, EnvHelm, "helm", progress)
}

// Promtool is Prometheus' promtool, which checks and unit-tests the chart's alerting rules.
func Promtool(ctx context.Context, progress io.Writer) (string, error) {
	return Locate(ctx, EnvPromtool, "promtool", progress)
}

// Kubectl is kubectl at the apiserver's version, for tests that run what a runbook says.
func Kubectl(ctx context.Context, progress io.Writer) (string, error) {
	return Locate(ctx, EnvKubectl, "kubectl", progress)
}

// NodeBinaries is the folder holding the e2e node's kubelet, kube-controller-manager,
// kube-scheduler, containerd and containerd-shim-runc-v2 (one Kubernetes
// version with kube-apiserver); the node puts it first on containerd's PATH for the shim.
func NodeBinaries(ctx context.Context, progress io.Writer) (string, error) {
	return Locate(ctx, EnvNode, "node", progress)
}

// Cosign is the cosign binary, which signs and verifies releases.
func Cosign(ctx context.Context, progress io.Writer) (string, error) {
	return Locate(ctx, EnvCosign, "cosign", progress)
}

// DistributionRegistry is Debian's docker-registry (the CNCF distribution server), which
// hack/tools/registry.sh installs if missing.
func DistributionRegistry(ctx context.Context, progress io.Writer) (string, error) {
	return locateWith(ctx, EnvRegistry, "registry.sh", "", progress)
}

// Locate returns $envVar if set, else the path hack/tools/build.sh prints for component
// ("" for the envtest assets folder). The script's progress goes to progress (may be nil);
// a cold build takes minutes, and build.sh serialises concurrent builds itself.
func Locate(ctx context.Context, envVar, component string, progress io.Writer) (string, error) {
	return locateWith(ctx, envVar, "build.sh", component, progress)
}

func locateWith(ctx context.Context, envVar, script, component string, progress io.Writer) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		return p, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	var args []string
	if component != "" {
		args = append(args, component)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(root, "hack", "tools", script)}, args...)...) //nolint:gosec // the repository's own script
	cmd.Dir = root
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if progress != nil {
		cmd.Stderr = io.MultiWriter(&stderr, progress)
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("hack/tools/%s %s: %w: %s", script, component, err, lastBytes(stderr.Bytes(), 2048))
	}
	last := ""
	for sc := bufio.NewScanner(&stdout); sc.Scan(); {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			last = line
		}
	}
	if last == "" {
		return "", fmt.Errorf("hack/tools/%s %s printed no path", script, component)
	}
	return last, nil
}

// RepoRoot finds the folder holding this module's go.mod, walking up from the working
// directory: go test runs in the package's folder, the demo in the repository's.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(data, []byte("module "+modulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of module " + modulePath + " above the working directory")
		}
		dir = parent
	}
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
