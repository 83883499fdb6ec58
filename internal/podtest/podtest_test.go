package podtest_test

import (
	"encoding/json"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/internal/podtest"
)

// TestShapes holds the benchmark shapes to what their doc comments promise, so figures
// stay comparable across changes.
func TestShapes(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		pod              *corev1.Pod
		init, containers int
		vars, refs       int
		commands         bool
	}{
		"typical":       {pod: podtest.Typical(), init: 1, containers: 2, vars: 40, refs: 19, commands: true},
		"large":         {pod: podtest.Large(), containers: 10, vars: 500, refs: 100, commands: true},
		"no references": {pod: podtest.Typical(podtest.WithoutReferences()), init: 1, containers: 2, vars: 40, commands: true},
		"no commands":   {pod: podtest.Typical(podtest.WithoutCommands()), init: 1, containers: 2, vars: 40, refs: 19},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := len(tc.pod.Spec.InitContainers); got != tc.init {
				t.Errorf("init containers = %d, want %d", got, tc.init)
			}
			if got := len(tc.pod.Spec.Containers); got != tc.containers {
				t.Errorf("containers = %d, want %d", got, tc.containers)
			}
			if vars, refs := podtest.Counts(tc.pod); vars != tc.vars || refs != tc.refs {
				t.Errorf("vars, refs = %d, %d, want %d, %d", vars, refs, tc.vars, tc.refs)
			}
			for _, c := range append(tc.pod.Spec.InitContainers, tc.pod.Spec.Containers...) {
				if got := len(c.Command) > 0; got != tc.commands {
					t.Errorf("container %s has a command: %v, want %v", c.Name, got, tc.commands)
				}
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	p := podtest.New("app", podtest.WithNamespace("ns"), podtest.WithContainers(
		podtest.Container("c", "img", podtest.WithCommand("/app"), podtest.WithEnv(podtest.Env("A", podtest.Ref("secret/a", "k")))),
	))
	if p.Name != "app" || p.Namespace != "ns" || len(p.Spec.Containers) != 1 {
		t.Fatalf("unexpected pod %+v", p)
	}
	if got := p.Spec.Containers[0].Env[0].Value; got != "vault:secret/a#k" {
		t.Errorf("reference = %q", got)
	}
}

// TestReview checks the body decodes as an AdmissionReview carrying the same pod.
func TestReview(t *testing.T) {
	t.Parallel()
	pod := podtest.Typical()
	body, err := podtest.Review(pod, "uid-7")
	if err != nil {
		t.Fatal(err)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		t.Fatal(err)
	}
	if review.Request == nil || review.Request.UID != "uid-7" || review.Request.Operation != admissionv1.Create {
		t.Fatalf("unexpected request %+v", review.Request)
	}
	var got corev1.Pod
	if err := json.Unmarshal(review.Request.Object.Raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.GenerateName != pod.GenerateName || len(got.Spec.Containers) != 2 {
		t.Errorf("round trip lost the pod: %+v", got.ObjectMeta)
	}
}
