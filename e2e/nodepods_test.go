//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// newFixture makes the namespace (with labels, such as a Pod Security level), the
// tenant and the secret "db" whose password is the spec's canary.
func newFixture(ctx SpecContext, labels map[string]string) *fixture {
	id := strings.ToLower(rand.Text()[:10])
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "node-" + id, Labels: labels}}
	Expect(nodeCluster.Client.Create(ctx, ns)).To(Succeed())
	t, err := framework.NewTenantOn(ctx, nodeCluster, env.Vault, framework.NodeAuthMount, ns.Name, "app-"+id)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(t.Delete)
	f := &fixture{Tenant: t, canary: "canary-" + rand.Text()}
	Expect(t.PutSecret(ctx, "db", map[string]string{"password": f.canary})).To(Succeed())
	current = f
	return f
}

// sha256Hex is what `testapp has` compares a variable with, so the app proves it got the
// value without printing it.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// hasCommand is the test app checking that DB_PASSWORD is the canary, then waiting.
func (f *fixture) hasCommand() []string {
	return []string{"/testapp", "has", "DB_PASSWORD", sha256Hex(f.canary)}
}

// checkCommand is the test app exiting 0 only when DB_PASSWORD is the canary: an init
// container or exec probe that succeeds only with the secret.
func (f *fixture) checkCommand() []string {
	return []string{"/testapp", "check", "DB_PASSWORD", sha256Hex(f.canary)}
}

// nodePod is what a developer writes for the node: one container "app" from the test
// app image whose DB_PASSWORD is a reference to the canary, tolerating the node's taint.
func (f *fixture) nodePod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.Namespace, Name: name},
		Spec: corev1.PodSpec{
			ServiceAccountName: f.ServiceAccount,
			RestartPolicy:      corev1.RestartPolicyNever,
			Tolerations: []corev1.Toleration{{
				Key: framework.NodeTaint, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
			}},
			Containers: []corev1.Container{{
				Name:    "app",
				Image:   env.Node.Images.App,
				Command: f.hasCommand(),
				Env:     []corev1.EnvVar{{Name: "DB_PASSWORD", Value: f.Ref("db", "password")}},
			}},
		},
	}
}

// createOnNode submits the pod (through the node's webhook) and returns what was stored.
func (f *fixture) createOnNode(ctx SpecContext, pod *corev1.Pod) *corev1.Pod {
	GinkgoHelper()
	Expect(nodeCluster.CreatePod(ctx, pod.DeepCopy())).To(Succeed())
	f.pods = append(f.pods, pod.Name)
	stored := &corev1.Pod{}
	Expect(nodeCluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), stored)).To(Succeed())
	return stored
}

// podLogs is `kubectl logs` of one container: from the kubelet, through the apiserver.
func podLogs(ctx SpecContext, namespace, pod, container string) (string, error) {
	data, err := nodeCluster.Clientset.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
	return string(data), err
}

// appTerminated polls how container "app" of the pod ended; nil while it runs.
func appTerminated(ctx SpecContext, pod *corev1.Pod) func() (*corev1.ContainerStateTerminated, error) {
	return func() (*corev1.ContainerStateTerminated, error) {
		var p corev1.Pod
		if err := nodeCluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), &p); err != nil {
			return nil, err
		}
		for _, c := range p.Status.ContainerStatuses {
			if c.Name == "app" {
				return c.State.Terminated, nil
			}
		}
		return nil, nil
	}
}

// expectEnvexecStopped expects envexec to stop container "app" of the stored pod with
// code before the application ran, the canary in no log line; it returns envexec's
// failure record.
func expectEnvexecStopped(ctx SpecContext, f *fixture, stored *corev1.Pod, code int) map[string]any {
	GinkgoHelper()
	expectInjectedFrom(stored, "app")
	Eventually(ctx, appTerminated(ctx, stored)).WithPolling(250*time.Millisecond).
		Should(HaveField("ExitCode", BeEquivalentTo(code)), "envexec's exit code is the container's")
	log := appLog(ctx, f, stored.Name)
	Expect(log).NotTo(ContainSubstring("ready pid="), "the application must not have started")
	expectNoLeak(f.canary, map[string][]byte{"kubectl logs": []byte(log)})
	return envexecFailure([]byte(log))
}

