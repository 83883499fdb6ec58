// Package apiservertest starts a real kube-apiserver and etcd (envtest) for a test, from
// KUBEBUILDER_ASSETS or the cached build of hack/tools/build.sh, so the packages that need
// one share a single way to get it.
package apiservertest

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/vault-injector/vault-injector/internal/kube"
	"github.com/vault-injector/vault-injector/internal/tools"
)

// Start starts the apiserver and stops it when the test ends; its Config and KubeConfig
// are an admin's.
func Start(t testing.TB) *envtest.Environment {
	t.Helper()
	assets, err := tools.KubebuilderAssets(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	if _, err := env.Start(); err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop kube-apiserver: %v", err)
		}
	})
	return env
}

// Client is the webhook's own client for env, as an admin: it reads env's kubeconfig as
// the webhook reads one.
func Client(t testing.TB, env *envtest.Environment) *kube.Client {
	t.Helper()
	cfg, err := kube.ConfigFromKubeconfig(env.KubeConfig)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
