//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/e2e/framework"
	"github.com/vault-injector/vault-injector/internal/metricstest"
)

// These specs change the chart's release on the node: a rolling upgrade, a replica killed,
// every replica gone. They run alone (Serial), and each leaves two Ready replicas behind.
var _ = Describe("the chart's webhook on the node", Label("node", "chart"), Serial, func() {
	It("keeps admitting through a rolling upgrade run as docs/upgrading.md says", func(ctx SpecContext) {
		f := newFixture(ctx, nil)
		before, err := webhookPodNames(ctx)
		Expect(err).NotTo(HaveOccurred())
		values, err := os.ReadFile(env.Node.Chart.ValuesFile())
		Expect(err).NotTo(HaveOccurred())
		// A changed pod template rolls every replica, as a new release's image does.
		prod := strings.TrimSuffix(strings.TrimSpace(string(values)), "}") +
			`, "podAnnotations": {"e2e.vault-injector.io/rollout": "` + f.Namespace + `"}}`

		c := startCreating(ctx, f)
		c.waitFor(ctx, 3)
		runRunbook(ctx, "upgrading.md", map[string]string{}, map[string]string{"values-prod.yaml": prod}, "Upgrade")
		c.waitFor(ctx, c.count()+3)
		c.stop()

		after, err := webhookPodNames(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(after).To(HaveLen(2))
		for _, name := range after {
			Expect(before).NotTo(ContainElement(name), "every replica was replaced")
		}
		GinkgoWriter.Printf("rolling upgrade: %d pods created, %d refused\n", c.count(), len(c.refusals))
		Expect(c.refusals).To(BeEmpty(), "no pod creation fails while the Deployment rolls")
		c.expectAllInjected(ctx)
	}, SpecTimeout(5*time.Minute))

	It("runs every replica with the webhook's GOGC and a soft memory limit under its container's", func(ctx SpecContext) {
		replicas, err := webhookPodNames(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(replicas).NotTo(BeEmpty())
		limit, err := framework.RunKubectl(ctx, env.Node.Kubectl, env.Node.Chart.Kubeconfig, "get", "deployment", "-n", env.Node.Chart.Namespace,
			env.Node.Chart.Release, `-o=jsonpath={.spec.template.spec.containers[0].resources.limits.memory}`)
		Expect(err).NotTo(HaveOccurred())
		want, err := resource.ParseQuantity(limit)
		Expect(err).NotTo(HaveOccurred(), "the chart sets a memory limit")
		pages, err := env.Node.Chart.ReplicaMetrics(ctx, env.Node.Kubectl, replicas)
		Expect(err).NotTo(HaveOccurred())
		for _, pod := range replicas {
			// Read by name, never printed: a metrics page is no place to show in a failure.
			gogc, ok, err := metricstest.Read(pages[pod], "go_gc_gogc_percent")
			Expect(err).NotTo(HaveOccurred())
			Expect(ok).To(BeTrue(), "replica %s reports its GOGC", pod)
			Expect(gogc).To(Equal(200.0), "replica %s's GOGC", pod)
			// 90% of the limit, as cmd/vault-injector/run.go keeps it.
			soft, ok, err := metricstest.Read(pages[pod], "go_gc_gomemlimit_bytes")
			Expect(err).NotTo(HaveOccurred())
			Expect(ok).To(BeTrue(), "replica %s reports its GOMEMLIMIT", pod)
			Expect(soft).To(Equal(float64(int64(float64(want.Value())*0.9))), "replica %s's GOMEMLIMIT", pod)
		}
	}, SpecTimeout(time.Minute))

	It("fails closed while a replica is killed, and every creation succeeds when retried", func(ctx SpecContext) {
		f := newFixture(ctx, nil)
		replicas, err := webhookPodNames(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(replicas).To(HaveLen(2))

		c := startCreating(ctx, f)
		c.waitFor(ctx, 3)
		By("killing replica " + replicas[0])
		_, err = kubectl(ctx, "delete", "pod", "-n", env.Node.Chart.Namespace, replicas[0], "--grace-period=0", "--force")
		Expect(err).NotTo(HaveOccurred())
		Eventually(ctx, webhookPodNames).WithPolling(time.Second).Should(
			SatisfyAll(HaveLen(2), Not(ContainElement(replicas[0]))), "the Deployment replaces the replica")
		c.waitFor(ctx, c.count()+3)
		c.stop()

		GinkgoWriter.Printf("replica killed: %d pods created, %d creations refused first:\n%s\n",
			c.count(), len(c.refusals), strings.Join(c.refusals, "\n"))
		c.expectAllInjected(ctx)
	}, SpecTimeout(5*time.Minute))

	It("refuses only pods with references while no replica runs, as docs/troubleshooting.md explains", func(ctx SpecContext) {
		f := newFixture(ctx, nil)
		scaleWebhookAway(ctx)

		err := nodeCluster.Client.Create(ctx, f.parkedPod("with-reference"))
		Expect(err).To(MatchError(SatisfyAll(
			ContainSubstring(`failed calling webhook "pods.vault-injector.io"`),
			ContainSubstring("no endpoints available for service"))), "what the runbook's heading and first cause quote")
		plain := f.parkedPod("without-reference")
		plain.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "GREETING", Value: "hello"}}
		Expect(nodeCluster.Client.Create(ctx, plain)).To(Succeed(), "the apiserver does not call the webhook for it")

		out := runRunbook(ctx, "troubleshooting.md", map[string]string{}, nil, "`failed calling webhook`")
		Expect(out).To(MatchRegexp(`deployment.apps/%s\s+0/0`, env.Node.Chart.Release), "the runbook shows no replica")

		By("scaling the replicas back, as the leak check after the spec reads them")
		scaleWebhookBack(ctx)
	}, SpecTimeout(5*time.Minute))

	It("lets pods be created while no replica runs by docs/install.md's emergency bypass, and its undo restores the chart's policy", func(ctx SpecContext) {
		f := newFixture(ctx, nil)
		By(`making the runbook's workload: Deployment "api" in namespace "shop", a reference in its pod template`)
		shop, err := framework.NewTenantOn(ctx, nodeCluster, env.Vault, framework.NodeAuthMount, "shop", "api")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(shop.Delete)
		canary := "canary-" + rand.Text()
		Expect(shop.PutSecret(ctx, "db", map[string]string{"password": canary})).To(Succeed())
		template := f.nodePod("api")
		template.Spec.ServiceAccountName = "api"
		template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		template.Spec.Containers[0].Command = []string{"/testapp", "has", "DB_PASSWORD", sha256Hex(canary)}
		template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "DB_PASSWORD", Value: shop.Ref("db", "password")}}
		labels := map[string]string{"app": "api"}
		api := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "api"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: template.Spec},
			},
		}
		Expect(nodeCluster.Client.Create(ctx, api)).To(Succeed())
		Expect(kubectl(ctx, "rollout", "status", "deployment/api", "-n", "shop", "--timeout=2m")).Error().NotTo(HaveOccurred())
		Expect(shopPods(ctx)).To(ConsistOf(HaveField("Spec.InitContainers", ContainElement(HaveField("Name", "vault-injector-init")))),
			"while the webhook runs, the workload's pod is injected")

		By("scaling every replica away")
		scaleWebhookAway(ctx)
		Expect(nodeCluster.Client.Create(ctx, f.parkedPod("refused"))).To(MatchError(ContainSubstring(`failed calling webhook "pods.vault-injector.io"`)))

		By("running \"One workload\": the labelled template's pods are created unmutated and the rollout completes")
		runRunbook(ctx, "install.md", map[string]string{}, nil, "One workload")
		Expect(shopPods(ctx)).To(ConsistOf(SatisfyAll(
			HaveField("ObjectMeta.Labels", HaveKeyWithValue("vault-injector.io/inject", "false")),
			HaveField("Spec.InitContainers", BeEmpty()),
		)), "the new pod went around the webhook")
		Expect(nodeCluster.Client.Create(ctx, f.parkedPod("still-refused"))).To(MatchError(ContainSubstring(`failed calling webhook`)),
			"other pods with references are still refused")

		By("running \"Every pod\": a pod with a reference is created, unmutated")
		runRunbook(ctx, "install.md", map[string]string{}, nil, "Every pod")
		stored := f.createOnNode(ctx, f.parkedPod("let-through"))
		expectNotInjected(stored)

		By("running \"Undo\": the chart's failure policy and two replicas are back, and pods are injected again")
		out := runRunbook(ctx, "install.md", map[string]string{}, nil, "Undo")
		Expect(out).To(MatchRegexp(`(?m)^Fail$`), "the runbook shows the restored policy")
		Expect(webhookPodNames(ctx)).To(HaveLen(2))
		expectInjectedFrom(f.createOnNode(ctx, f.parkedPod("injected-again")))
		Expect(kubectl(ctx, "rollout", "status", "deployment/api", "-n", "shop", "--timeout=2m")).Error().NotTo(HaveOccurred())
		Expect(shopPods(ctx)).To(ConsistOf(HaveField("Spec.InitContainers", ContainElement(HaveField("Name", "vault-injector-init")))),
			"without the label, the workload's pods are injected again")
	}, SpecTimeout(8*time.Minute))
})

