//go:build e2e

package e2e

import (
	"crypto/rand"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// fixture is one spec's world: its own namespace, its own ServiceAccount with a Vault
// role of the same name (Vault roles are global, so the name is unique too), a secret
// "db" whose password is a canary unique to the spec.
type fixture struct {
	*framework.Tenant
	canary string
}

// current is the running spec's fixture; specs in one process run one at a time.
var current *fixture

func newFixture(ctx SpecContext) *fixture {
	id := strings.ToLower(rand.Text()[:10])
	t, err := framework.NewTenant(ctx, cluster, env.Vault, "e2e-"+id, "app-"+id)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(t.Delete)
	f := &fixture{Tenant: t, canary: "canary-" + rand.Text()}
	Expect(t.PutSecret(ctx, "db", map[string]string{"password": f.canary})).To(Succeed())
	current = f
	return f
}

// create submits the pod through the apiserver (and so through the webhook) and returns
// what was stored.
func (f *fixture) create(ctx SpecContext, pod *corev1.Pod) *corev1.Pod {
	Expect(cluster.Client.Create(ctx, pod.DeepCopy())).To(Succeed())
	stored := &corev1.Pod{}
	Expect(cluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), stored)).To(Succeed())
	return stored
}

// expectNoLeak fails the spec naming every place that holds the canary.
func expectNoLeak(canary string, places map[string][]byte) {
	GinkgoHelper()
	Expect(framework.CheckNoLeak(canary, places)).To(Succeed())
}
