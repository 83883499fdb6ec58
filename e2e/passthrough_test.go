//go:build e2e

package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
)

var _ = Describe("a pod the webhook must leave alone", func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx)
	})

	// expectUnchanged compares what the webhook could have touched; the apiserver's own
	// defaulting (pull policy, termination message, DNS policy...) is not compared.
	expectUnchanged := func(sent, stored *corev1.Pod) {
		GinkgoHelper()
		Expect(stored.Annotations).To(Equal(sent.Annotations))
		Expect(stored.Spec.InitContainers).To(BeEmpty())
		Expect(stored.Spec.Volumes).To(HaveLen(len(sent.Spec.Volumes)))
		for i, v := range sent.Spec.Volumes {
			Expect(stored.Spec.Volumes[i].Name).To(Equal(v.Name))
			Expect(stored.Spec.Volumes[i].EmptyDir).To(Equal(v.EmptyDir))
		}
		Expect(stored.Spec.Containers).To(HaveLen(len(sent.Spec.Containers)))
		for i, c := range sent.Spec.Containers {
			got := stored.Spec.Containers[i]
			Expect(got.Command).To(Equal(c.Command))
			Expect(got.Args).To(Equal(c.Args))
			Expect(got.Env).To(Equal(c.Env))
			Expect(got.VolumeMounts).To(Equal(c.VolumeMounts))
		}
	}

	It("stores a pod without references unchanged", func(ctx SpecContext) {
		sent := appPod(f, "plain", "not a reference", nil)
		expectUnchanged(sent, f.create(ctx, sent))
	}, SpecTimeout(time.Minute))

	It(`stores a pod annotated vault-injector.io/inject: "false" unchanged, references and all`, func(ctx SpecContext) {
		sent := appPod(f, "opted-out", f.Ref("db", "password"), map[string]string{"vault-injector.io/inject": "false"})
		expectUnchanged(sent, f.create(ctx, sent))
	}, SpecTimeout(time.Minute))
})
