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
	c := cluster
	if currentNode != nil && currentNode.fixture == f {
		c = nodeCluster // a node spec's objects live in the node's cluster
	}
	places, err := c.NamespaceObjects(ctx, f.Namespace)
	Expect(err).NotTo(HaveOccurred())
	Expect(places).To(HaveKey("serviceaccounts "+f.ServiceAccount), "the object scan sees the namespace")

	logs, err := filepath.Glob(filepath.Join(filepath.Dir(env.WebhookLog), "*.log"))
	Expect(err).NotTo(HaveOccurred())
	nodeLogs, err := filepath.Glob(filepath.Join(env.Node.Dir, "*.log")) // kubelet, containerd, ...
	Expect(err).NotTo(HaveOccurred())
	Expect(nodeLogs).NotTo(BeEmpty())
	logs = append(logs, nodeLogs...)
	Expect(logs).To(ContainElement(env.WebhookLog))
	for _, path := range logs {
		data, err := os.ReadFile(path)
		Expect(err).NotTo(HaveOccurred())
		places["log "+filepath.Base(path)] = data
	}

	addrs, err := framework.WebhookMetricsAddrs(logs...)
	Expect(err).NotTo(HaveOccurred())
	scraped := 0
	for _, addr := range slices.Compact(addrs) {
		body, ok, err := framework.ScrapeMetrics(ctx, addr)
		Expect(err).NotTo(HaveOccurred())
		if ok {
			places["metrics "+addr] = body
			scraped++
		}
	}
	Expect(scraped).To(BeNumerically(">", 0), "the suite's webhook serves /metrics")

	if c == nodeCluster {
		for _, name := range currentNode.pods {
			var pod corev1.Pod
			Expect(c.Client.Get(ctx, client.ObjectKey{Namespace: f.Namespace, Name: name}, &pod)).To(Succeed())
			for _, ct := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
				log, err := podLogs(ctx, f.Namespace, name, ct.Name)
				if err != nil {
					continue // a container that never started has no log
				}
				places["kubectl logs "+name+" -c "+ct.Name] = []byte(log)
			}
		}
	}
	return places
}