// scaleWebhookAway scales the release's Deployment to zero and waits until every replica
// is gone, not only terminating (a stopping replica admits for its shutdown delay); the
// spec's cleanup scales it back, should the spec not get there.
func scaleWebhookAway(ctx SpecContext) {
	GinkgoHelper()
	DeferCleanup(scaleWebhookBack)
	Expect(kubectl(ctx, "scale", "-n", env.Node.Chart.Namespace, "deployment/"+env.Node.Chart.Release, "--replicas=0")).Error().NotTo(HaveOccurred())
	Eventually(ctx, webhookPods).WithPolling(time.Second).Should(BeEmpty())
}

// scaleWebhookBack scales the release's Deployment to its two replicas and waits until
// both are Ready.
func scaleWebhookBack(ctx SpecContext) {
	GinkgoHelper()
	Expect(kubectl(ctx, "scale", "-n", env.Node.Chart.Namespace, "deployment/"+env.Node.Chart.Release, "--replicas=2")).Error().NotTo(HaveOccurred())
	Eventually(ctx, webhookPodNames).WithPolling(time.Second).Should(HaveLen(2))
}

// shopPods are the running (not terminating) pods of the emergency bypass runbook's workload.
func shopPods(ctx context.Context) ([]corev1.Pod, error) {
	var list corev1.PodList
	if err := nodeCluster.Client.List(ctx, &list, client.InNamespace("shop"), client.MatchingLabels{"app": "api"}); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(list.Items, func(p corev1.Pod) bool { return p.DeletionTimestamp != nil }), nil
}

