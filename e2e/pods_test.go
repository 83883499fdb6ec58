//go:build e2e

package e2e

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// appScript is the command of appPod's container: it writes DB_PASSWORD to /out and
// keeps running. The specs that use it expect a denial: these pods are never stored.
const appScript = `printf %s "$DB_PASSWORD" > /out/secret; sleep 600`

// appPod is what a developer writes: one container with a command, env DB_PASSWORD set
// to value (a reference or a literal), and an emptyDir at /out.
func appPod(f *fixture, name, value string, annotations map[string]string) *corev1.Pod {
	return shellPod(f, name, appScript, envVars("DB_PASSWORD", value, "GREETING", "hello"), annotations)
}

// shellPod is one container "app" running script with /bin/sh and env, with an emptyDir
// at /out for what the script writes.
func shellPod(f *fixture, name, script string, env []corev1.EnvVar, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.Namespace, Name: name, Annotations: annotations},
		Spec: corev1.PodSpec{
			ServiceAccountName: f.ServiceAccount,
			RestartPolicy:      corev1.RestartPolicyNever,
			Volumes: []corev1.Volume{{
				Name:         "out",
				VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}},
			}},
			Containers: []corev1.Container{{
				Name:         "app",
				Image:        "example.com/app:1.0",
				Command:      []string{"/bin/sh", "-c"},
				Args:         []string{script},
				Env:          env,
				VolumeMounts: []corev1.VolumeMount{{Name: "out", MountPath: "/out"}},
			}},
		},
	}
}

// envVars turns NAME, VALUE pairs into env entries, in order.
func envVars(pairs ...string) []corev1.EnvVar {
	env := make([]corev1.EnvVar, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		env = append(env, corev1.EnvVar{Name: pairs[i], Value: pairs[i+1]})
	}
	return env
}
