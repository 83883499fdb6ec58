package injector_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/injector"
)

// A container whose only references are in its args needs its image's entrypoint when
// it sets no command, like one with references in env.
func TestPlanLookupsArguments(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "args-ref", Image: "args:1", Args: []string{"--pw=${vault:s/p#k}"}},
		{Name: "command-set", Image: "cmd:1", Command: []string{"/x"}, Args: []string{"vault:s/p#k"}},
		{Name: "not-a-ref", Image: "plain:1", Args: []string{"--addr=vault:8200", "$(VAR)", "${HOME}"}},
	}}}
	if d := cmp.Diff([]injector.ImageLookup{{Image: "args:1", Containers: []string{"args-ref"}}}, injector.NewPlan(pod, planConfig()).Lookups); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
