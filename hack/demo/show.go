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

// showPod creates the demo pod through the webhook, prints what was stored, runs it and
// prints what the application and envexec said, then checks the value leaked nowhere.
func showPod(ctx context.Context, s *framework.Stack, secret string, stdout, stderr io.Writer) error {
	if err := s.Cluster.Client.Create(ctx, demoPod(podName)); err != nil {
		return fmt.Errorf("create pod %s: %w", podKey(), err)
	}
	stored := &corev1.Pod{}
	if err := s.Cluster.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: podName}, stored); err != nil {
		return fmt.Errorf("get pod %s: %w", podKey(), err)
	}
	stored.ManagedFields = nil // noise for a reader
	out, err := yaml.Marshal(stored)
	if err != nil {
		return fmt.Errorf("render pod: %w", err)
	}
	fmt.Fprintf(stdout, "# pod %s as the apiserver stored it, mutated by vault-injector:\n%s\n", podKey(), out)

	appOut, envexecErr, err := runPod(ctx, s, stored)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(secret))
	fmt.Fprintf(stdout, "# envexec (stderr):\n%s# application (stdout):\n%s", envexecErr, appOut)
	fmt.Fprintf(stdout, "# expected: %d bytes, sha256 %s\n", len(secret), hex.EncodeToString(sum[:])[:16])
	if !strings.Contains(string(appOut), hex.EncodeToString(sum[:])[:16]) {
		return fmt.Errorf("the application did not receive the secret; stderr:\n%s", envexecErr)
	}
	return checkLeaks(ctx, s, secret, appOut, envexecErr, stderr)
}

// runPod plays the kubelet for the stored pod and waits for the application to exit.
func runPod(ctx context.Context, s *framework.Stack, stored *corev1.Pod) (appOut, envexecErr []byte, err error) {
	p, err := s.Runner.Prepare(ctx, stored)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if stopErr := p.Stop(); err == nil {
			err = stopErr
		}
	}()
	if err := p.Run(ctx); err != nil {
		return nil, nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	code, err := p.Wait(wctx, "app")
	appOut, envexecErr = p.Logs("app")
	if err != nil {
		return nil, nil, err
	}
	if code != 0 {
		return nil, nil, &framework.ContainerError{Container: "app", ExitCode: code, Stderr: envexecErr}
	}
	return appOut, envexecErr, nil
}

// checkLeaks looks for the value where an operator or attacker could read it.
func checkLeaks(ctx context.Context, s *framework.Stack, secret string, appOut, envexecErr []byte, w io.Writer) error {
	podJSON, err := s.Cluster.PodJSON(ctx, namespace, podName)
	if err != nil {
		return err
	}
	webhookLog, err := s.Webhook.Log()
	if err != nil {
		return err
	}
	places := map[string][]byte{
		"stored pod": podJSON, "webhook log": webhookLog, "envexec stderr": envexecErr, "application stdout": appOut,
	}
	if err := framework.CheckNoLeak(secret, places); err != nil {
		return err
	}
	fmt.Fprintln(w, "leak check passed: the value is in neither the stored pod, the webhook log, envexec's log nor the output")
	return nil
}
