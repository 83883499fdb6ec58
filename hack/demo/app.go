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

// setupVault gives ServiceAccount demo/demo a role that may read secretPath, and writes
// the secret.
func setupVault(ctx context.Context, s *framework.NodeStack, secret string) error {
	c, err := framework.NewCluster(s.API)
	if err != nil {
		return err
	}
	t, err := framework.NewTenantOn(ctx, c, s.Vault, s.AuthMount, namespace, "demo")
	if err != nil {
		return err
	}
	if err := t.AllowRead(ctx, secretPath); err != nil {
		return err
	}
	return s.Vault.PutSecret(ctx, secretPath, map[string]string{"password": secret})
}

// demoPod is what a developer writes: a reference instead of a value. The application
// (the node's test app) proves it got the secret without printing it: its length and a
// SHA-256 prefix. The toleration lets it onto the demo's node, which is tainted so that
// only pods meant for it run there.
func demoPod(name, image string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.PodSpec{
			ServiceAccountName: "demo",
			RestartPolicy:      corev1.RestartPolicyNever,
			Tolerations: []corev1.Toleration{{
				Key: framework.NodeTaint, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
			}},
			Containers: []corev1.Container{{
				Name:    "app",
				Image:   image,
				Command: []string{"/testapp", "hash", "DB_PASSWORD"},
				Env:     []corev1.EnvVar{{Name: "DB_PASSWORD", Value: reference}},
			}},
		},
	}
}

// podName is the pod the demo creates and runs itself.
const podName = "hello"

func podKey() string { return fmt.Sprintf("%s/%s", namespace, podName) }
