package framework

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ServeRegistry makes registry (host:port on loopback, plain HTTP) reachable at the node's
// address, and tells containerd it speaks plain HTTP there. It returns that address: an
// image named on it resolves the same for the kubelet, for pods and for a webhook that runs
// as a pod, where 127.0.0.1 is the pod's own loopback.
func (n *Node) ServeRegistry(ctx context.Context, registry string) (string, error) {
	addr, err := n.Forward(ctx, registry)
	if err != nil {
		return "", err
	}
	return addr, nodePaths{dir: n.Dir}.writeRegistryHosts(addr)
}

// Chart is a release of charts/vault-injector, installed with helm as users install it.
type Chart struct {
	// Helm is the helm binary; Source is the chart: a folder, or oci://host/path@sha256:…
	// from a registry on plain HTTP.
	Helm, Source string
	// Kubeconfig is an admin kubeconfig file of the cluster.
	Kubeconfig string
	// Release and Namespace name the release; the namespace is created.
	Release, Namespace string
	// Home holds helm's configuration, cache and data, so the user's are neither read
	// nor changed.
	Home string
}

// Install runs `helm install --wait` with values (written to a file, as users pass
// them) and returns helm's output; it waits for every replica to be Ready.
func (c Chart) Install(ctx context.Context, values map[string]any, timeout time.Duration) (string, error) {
	data, err := json.MarshalIndent(values, "", "  ") // JSON is YAML
	if err != nil {
		return "", fmt.Errorf("chart values: %w", err)
	}
	file := c.ValuesFile()
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return "", fmt.Errorf("chart values: %w", err)
	}
	args := []string{"install", c.Release, c.Source, "--create-namespace", "--values", file, "--wait", "--timeout", timeout.String()}
	if strings.HasPrefix(c.Source, "oci://") {
		args = append(args, "--plain-http")
	}
	return c.Run(ctx, args...)
}

// Uninstall removes the release and waits for its objects to be gone.
func (c Chart) Uninstall(ctx context.Context) error {
	_, err := c.Run(ctx, "uninstall", c.Release, "--wait")
	return err
}

// Env is helm's environment for this release: its folders, for a runbook's shell too.
func (c Chart) Env() map[string]string {
	return map[string]string{
		"HELM_CONFIG_HOME": filepath.Join(c.Home, "config"),
		"HELM_CACHE_HOME":  filepath.Join(c.Home, "cache"),
		"HELM_DATA_HOME":   filepath.Join(c.Home, "data"),
	}
}

// ValuesFile is the values file Install wrote, as a user keeps one.
func (c Chart) ValuesFile() string { return filepath.Join(c.Home, c.Release+"-values.yaml") }

// Run runs helm against the release's cluster and namespace.
func (c Chart) Run(ctx context.Context, args ...string) (string, error) {
	args = append(args, "--kubeconfig", c.Kubeconfig, "--namespace", c.Namespace)
	cmd := exec.CommandContext(ctx, c.Helm, args...) //nolint:gosec // the cached helm build
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.Home}
	for k, v := range c.Env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args[:2], " "), err, out.Bytes())
	}
	return out.String(), nil
}

// WebhookSelector selects the chart's webhook pods.
const WebhookSelector = "app.kubernetes.io/name=vault-injector"

// WebhookLogs is `kubectl logs` of every webhook replica, each line prefixed with its pod.
func (c Chart) WebhookLogs(ctx context.Context, kubectl string) (string, error) {
	return RunKubectl(ctx, kubectl, c.Kubeconfig, "logs", "-n", c.Namespace, "-l", WebhookSelector, "--prefix", "--tail=-1")
}

// Report is what a failure needs to know of the release: its pods, its namespace's
// events and the end of the replicas' logs.
func (c Chart) Report(ctx context.Context, kubectl string) string {
	var b strings.Builder
	for _, args := range [][]string{
		{"get", "pods", "-n", c.Namespace, "-o", "wide"},
		{"get", "events", "-n", c.Namespace},
	} {
		out, err := RunKubectl(ctx, kubectl, c.Kubeconfig, args...)
		fmt.Fprintf(&b, "$ kubectl %s (err %v)\n%s\n", strings.Join(args, " "), err, out)
	}
	logs, err := c.WebhookLogs(ctx, kubectl)
	fmt.Fprintf(&b, "$ kubectl logs -l %s (err %v)\n%s\n", WebhookSelector, err, tail([]byte(logs), 16<<10))
	return b.String()
}

// RunKubectl runs kubectl with a kubeconfig and returns its standard output; the error
// holds its standard error.
func RunKubectl(ctx context.Context, kubectl, kubeconfig string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...) //nolint:gosec // the cached kubectl
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// CreatePod creates a pod, retrying the one error a fresh namespace gives on a cluster with
// the ServiceAccount admission plugin: its informer has not seen the namespace's account yet.
func (c *Cluster) CreatePod(ctx context.Context, pod *corev1.Pod, opts ...client.CreateOption) error {
	for {
		err := c.Client.Create(ctx, pod, opts...)
		if err == nil {
			return nil
		}
		if !strings.Contains(err.Error(), "error looking up service account") {
			return fmt.Errorf("create pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitPodSucceeded waits until a kubelet has run the pod to completion; a failed pod, or
// one still not done after timeout, is an error.
func (c *Cluster) WaitPodSucceeded(ctx context.Context, namespace, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		var p corev1.Pod
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &p); err != nil {
			return fmt.Errorf("pod %s/%s: %w", namespace, name, err)
		}
		if p.Status.Phase == corev1.PodSucceeded {
			return nil
		}
		if p.Status.Phase == corev1.PodFailed {
			return fmt.Errorf("pod %s/%s failed: %s", namespace, name, p.Status.Message)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pod %s/%s not done (phase %s): %w", namespace, name, p.Status.Phase, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ReplicaMetrics is what /metrics of each of the named webhook replicas serves now,
// fetched through the apiserver's pod proxy as a user would without a port-forward. The
// port is the Deployment's container port named metrics, the same for every replica. Every
// failure is an error: callers name only replicas that are Ready and not being deleted.
func (c Chart) ReplicaMetrics(ctx context.Context, kubectl string, pods []string) (map[string][]byte, error) {
	port, err := RunKubectl(ctx, kubectl, c.Kubeconfig, "get", "deployment", "-n", c.Namespace, c.Release,
		`-o=jsonpath={.spec.template.spec.containers[0].ports[?(@.name=="metrics")].containerPort}`)
	if err != nil {
		return nil, err
	}
	if port == "" {
		return nil, fmt.Errorf("deployment %s/%s serves no port named metrics", c.Namespace, c.Release)
	}
	bodies := map[string][]byte{}
	for _, pod := range pods {
		body, err := RunKubectl(ctx, kubectl, c.Kubeconfig, "get", "--raw",
			"/api/v1/namespaces/"+c.Namespace+"/pods/"+pod+":"+port+"/proxy/metrics")
		if err != nil {
			return nil, fmt.Errorf("/metrics of webhook replica %s: %w", pod, err)
		}
		bodies[pod] = []byte(body)
	}
	return bodies, nil
}

// ReplicaLogs is `kubectl logs` of each of the named webhook replicas, by pod.
func (c Chart) ReplicaLogs(ctx context.Context, kubectl string, pods []string) (map[string][]byte, error) {
	logs := map[string][]byte{}
	for _, pod := range pods {
		out, err := RunKubectl(ctx, kubectl, c.Kubeconfig, "logs", "-n", c.Namespace, pod, "--tail=-1")
		if err != nil {
			return nil, err
		}
		logs[pod] = []byte(out)
	}
	return logs, nil
}
