package injector_test

import (
	"flag"
	"io"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/injector"
	"github.com/vault-injector/vault-injector/internal/podtest"
)

// benchConfig is the pod's configuration as the webhook derives it: the shipped defaults
// plus the flags an operator must pass, read through the same parsers.
func benchConfig(b *testing.B, pod *corev1.Pod) config.Pod {
	b.Helper()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	w, err := config.ParseWebhook(fs, baseFlags, func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	cfg, _, err := config.ParsePod(pod.Annotations, pod.Spec.ServiceAccountName, w)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// typicalPod is the benchmark's typical pod; other tests (the envexec contract) use it too.
func typicalPod() *corev1.Pod { return podtest.Typical() }

// BenchmarkInject measures the pure mutation alone (no JSON), per pod shape; the
// no-references case is the fast path most pods of a cluster take.
func BenchmarkInject(b *testing.B) {
	shapes := []struct {
		name    string
		pod     *corev1.Pod
		mutated bool
	}{
		{"typical", typicalPod(), true},
		{"large", podtest.Large(), true},
		{"no-references", podtest.Typical(podtest.WithoutReferences()), false},
	}
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			cfg := benchConfig(b, s.pod)
			b.ReportAllocs()
			for b.Loop() {
				out, report, err := injector.Inject(s.pod, cfg, injector.Facts{})
				if err != nil {
					b.Fatal(err)
				}
				if mutated := report.Skipped == injector.SkipNone; mutated != s.mutated || out == nil {
					b.Fatalf("mutated = %v (%s), want %v", mutated, report.Skipped, s.mutated)
				}
			}
		})
	}
}