// parkedPod is nodePod kept off every node: admission is all a spec about the webhook
// needs, so the pod never runs.
func (f *fixture) parkedPod(name string) *corev1.Pod {
	pod := f.nodePod(name)
	pod.Spec.NodeSelector = map[string]string{"e2e.vault-injector.io/parked": "true"}
	return pod
}

// webhookPods are the chart's webhook pods, those being deleted included.
func webhookPods(ctx context.Context) ([]corev1.Pod, error) {
	var list corev1.PodList
	err := nodeCluster.Client.List(ctx, &list, client.InNamespace(env.Node.Chart.Namespace),
		client.MatchingLabels{"app.kubernetes.io/name": "vault-injector"})
	return list.Items, err
}

// webhookPodNames names the Ready webhook pods that are not being deleted.
func webhookPodNames(ctx context.Context) ([]string, error) {
	pods, err := webhookPods(ctx)
	var names []string
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				names = append(names, p.Name)
			}
		}
	}
	return names, err
}

// creator creates parked pods with a reference, one after another, each retried until the
// apiserver stores it, as a controller retries; it keeps each refusal's message.
type creator struct {
	f    *fixture
	done chan struct{}
	quit chan struct{}

	mu       sync.Mutex
	created  []string
	refusals []string
}

// startCreating starts creating pods in f's namespace until stop.
func startCreating(ctx SpecContext, f *fixture) *creator {
	c := &creator{f: f, done: make(chan struct{}), quit: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(c.done)
		for i := 0; ; i++ {
			select {
			case <-c.quit:
				return
			default:
			}
			c.createOne(ctx, fmt.Sprintf("p%d", i))
		}
	}()
	DeferCleanup(c.stop)
	return c
}

// createOne creates one pod, retrying until it is stored. A refusal must be the apiserver
// failing to call the webhook (fail closed); a denial or anything else fails the spec.
func (c *creator) createOne(ctx SpecContext, name string) {
	for ctx.Err() == nil {
		err := nodeCluster.Client.Create(ctx, c.f.parkedPod(name))
		refused := err != nil && ctx.Err() == nil &&
			// The ServiceAccount plugin's informer may not have seen the tenant's yet.
			!strings.Contains(err.Error(), "error looking up service account")
		c.mu.Lock()
		if err == nil {
			c.created = append(c.created, name)
		} else if refused {
			c.refusals = append(c.refusals, err.Error())
		}
		c.mu.Unlock()
		if refused {
			// Outside the lock: a failure here must not leave count() blocked.
			Expect(err.Error()).To(ContainSubstring(`failed calling webhook "pods.vault-injector.io"`), "pod %s", name)
		}
		if err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// count is how many pods are stored so far.
func (c *creator) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.created)
}

// waitFor waits until n pods are stored.
func (c *creator) waitFor(ctx SpecContext, n int) {
	GinkgoHelper()
	Eventually(ctx, c.count).WithPolling(100 * time.Millisecond).WithTimeout(2 * time.Minute).Should(BeNumerically(">=", n))
}

// stop ends the creations and waits for the one under way; it is safe to call twice.
func (c *creator) stop() {
	select {
	case <-c.quit:
	default:
		close(c.quit)
	}
	<-c.done
}

// expectAllInjected checks every stored pod went through a replica: none was stored
// without envexec, whatever happened to the replicas meanwhile.
func (c *creator) expectAllInjected(ctx SpecContext) {
	GinkgoHelper()
	c.mu.Lock()
	names := slices.Clone(c.created)
	c.mu.Unlock()
	Expect(names).NotTo(BeEmpty())
	for _, name := range names {
		var pod corev1.Pod
		Expect(nodeCluster.Client.Get(ctx, client.ObjectKey{Namespace: c.f.Namespace, Name: name}, &pod)).To(Succeed())
		expectInjectedFrom(&pod, "app")
	}
}
