package injector_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/injector"
)

// FuzzInject feeds arbitrary env values and names through Inject: it must never panic,
// and whatever it accepts must be a fixed point of a second pass.
func FuzzInject(f *testing.F) {
	f.Add("DB", "vault:secret/data/a#b", "X", "plain", true)
	f.Add("DB", "vault:a#b#2", "ENVEXEC_X", "vault:", false)
	f.Add("A", "vault:#", "B", "vault:s/p#k#0", true)
	cfg := config.Pod{
		Inject: true, InjectorImage: "img", EnvexecPath: "/envexec", VaultAddr: "http://v:8200",
		Role: "r", AuthPath: "kubernetes", LogLevel: config.LogInfo,
	}
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string, withCommand bool) {
		c := corev1.Container{Name: "app", Env: []corev1.EnvVar{{Name: n1, Value: v1}, {Name: n2, Value: v2}}}
		if withCommand {
			c.Command = []string{"/app"}
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{c}}}
		out, _, err := injector.Inject(pod, cfg, injector.Facts{})
		if err != nil {
			return
		}
		again, _, err := injector.Inject(out, cfg, injector.Facts{})
		if err != nil {
			t.Fatalf("second pass failed: %v", err)
		}
		if d := cmp.Diff(out, again); d != "" {
			t.Fatalf("second pass changed the pod:\n%s", d)
		}
	})
}

// FuzzInjectPod feeds any JSON that decodes into a pod: Inject never panics, never changes
// its input, InjectInPlace leaves the same pod in a copy of it, and what Inject accepts
// survives a JSON round trip and is a fixed point.
func FuzzInjectPod(f *testing.F) {
	dirs, _ := filepath.Glob(filepath.Join("testdata", "*", "pod.yaml"))
	for _, d := range dirs {
		if b, err := os.ReadFile(d); err == nil {
			if j, err := yaml.YAMLToJSON(b); err == nil {
				f.Add(j)
			}
		}
	}
	cfg := config.Pod{
		Inject: true, InjectorImage: "img", EnvexecPath: "/envexec", VaultAddr: "http://v:8200",
		Role: "r", AuthPath: "kubernetes", LogLevel: config.LogInfo, TokenExpiration: 10 * time.Minute,
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var pod corev1.Pod
		if json.Unmarshal(data, &pod) != nil {
			return
		}
		before := pod.DeepCopy()
		out, report, err := injector.Inject(&pod, cfg, injector.Facts{})
		if d := cmp.Diff(before, &pod); d != "" {
			t.Fatalf("Inject changed its input:\n%s", d)
		}
		checkInPlace(t, before, cfg, injector.Facts{}, out, report, err)
		if err != nil {
			return
		}
		b, err := json.Marshal(out)
		if err != nil {
			t.Fatalf("output does not encode: %v", err)
		}
		var back corev1.Pod
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("output does not decode: %v", err)
		}
		again, _, err := injector.Inject(out, cfg, injector.Facts{})
		if err != nil {
			t.Fatalf("second pass failed: %v", err)
		}
		if d := cmp.Diff(out, again); d != "" {
			t.Fatalf("second pass changed the pod:\n%s", d)
		}
	})
}