// appLog is `kubectl logs` of container "app" of the pod: envexec's lines and the test
// app's.
func appLog(ctx SpecContext, f *fixture, pod string) string {
	GinkgoHelper()
	log, err := podLogs(ctx, f.Namespace, pod, "app")
	Expect(err).NotTo(HaveOccurred())
	return log
}

// waitForApp waits until the test app in the container said it is up and returns its
// log (envexec's own lines included, as kubectl logs shows both streams); it stops at
// once when the pod can no longer get there (a container failed or cannot start).
func waitForApp(ctx SpecContext, namespace, pod, container string) string {
	GinkgoHelper()
	var log string
	Eventually(ctx, func() (string, error) {
		var p corev1.Pod
		if err := nodeCluster.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: pod}, &p); err != nil {
			return "", err
		}
		if why := stuck(&p); why != "" {
			return "", StopTrying("pod " + pod + " cannot get there: " + why)
		}
		var err error
		log, err = podLogs(ctx, namespace, pod, container)
		return log, err
	}).WithPolling(200 * time.Millisecond).Should(ContainSubstring("ready pid="))
	return log
}

// expectGotSecret checks the test app's log: the value it got is the canary (by hash),
// and it runs as PID 1 of the container (envexec exec'd it) with the given UID.
func expectGotSecret(log string, uid int) {
	GinkgoHelper()
	Expect(log).To(MatchRegexp(`(?m)^match$`), "the application received the secret")
	Expect(log).NotTo(ContainSubstring("mismatch"))
	Expect(log).To(MatchRegexp(fmt.Sprintf(`(?m)^ready pid=1 uid=%d$`, uid)), "the application is PID 1: envexec exec'd it")
}

// stuck says why a pod will never run, or is "".
func stuck(p *corev1.Pod) string {
	if p.Status.Phase == corev1.PodFailed {
		return "phase Failed: " + p.Status.Message
	}
	for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if t := s.State.Terminated; t != nil && t.ExitCode != 0 {
			return fmt.Sprintf("container %s exited %d (%s): %s", s.Name, t.ExitCode, t.Reason, t.Message)
		}
		if w := s.State.Waiting; w != nil && (strings.Contains(w.Reason, "Err") || strings.Contains(w.Reason, "BackOff")) {
			return fmt.Sprintf("container %s waiting (%s): %s", s.Name, w.Reason, w.Message)
		}
	}
	return ""
}

// webhookLinesAbout polls the logs of release's replicas for their lines about one pod
// (namespace/name).
func webhookLinesAbout(ctx SpecContext, release framework.Chart, pod string) func() (string, error) {
	return func() (string, error) {
		logs, err := release.WebhookLogs(ctx, env.Node.Kubectl)
		return linesWith(logs, pod), err
	}
}

// kubectl runs the real kubectl against the node's cluster as its admin.
func kubectl(ctx context.Context, args ...string) (string, error) {
	return framework.RunKubectl(ctx, env.Node.Kubectl, env.Node.Kubeconfig, args...)
}

// nodeEnvFile is where the app of nodeEnvPod writes its environment, in the emptyDir "out".
const nodeEnvFile = "/out/env"

