package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// showPod creates the demo pod through the webhook, prints what was stored, waits for the
// kubelet to run it to completion, prints `kubectl logs` of it (envexec's lines and the
// application's), then checks the value leaked nowhere.
func showPod(ctx context.Context, s *framework.NodeStack, secret string, stdout, stderr io.Writer) error {
	c, err := framework.NewCluster(s.API)
	if err != nil {
		return err
	}
	if err := c.CreatePod(ctx, demoPod(podName, s.Images.App)); err != nil {
		return err
	}
	stored := &corev1.Pod{}
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: podName}, stored); err != nil {
		return fmt.Errorf("get pod %s: %w", podKey(), err)
	}
	stored.ManagedFields = nil // noise for a reader
	out, err := yaml.Marshal(stored)
	if err != nil {
		return fmt.Errorf("render pod: %w", err)
	}
	fmt.Fprintf(stdout, "# pod %s as the apiserver stored it, mutated by vault-injector:\n%s\n", podKey(), out)

	if err := c.WaitPodSucceeded(ctx, namespace, podName, 2*time.Minute); err != nil {
		return err
	}
	logs, err := s.Kubectl(ctx, "logs", "-n", namespace, podName)
	if err != nil {
		return err
	}
	sum := hex.EncodeToString(sha256Sum(secret))[:16]
	fmt.Fprintf(stdout, "# kubectl logs -n %s %s (envexec's lines, then the application's):\n%s", namespace, podName, logs)
	fmt.Fprintf(stdout, "# expected: %d bytes, sha256 %s\n", len(secret), sum)
	if !strings.Contains(logs, fmt.Sprintf("has %d bytes, sha256 %s", len(secret), sum)) {
		return fmt.Errorf("the application did not receive the secret; kubectl logs:\n%s", logs)
	}
	return checkLeaks(ctx, s, secret, logs, stderr)
}

func sha256Sum(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// checkLeaks looks for the value where an operator or attacker could read it: the stored
// pod, its describe and events, its logs and the webhook replicas' logs.
func checkLeaks(ctx context.Context, s *framework.NodeStack, secret, podLogs string, w io.Writer) error {
	places := map[string][]byte{"kubectl logs": []byte(podLogs)}
	for name, args := range map[string][]string{
		"kubectl get pod -o yaml": {"get", "pod", "-n", namespace, podName, "-o", "yaml"},
		"kubectl describe pod":    {"describe", "pod", "-n", namespace, podName},
		"kubectl get events":      {"get", "events", "-n", namespace, "-o", "yaml"},
	} {
		out, err := s.Kubectl(ctx, args...)
		if err != nil {
			return err
		}
		places[name] = []byte(out)
	}
	webhookLogs, err := s.Chart.WebhookLogs(ctx, s.KubectlBin)
	if err != nil {
		return err
	}
	places["webhook replicas' logs"] = []byte(webhookLogs)
	if err := framework.CheckNoLeak(secret, places); err != nil {
		return err
	}
	fmt.Fprintln(w, "leak check passed: the value is in neither the stored pod, its describe, events or logs, nor the webhook's logs")
	return nil
}
