package injector_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/injector"
)

// typicalPod is an app container with three references plus an unrelated sidecar.
func typicalPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
		Spec: corev1.PodSpec{ServiceAccountName: "api", Containers: []corev1.Container{
			{Name: "api", Image: "example/api:1", Command: []string{"/app"}, Env: []corev1.EnvVar{
				{Name: "MODE", Value: "prod"},
				{Name: "DB_USER", Value: "vault:secret/data/shop/db#user"},
				{Name: "DB_PASSWORD", Value: "vault:secret/data/shop/db#password"},
				{Name: "API_KEY", Value: "vault:secret/data/shop/stripe#key#3"},
			}},
			{Name: "proxy", Image: "envoy:1", Command: []string{"envoy"}},
		}},
	}
}

func BenchmarkInject(b *testing.B) {
	cfg := config.Pod{
		Inject: true, InjectorImage: "img", EnvexecPath: "/envexec", VaultAddr: "http://v:8200",
		Role: "api", AuthPath: "kubernetes", LogLevel: config.LogInfo,
	}
	pod := typicalPod()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := injector.Inject(pod, cfg, injector.Facts{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInjectNoReferences(b *testing.B) {
	cfg := config.Pod{Inject: true}
	pod := typicalPod()
	pod.Spec.Containers[0].Env = pod.Spec.Containers[0].Env[:1]
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := injector.Inject(pod, cfg, injector.Facts{}); err != nil {
			b.Fatal(err)
		}
	}
}
