//go:build e2e

package e2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/e2e/framework"
	"github.com/vault-injector/vault-injector/internal/runbook"
)

// The runbooks' commands, run as a reader would run them against a pod in the situation
// they describe, on the real node: what they print must lead to the cause.
var _ = Describe("docs/troubleshooting.md", Label("node", "runbook"), func() {
	It("finds the exit code and envexec's failure line of a pod whose secret is missing", func(ctx SpecContext) {
		f := newFixture(ctx, nil)
		pod := f.nodePod("broken")
		pod.Spec.Containers[0].Env[0].Value = f.Ref("absent", "password")
		f.createOnNode(ctx, pod)
		Eventually(ctx, func() (*corev1.ContainerStateTerminated, error) {
			var p corev1.Pod
			err := nodeCluster.Client.Get(ctx, client.ObjectKeyFromObject(pod), &p)
			if err != nil || len(p.Status.ContainerStatuses) == 0 {
				return nil, err
			}
			return p.Status.ContainerStatuses[0].State.Terminated, nil
		}).WithPolling(200 * time.Millisecond).ShouldNot(BeNil())

		out := runRunbook(ctx, "troubleshooting.md", map[string]string{"NS": f.Namespace, "POD": pod.Name, "CONTAINER": "app"}, nil,
			"A container stops at start-up", "The pod stays in `Init`")
		Expect(out).To(ContainSubstring("app exit=5"), "exit code 5: a secret is missing (the runbook's table)")
		Expect(out).To(MatchRegexp(`"msg":"envexec failed".*"variables":\["DB_PASSWORD"\]`))
		Expect(out).To(ContainSubstring(f.SecretPath("absent")))
		Expect(out).To(MatchRegexp(`(?m)^vault-injector-init .*"terminated".*"exitCode":0`), "the init container's state")
	}, SpecTimeout(3*time.Minute))

	It("shows why the webhook denied a manifest, and the webhook's Deployment and endpoints", func(ctx SpecContext) {
		f := newFixture(ctx, nil)
		manifest := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: denied
  namespace: %s
spec:
  containers:
  - name: app
    image: %s
    env:
    - name: DB_PASSWORD
      value: %s
    - name: ENVEXEC_VAULT_ADDR
      value: http://elsewhere.example:8200
`, f.Namespace, env.Node.Images.App, f.Ref("db", "password"))
		out := runRunbook(ctx, "troubleshooting.md", map[string]string{"NS": f.Namespace, "POD": "denied", "CONTAINER": "app", "MANIFEST": "pod.yaml"},
			map[string]string{"pod.yaml": manifest}, "The webhook denied the pod", "`failed calling webhook`")
		Expect(out).To(MatchRegexp(`denied the request: .*container "app".*ENVEXEC_VAULT_ADDR.*prefix is reserved`))
		Expect(out).To(MatchRegexp(`\[pod/vault-injector-[^\]]*\] .*"msg":"denied pod".*"pod":"`+f.Namespace+`/denied".*ENVEXEC_VAULT_ADDR`),
			"the replica's log line names the pod and the reason")
		Expect(out).To(ContainSubstring("deployment.apps/vault-injector"))
		Expect(strings.Count(out, "pod/vault-injector-")).To(BeNumerically(">=", 2), "both replicas listed:\n%s", out)
		Expect(out).To(ContainSubstring("endpointslice.discovery.k8s.io/vault-injector"))
		Expect(nodeCluster.Client.Get(ctx, client.ObjectKey{Namespace: f.Namespace, Name: "denied"}, &corev1.Pod{})).NotTo(Succeed(), "a dry run creates nothing")
	}, SpecTimeout(2*time.Minute))
})

// runRunbook runs the sections of a page in docs/ with kubectl and helm against the node's
// cluster as its admin, and returns what they printed; a failing command fails the spec.
// The reader's folder holds a checkout's charts/ (as the docs assume) and files (name →
// content).
func runRunbook(ctx SpecContext, page string, vars, files map[string]string, sections ...string) string {
	GinkgoHelper()
	root, err := framework.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	script, err := runbook.Load(filepath.Join(root, "docs", page), sections...)
	Expect(err).NotTo(HaveOccurred())
	dir := GinkgoT().TempDir()
	Expect(os.Symlink(filepath.Join(root, "charts"), filepath.Join(dir, "charts"))).To(Succeed())
	for name, content := range files {
		Expect(os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600)).To(Succeed())
	}
	vars["KUBECONFIG"] = env.Node.Kubeconfig
	maps.Copy(vars, env.Node.Chart.Env())
	sh := runbook.NewShell(dir, []string{env.Node.Kubectl, env.Node.Chart.Helm}, vars)
	out, err := sh.Run(ctx, script)
	Expect(err).NotTo(HaveOccurred(), "docs/%s:\n%s", page, out)
	GinkgoWriter.Printf("docs/%s printed:\n%s\n", page, out)
	return out
}
