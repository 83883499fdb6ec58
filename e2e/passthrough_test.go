//go:build e2e

package e2e

import (
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
)

var _ = Describe("a pod the webhook must leave alone", Label("node"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx, nil)
	})

	// expectUnchanged compares what the webhook could have touched; the apiserver's own
	// defaulting (pull policy, termination message, DNS policy...) is not compared.
	expectUnchanged := func(sent, stored *corev1.Pod) {
		GinkgoHelper()
		Expect(stored.Annotations).To(Equal(sent.Annotations))
		Expect(stored.Spec.InitContainers).To(BeEmpty())
		Expect(stored.Spec.Volumes).To(HaveLen(len(sent.Spec.Volumes)+1), "the pod's volumes and the apiserver's token volume")
		for i, v := range sent.Spec.Volumes {
			Expect(stored.Spec.Volumes[i].Name).To(Equal(v.Name))
			Expect(stored.Spec.Volumes[i].EmptyDir).To(Equal(v.EmptyDir))
		}
		Expect(stored.Spec.Volumes[len(sent.Spec.Volumes)].Name).To(HavePrefix("kube-api-access-"), "the ServiceAccount admission's token volume")
		Expect(stored.Spec.Containers).To(HaveLen(len(sent.Spec.Containers)))
		for i, c := range sent.Spec.Containers {
			got := stored.Spec.Containers[i]
			Expect(got.Command).To(Equal(c.Command))
			Expect(got.Args).To(Equal(c.Args))
			Expect(got.Env).To(Equal(c.Env))
			mounts := slices.DeleteFunc(slices.Clone(got.VolumeMounts), func(m corev1.VolumeMount) bool {
				return strings.HasPrefix(m.Name, "kube-api-access-")
			})
			Expect(mounts).To(Equal(c.VolumeMounts), "the pod's own mounts, besides the token's")
		}
	}

	// webhookSaw polls the replicas' logs for the lines the webhook writes about the pod.
	webhookSaw := func(ctx SpecContext, pod string) func() (string, error) {
		return webhookLinesAbout(ctx, env.Node.Chart, f.Namespace+"/"+pod)
	}

	// literalPod is nodePod whose DB_PASSWORD is value, taken literally: the test app
	// checks it received exactly value.
	literalPod := func(name, value string, annotations map[string]string) *corev1.Pod {
		pod := f.nodePod(name)
		pod.Annotations = annotations
		c := &pod.Spec.Containers[0]
		c.Env = []corev1.EnvVar{{Name: "DB_PASSWORD", Value: value}}
		c.Command = []string{"/testapp", "has", "DB_PASSWORD", sha256Hex(value)}
		c.VolumeMounts = []corev1.VolumeMount{{Name: "out", MountPath: "/out"}}
		pod.Spec.Volumes = []corev1.Volume{{Name: "out", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		return pod
	}

	// expectRanAsWritten checks the test app's log: it got DB_PASSWORD exactly as written
	// and runs as PID 1, started by the runtime, not by envexec.
	expectRanAsWritten := func(log string) {
		GinkgoHelper()
		Expect(log).To(MatchRegexp(`(?m)^match$`), "the application received the value as written")
		Expect(log).To(MatchRegexp(`(?m)^ready pid=1 uid=0$`))
		Expect(log).NotTo(ContainSubstring(`"msg":"starting application"`), "envexec did not run")
	}

	It("never sends a pod without references to the webhook (the chart's matchConditions); it is stored unchanged and runs as written", func(ctx SpecContext) {
		sent := literalPod("plain", "not a reference", nil)
		expectUnchanged(sent, f.createOnNode(ctx, sent))
		expectRanAsWritten(waitForApp(ctx, f.Namespace, "plain", "app"))
		Consistently(ctx, webhookSaw(ctx, "plain")).WithTimeout(2*time.Second).WithPolling(time.Second).Should(BeEmpty(),
			"no replica logged the pod: the apiserver did not call the webhook")
	}, SpecTimeout(2*time.Minute))

	It(`stores a pod annotated vault-injector.io/inject: "false" unchanged, and its app gets the reference as text`, func(ctx SpecContext) {
		ref := f.Ref("db", "password")
		sent := literalPod("opted-out", ref, map[string]string{"vault-injector.io/inject": "false"})
		expectUnchanged(sent, f.createOnNode(ctx, sent))
		Eventually(ctx, webhookSaw(ctx, "opted-out")).WithPolling(time.Second).Should(ContainSubstring(`"pod left unchanged"`),
			"the apiserver called the webhook, which left the pod alone")
		expectRanAsWritten(waitForApp(ctx, f.Namespace, "opted-out", "app"))
	}, SpecTimeout(2*time.Minute))
})
