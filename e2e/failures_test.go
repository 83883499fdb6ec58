//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// Exit codes are envexec's interface (docs/envexec.md); the pod's last state shows them.
const (
	exitLogin       = 4
	exitSecret      = 5
	exitUnreachable = 6
)

// These run on the real node: the kubelet shows envexec's exit code as the container's
// and its failure record in kubectl logs.
var _ = Describe("a pod whose secret cannot be fetched", Label("node", "vault"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx, nil)
	})

	// failing runs the pod and expects container "app" to stop with code before the
	// application ever ran; it returns envexec's failure record.
	failing := func(ctx SpecContext, value string, annotations map[string]string, code int) map[string]any {
		pod := f.nodePod("app")
		pod.Annotations = annotations
		pod.Spec.Containers[0].Env[0].Value = value
		return expectEnvexecStopped(ctx, f, f.createOnNode(ctx, pod), code)
	}

	It("stops the container when the secret does not exist, naming the variable and path", func(ctx SpecContext) {
		failure := failing(ctx, f.Ref("absent", "password"), nil, exitSecret)
		Expect(failure).To(HaveKeyWithValue("variables", ContainElement("DB_PASSWORD")))
		Expect(failure).To(HaveKeyWithValue("path", f.SecretPath("absent")))
	}, SpecTimeout(3*time.Minute))

	It("stops the container when the pod logs in with a role bound to another ServiceAccount", func(ctx SpecContext) {
		Expect(f.AddServiceAccount(ctx, "other")).To(Succeed())
		Expect(env.Vault.PutRole(ctx, framework.NodeAuthMount, framework.Role{
			Name: "other-" + f.Namespace, Namespaces: []string{f.Namespace},
			ServiceAccounts: []string{"other"}, Policies: []string{f.Policy()},
		})).To(Succeed())

		failure := failing(ctx, f.Ref("db", "password"),
			map[string]string{"vault-injector.io/role": "other-" + f.Namespace}, exitLogin)
		Expect(failure).To(HaveKeyWithValue("error", ContainSubstring("other-"+f.Namespace)))
	}, SpecTimeout(3*time.Minute))

	It("stops the container when Vault is down, once the start-up deadline passes", func(ctx SpecContext) {
		down := env.Node.DownVaultAddr
		failure := failing(ctx, f.Ref("db", "password"), map[string]string{
			"vault-injector.io/vault-addr": down,
			"vault-injector.io/timeout":    "3s",
		}, exitUnreachable)
		Expect(failure).To(HaveKeyWithValue("error", ContainSubstring(down[len("http://"):])))
	}, SpecTimeout(3*time.Minute))
})

// envexecFailure returns the one JSON record envexec writes when it gives up.
func envexecFailure(stderr []byte) map[string]any {
	GinkgoHelper()
	for sc := bufio.NewScanner(bytes.NewReader(stderr)); sc.Scan(); {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == "envexec failed" {
			return rec
		}
	}
	Fail("envexec wrote no failure record; stderr:\n" + string(stderr))
	return nil
}
