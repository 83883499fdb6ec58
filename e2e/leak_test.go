//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"slices"
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
//   - every component log: the webhooks' (at debug), the apiservers' (which log failed
//     webhook calls with their messages), Vault's, the registry's, and the node's
//     (kubelet, containerd, controller-manager, scheduler);
//   - envexec's log (at the level each pod asked for; debug where specs set it) and
//     every other container's log through the kubelet (kubectl logs), including failure
//     records and error messages;
//   - every webhook's /metrics.
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

	// The replicas' logs and /metrics; a spec may have scaled them to zero.
	var replicas corev1.PodList
	Expect(nodeCluster.Client.List(ctx, &replicas, client.InNamespace(env.Node.Chart.Namespace),
		client.MatchingLabels{"app.kubernetes.io/name": "vault-injector"})).To(Succeed())
	replicaLogs, err := env.Node.Chart.WebhookLogs(ctx, env.Node.Kubectl)
	Expect(err).NotTo(HaveOccurred())
	places["kubectl logs of the webhook replicas"] = []byte(replicaLogs)
	metrics, err := env.Node.Chart.ReplicaMetrics(ctx, env.Node.Kubectl)
	Expect(err).NotTo(HaveOccurred())
	serving := func(p corev1.Pod) bool {
		return p.DeletionTimestamp == nil && slices.ContainsFunc(p.Status.Conditions, func(c corev1.PodCondition) bool {
			return c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
		})
	}
	if slices.ContainsFunc(replicas.Items, serving) {
		Expect(replicaLogs).To(ContainSubstring(`"msg":"serving"`), "the replicas' logs are read")
		Expect(metrics).NotTo(BeEmpty(), "a running webhook replica serves /metrics")
	}
	for pod, body := range metrics {
		Expect(string(body)).To(ContainSubstring("vault_injector_"), "replica %s's /metrics", pod)
		places["metrics of replica "+pod] = body
	}

	for _, name := range currentNode.pods {
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
