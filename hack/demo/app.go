package main

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

const (
	namespace = "demo"
	// secretPath is the KV v2 API path of `vault kv put secret/demo password=...`.
	secretPath = "secret/data/demo"
	reference  = "vault:" + secretPath + "#password"
)

// greeting proves the application got the secret without printing it: its length and a
// SHA-256 prefix. $$ is the kubelet's escape for a literal $.
const greeting = `echo "hello from PID $$$$: DB_PASSWORD has $${#DB_PASSWORD} bytes, ` +
	`sha256 $$(printf %s "$DB_PASSWORD" | sha256sum | cut -c1-16)"`

// setupVault gives ServiceAccount demo/demo a role that may read secretPath, and writes
// the secret.
func setupVault(ctx context.Context, s *framework.Stack, secret string) error {
	t, err := framework.NewTenant(ctx, s.Cluster, s.Vault.Client(), namespace, "demo")
	if err != nil {
		return err
	}
	if err := t.AllowRead(ctx, secretPath); err != nil {
		return err
	}
	return s.Vault.Client().PutSecret(ctx, secretPath, map[string]string{"password": secret})
}

// demoPod is what a developer writes: a reference instead of a value.
func demoPod(name string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.PodSpec{
			ServiceAccountName: "demo",
			RestartPolicy:      corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name:    "app",
				Image:   "busybox:1.37",
				Command: []string{"/bin/sh", "-c", greeting},
				Env:     []corev1.EnvVar{{Name: "DB_PASSWORD", Value: reference}},
			}},
		},
	}
}

// podName is the pod the demo creates and runs itself.
const podName = "hello"

func podKey() string { return fmt.Sprintf("%s/%s", namespace, podName) }
