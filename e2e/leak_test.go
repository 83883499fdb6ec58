//go:build e2e

package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// The leak canary check of every spec that touches a secret (every spec that made a
// fixture): after the spec, and before its pods stop, no canary of the spec (nor any
// text shaped like a canary) may be anywhere but in the applications' own processes:
//   - every object stored in the spec's namespace (pods, events, configmaps, secrets,
//     serviceaccounts...), except those labelled framework.CanaryHolderLabel;
//   - every component log: the suite's release's webhook replicas (at debug, kubectl
//     logs of each replica that serves; replicas replaced during a spec are gone with
//     their logs), the apiserver's (which logs failed webhook calls with their
//     messages), the Vaults', the registry's, and the node's (kubelet, containerd,
//     controller-manager, scheduler, dnsmasq);
//   - envexec's log (at the level each pod asked for; debug where specs set it) and
//     every other container's log through the kubelet (kubectl logs), including failure
//     records and error messages;
//   - /metrics of each serving replica, through the apiserver's pod proxy.
//
// The environment of a second process in each running container (kubectl exec) is
// checked by the specs themselves (expectNoLeakOnNode), while the pod still runs.
//
// The spec's canaries are the fixture's, plus every canary stored under the tenant's
// folder in Vault; anything else shaped like a canary counts too.
var _ = AfterEach(func(ctx SpecContext) {
	f := current
	if f == nil || CurrentSpecReport().Failed() {
		return // no secret touched, or already failed (ReportAfterEach shows why)
	}
	By("checking no canary of the spec reached any object, log, metric or other process")
	known, err := env.Vault.KVCanaries(ctx, f.Namespace)
	Expect(err).NotTo(HaveOccurred())
	known = append(known, f.canary)
	Expect(framework.CheckNoCanaries(known, leakPlaces(ctx, f))).To(Succeed())
}, NodeTimeout(2*time.Minute))

// leakPlaces gathers every place the check covers, each named for the failure message.
func leakPlaces(ctx SpecContext, f *fixture) map[string][]byte {
	GinkgoHelper()
	places, err := nodeCluster.NamespaceObjects(ctx, f.Namespace)
	Expect(err).NotTo(HaveOccurred())
	Expect(places).To(HaveKey("serviceaccounts "+f.ServiceAccount), "the object scan sees the namespace")

	logs, err := filepath.Glob(filepath.Join(env.LogDir, "*.log")) // control plane, Vaults, registry
	Expect(err).NotTo(HaveOccurred())
	Expect(logs).To(ContainElements(env.VaultLog, env.ControlPlaneLog, env.RegistryLog))
	nodeLogs, err := filepath.Glob(filepath.Join(env.Node.Dir, "*.log")) // kubelet, containerd, ...
	Expect(err).NotTo(HaveOccurred())
	Expect(nodeLogs).NotTo(BeEmpty())
	for _, path := range append(logs, nodeLogs...) {
		data, err := os.ReadFile(path)
		Expect(err).NotTo(HaveOccurred())
		places["log "+filepath.Base(path)] = data
	}

	// The logs and /metrics of every replica that serves now: at least one, as every spec
	// leaves two behind (those being replaced are gone with their logs). Checked by name,
	// never by printing a log or a metrics body, which is where a canary would be.
	replicas, err := webhookPodNames(ctx)
	Expect(err).NotTo(HaveOccurred())
	Expect(replicas).NotTo(BeEmpty(), "a webhook replica serves")
	replicaLogs, err := env.Node.Chart.ReplicaLogs(ctx, env.Node.Kubectl, replicas)
	Expect(err).NotTo(HaveOccurred())
	metrics, err := env.Node.Chart.ReplicaMetrics(ctx, env.Node.Kubectl, replicas)
	Expect(err).NotTo(HaveOccurred())
	for _, pod := range replicas {
		Expect(bytes.Contains(replicaLogs[pod], []byte(`"msg":"serving"`))).To(BeTrue(), "replica %s's log is read from its start", pod)
		Expect(bytes.Contains(metrics[pod], []byte("vault_injector_build_info"))).To(BeTrue(), "replica %s's /metrics is read", pod)
		places["kubectl logs of replica "+pod] = replicaLogs[pod]
		places["metrics of replica "+pod] = metrics[pod]
	}

	for _, name := range f.pods {
		var pod corev1.Pod
		Expect(nodeCluster.Client.Get(ctx, client.ObjectKey{Namespace: f.Namespace, Name: name}, &pod)).To(Succeed())
		for _, ct := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
			log, err := podLogs(ctx, f.Namespace, name, ct.Name)
			if err != nil {
				continue // a container that never started has no log
			}
			places["kubectl logs "+name+" -c "+ct.Name] = []byte(log)
		}
	}
	return places
}