// nodeEnvPod is nodePod with vars instead of DB_PASSWORD and annotations, whose app
// writes the environment it received to nodeEnvFile (testapp envfile) and waits.
func (f *fixture) nodeEnvPod(name string, vars []corev1.EnvVar, annotations map[string]string) *corev1.Pod {
	pod := f.nodePod(name)
	pod.Annotations = annotations
	c := &pod.Spec.Containers[0]
	c.Command, c.Env = []string{"/testapp", "envfile", nodeEnvFile}, vars
	c.VolumeMounts = []corev1.VolumeMount{{Name: "out", MountPath: "/out"}}
	pod.Spec.Volumes = []corev1.Volume{{Name: "out", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	return pod
}

// runNodeEnvPod creates the pod on the node, waits for its app, and returns what was
// stored and the environment the app received, read from its file with kubectl exec.
func (f *fixture) runNodeEnvPod(ctx SpecContext, pod *corev1.Pod) (*corev1.Pod, map[string]string) {
	GinkgoHelper()
	stored := f.createOnNode(ctx, pod)
	expectInjectedFrom(stored, "app")
	waitForApp(ctx, f.Namespace, pod.Name, "app")
	out, err := execOut(ctx, f, pod.Name, "app", "/testapp", "cat", nodeEnvFile)
	Expect(err).NotTo(HaveOccurred())
	got := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(out, "\x00"), "\x00") {
		name, value, ok := strings.Cut(kv, "=")
		Expect(ok).To(BeTrue(), "malformed environment entry of %d bytes", len(kv))
		got[name] = value
	}
	return stored, got
}

// execOut is what a command run in a container of a node pod printed, through the kubelet
// (kubectl exec).
func execOut(ctx SpecContext, f *fixture, pod, container string, argv ...string) (string, error) {
	return kubectl(ctx, append([]string{"exec", "-n", f.Namespace, pod, "-c", container, "--"}, argv...)...)
}

// expectNoLeakOnNode checks, through kubectl, every place a user or operator looks at a
// running pod: each container's log, describe, the stored pod, the namespace's events,
// and the environment an exec session in each running container gets from the kubelet;
// plus the node webhook's log. The exec environments must hold the container's spec
// (references, not values): envexec resolved them only for the application's process.
// The canary of f is checked, and extra ones.
func expectNoLeakOnNode(ctx SpecContext, f *fixture, pod *corev1.Pod, running []string, extra ...string) {
	GinkgoHelper()
	places := map[string][]byte{}
	specs := map[string]corev1.Container{}
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		specs[c.Name] = c
		out, err := kubectl(ctx, "logs", "-n", f.Namespace, pod.Name, "-c", c.Name)
		Expect(err).NotTo(HaveOccurred())
		places["kubectl logs -c "+c.Name] = []byte(out)
	}
	for _, c := range running {
		out, err := execOut(ctx, f, pod.Name, c, "/testapp", "env")
		Expect(err).NotTo(HaveOccurred())
		for _, e := range specs[c].Env {
			// The kubelet turns $$ into $ and expands $(VAR): values with $( are skipped.
			if e.Value != "" && !strings.Contains(e.Value, "$(") {
				Expect(out).To(ContainSubstring(e.Name+"="+strings.ReplaceAll(e.Value, "$$", "$")), "kubectl exec %s env shows the container's spec", c)
			}
		}
		places["kubectl exec -c "+c+" -- env"] = []byte(out)
	}
	for name, args := range map[string][]string{
		"kubectl describe pod":       {"describe", "pod", "-n", f.Namespace, pod.Name},
		"kubectl get pod -o yaml":    {"get", "pod", "-n", f.Namespace, pod.Name, "-o", "yaml"},
		"kubectl get events -o yaml": {"get", "events", "-n", f.Namespace, "-o", "yaml"},
	} {
		out, err := kubectl(ctx, args...)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring(pod.Name))
		places[name] = []byte(out)
	}
	webhookLog, err := env.Node.Chart.WebhookLogs(ctx, env.Node.Kubectl)
	Expect(err).NotTo(HaveOccurred())
	Expect(webhookLog).To(ContainSubstring(f.Namespace), "a webhook replica logged this pod")
	places["kubectl logs of the webhook replicas"] = []byte(webhookLog)
	for _, canary := range append([]string{f.canary}, extra...) {
		expectNoLeak(canary, places)
	}
}
