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
	env, values, err := containerEnv(pod, c, nil)
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
	if _, _, err := containerEnv(pod, c, nil); !errors.Is(err, errUnsupported) {
		t.Errorf("unsupported fieldRef: err = %v", err)
	}
}

func TestContainerEnvSources(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	sources := envSources{
		kindConfigMap: {"settings": {"B": "from-cm", "A": "$(X)", "not a name": "x"}},
		kindSecret:    {"db": {"password": "pw", "B": "from-secret"}},
	}
	optional := true
	c := &corev1.Container{
		Name: "c",
		EnvFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}},
			{Prefix: "DB_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}},
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: &optional}},
		},
		Env: []corev1.EnvVar{
			{Name: "B", Value: "env wins over $(DB_password)"},
			{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password",
			}}},
			{Name: "GONE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "nope", Optional: &optional,
			}}},
		},
	}
	env, _, err := containerEnv(pod, c, sources)
	if err != nil {
		t.Fatal(err)
	}
	// envFrom keys sorted per source, invalid names left out, values never expanded; env
	// wins and expands against envFrom's variables; an optional missing key is left out.
	want := []string{"A=$(X)", "B=env wins over pw", "DB_B=from-secret", "DB_password=pw", "PW=pw", defaultPath}
	if !slices.Equal(env, want) {
		t.Errorf("env = %q, want %q", env, want)
	}

	c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{
		ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}},
	})
	if _, _, err := containerEnv(pod, c, sources); err == nil {
		t.Error("a missing, not optional ConfigMap: no error")
	}
}
