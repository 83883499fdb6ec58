package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// serve writes an example manifest, says how to use it with the cluster's kubeconfig, and
// waits for ctx to end (Ctrl-C).
func serve(ctx context.Context, s *framework.NodeStack, stdout io.Writer) error {
	manifest, err := yaml.Marshal(demoPod("example", s.Images.App))
	if err != nil {
		return fmt.Errorf("render example: %w", err)
	}
	podPath := filepath.Join(filepath.Dir(s.Node.Dir), "example-pod.yaml")
	if err := os.WriteFile(podPath, manifest, 0o600); err != nil {
		return fmt.Errorf("write example: %w", err)
	}
	fmt.Fprintf(stdout, `
# Everything keeps running until Ctrl-C: the cluster, its node, Vault, and vault-injector
# installed by helm (namespace %s). Run the example pod yourself (the PATH line puts
# the kubectl of the apiserver's version first):
export PATH=%s:$PATH
export KUBECONFIG=%s
kubectl apply -f %s
kubectl wait -n %s pod/example --for=jsonpath='{.status.phase}'=Succeeded --timeout=2m
kubectl logs -n %s example
kubectl logs -n %s -l %s --prefix
`, s.Chart.Namespace, filepath.Dir(s.KubectlBin), s.Node.Kubeconfig, podPath, namespace, namespace, s.Chart.Namespace, framework.WebhookSelector)
	<-ctx.Done()
	return nil
}
