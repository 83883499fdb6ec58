//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/e2e/framework"
	"github.com/vault-injector/vault-injector/internal/runbook"
)

// The node's webhook is a release of this tree, published by `make release` and installed
// only after its signatures and provenance were verified (framework.StartNodeStack).
var _ = Describe("the release the node runs", Label("node", "release"), func() {
	It("is the image and chart that were verified, by digest", func(ctx SpecContext) {
		rel := env.Node.Release
		_, digest, ok := strings.Cut(rel.Image, "@")
		Expect(ok).To(BeTrue(), "image.txt names %q", rel.Image)
		Expect(env.Node.Images.Injector).To(HaveSuffix("@"+digest), "the webhook injects the released image")

		var deploy appsv1.Deployment
		Expect(nodeCluster.Client.Get(ctx, client.ObjectKey{Namespace: env.Node.Chart.Namespace, Name: "vault-injector"}, &deploy)).To(Succeed())
		Expect(deploy.Spec.Template.Spec.Containers[0].Image).To(Equal(env.Node.Images.Injector))
		pods, err := webhookPods(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(pods).NotTo(BeEmpty())
		for _, p := range pods {
			for _, c := range p.Status.ContainerStatuses {
				if c.ImageID != "" { // a replica just created has not pulled yet
					Expect(c.ImageID).To(HaveSuffix("@"+digest), "pod %s runs what the kubelet pulled by the verified digest", p.Name)
				}
			}
		}

		// Revision 1 is the install; a spec of the chart's may have upgraded it since.
		out, err := env.Node.Chart.Run(ctx, "get", "metadata", env.Node.Chart.Release, "--revision", "1", "-o", "json")
		Expect(err).NotTo(HaveOccurred())
		var meta struct{ Version, AppVersion string }
		Expect(json.Unmarshal([]byte(out), &meta)).To(Succeed(), out)
		Expect(meta.Version).To(Equal(rel.ChartVersion()))
		Expect(meta.AppVersion).To(Equal(framework.ReleaseVersion))
	})

	It("refuses another key, an unsigned image and a provenance of another commit", func(ctx SpecContext) {
		rel := env.Node.Release
		dir := GinkgoT().TempDir()
		gen := exec.CommandContext(ctx, rel.Cosign, "generate-key-pair", "--output-key-prefix", filepath.Join(dir, "other"))
		gen.Env = append(os.Environ(), "COSIGN_PASSWORD=other")
		out, err := gen.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "%s", out)

		err = framework.VerifyRelease(ctx, rel, filepath.Join(dir, "other.pub"))
		Expect(err).To(MatchError(ContainSubstring("signature of " + rel.Image)))

		unsigned := rel
		unsigned.Image = env.Registry + "/e2e/testapp:v1"
		err = framework.VerifyRelease(ctx, unsigned, rel.PublicKey)
		Expect(err).To(MatchError(ContainSubstring("signature of " + unsigned.Image)))

		other := rel
		other.Commit = strings.Repeat("0", 40)
		err = framework.VerifyRelease(ctx, other, rel.PublicKey)
		Expect(err).To(MatchError(ContainSubstring("no statement about")))

		Expect(framework.VerifyRelease(ctx, rel, rel.PublicKey)).To(Succeed(), "the same check accepts the release")
	}, SpecTimeout(2*time.Minute))

	It("passes docs/release.md's \"Checking a release\", run in a copy of its folder", func(ctx SpecContext) {
		rel := env.Node.Release
		dir := filepath.Join(GinkgoT().TempDir(), "dist")
		Expect(os.CopyFS(dir, os.DirFS(rel.Dist))).To(Succeed())
		root, err := framework.RepoRoot()
		Expect(err).NotTo(HaveOccurred())
		script, err := runbook.Load(filepath.Join(root, "docs", "release.md"), "Checking a release")
		Expect(err).NotTo(HaveOccurred())
		out, err := runbook.NewShell(dir, []string{rel.Cosign}, map[string]string{}).Run(ctx, script)
		Expect(err).NotTo(HaveOccurred(), "docs/release.md:\n%s", out)
		GinkgoWriter.Printf("docs/release.md printed:\n%s\n", out)
		Expect(out).To(ContainSubstring(`"commit": "` + rel.Commit + `"`))
	}, SpecTimeout(2*time.Minute))
})
