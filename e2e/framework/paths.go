package framework

import (
	"context"

	"github.com/vault-injector/vault-injector/internal/tools"
)

// RepoRoot finds the folder holding this module's go.mod, because binaries are built and
// tool scripts run relative to it.
func RepoRoot() (string, error) {
	return tools.RepoRoot()
}

// KubebuilderAssets returns the folder holding kube-apiserver and etcd: KUBEBUILDER_ASSETS
// if set, else the cached build of hack/tools/build.sh (which builds what is missing).
// root is kept for callers; the location is found from the working directory.
func KubebuilderAssets(ctx context.Context, _ string) (string, error) {
	return tools.KubebuilderAssets(ctx, nil)
}

// tail keeps the end of a log for an error message, where the cause usually is.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// NodeBinaries returns the folder holding the node's kubelet, kube-controller-manager,
// kube-scheduler, containerd and its shim: NODE_BIN_DIR if set, else the cached build of
// hack/tools/build.sh node.
func NodeBinaries(ctx context.Context) (string, error) {
	return tools.NodeBinaries(ctx, nil)
}
