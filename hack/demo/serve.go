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

// serve writes a kubeconfig and an example manifest, says how to use them, and waits
// for ctx to end (Ctrl-C).
func serve(ctx context.Context, s *framework.Stack, stdout io.Writer) error {
	kubeconfig, err := s.ControlPlane.Kubeconfig("demo-admin", "system:masters")
	if err != nil {
		return err
	}
	kcPath := filepath.Join(s.Dir, "kubeconfig")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	manifest, err := yaml.Marshal(demoPod("example"))
	if err != nil {
		return fmt.Errorf("render example: %w", err)
	}
	podPath := filepath.Join(s.Dir, "example-pod.yaml")
	if err := os.WriteFile(podPath, manifest, 0o600); err != nil {
		return fmt.Errorf("write example: %w", err)
	}
	fmt.Fprintf(stdout, `
# Everything keeps running until Ctrl-C. No kubelet runs, so pods stay Pending; look at
# what the webhook made of them:
export KUBECONFIG=%s
kubectl apply -f %s
kubectl get pod -n %s example -o yaml
# webhook log: %s
`, kcPath, podPath, namespace, s.Webhook.LogPath)
	<-ctx.Done()
	return nil
}
