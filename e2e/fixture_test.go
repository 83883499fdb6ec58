//go:build e2e

package e2e

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// fixture is one spec's world: its own namespace, its own ServiceAccount with a Vault
// role of the same name (Vault roles are global, so the name is unique too), a secret
// "db" whose password is a canary unique to the spec, and the pods it ran on the node.
type fixture struct {
	*framework.Tenant
	canary string
	// pods are the names of the pods the spec created on the node, whose logs the leak
	// check and a failure's report read.
	pods []string
}

// current is the running spec's fixture; specs in one process run one at a time.
var current *fixture

// expectNoLeak fails the spec naming every place that holds the canary.
func expectNoLeak(canary string, places map[string][]byte) {
	GinkgoHelper()
	Expect(framework.CheckNoLeak(canary, places)).To(Succeed())
}
