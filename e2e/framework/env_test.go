package framework

import (
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestContainerEnv(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	field := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	c := &corev1.Container{
		Name: "c",
		Env: []corev1.EnvVar{
			{Name: "A", Value: "1"},
			{Name: "B", Value: "$(A)-$(POD)"},
			{Name: "POD", ValueFrom: field("metadata.name")},
			{Name: "A", Value: "2"},
		},
		Command: []string{"echo", "$(A)", "$$(A)"},
	}
	env, values, err := containerEnv(pod, c)
	if err != nil {
		t.Fatal(err)
	}
	// B expands only entries defined before it; a later duplicate wins but keeps its place.
	want := []string{"A=2", "B=1-$(POD)", "POD=p", defaultPath}
	if !slices.Equal(env, want) {
		t.Errorf("env = %q, want %q", env, want)
	}
	argv, err := containerArgv(c, values)
	if err != nil || !slices.Equal(argv, []string{"echo", "2", "$(A)"}) {
		t.Errorf("argv = %q, %v", argv, err)
	}

	c.Env = append(c.Env, corev1.EnvVar{Name: "NODE", ValueFrom: field("spec.nodeName")})
	if _, _, err := containerEnv(pod, c); !errors.Is(err, errUnsupported) {
		t.Errorf("unsupported fieldRef: err = %v", err)
	}
}
