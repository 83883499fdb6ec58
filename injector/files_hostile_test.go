package injector_test

import (
	"flag"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/injector"
)

// hostilePodConfig parses annotations as the webhook does, with the goldens' flags.
func hostilePodConfig(t *testing.T, annotations map[string]string) config.Pod {
	t.Helper()
	fs := flag.NewFlagSet("vault-injector", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	w, err := config.ParseWebhook(fs, baseFlags, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.ParsePod(annotations, "app", w)
	if err != nil {
		t.Fatalf("annotations refused by config: %v", err)
	}
	return cfg
}

func attackFilesPod(annotations map[string]string, env []corev1.EnvVar, mounts []corev1.VolumeMount) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Annotations: annotations},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "app", Image: "app:1", Command: []string{"/app"}, Env: env, VolumeMounts: mounts},
		}},
	}
}

// A pod that asks for a file is injected (ENVEXEC_FILES, the in-memory volume, the mount),
// never admitted as having nothing to do: an application must not start without the file
// it expects (an attack review found the injector half missing once).
func TestFileAnnotationIsNeverDropped(t *testing.T) {
	t.Parallel()
	ann := map[string]string{
		"vault-injector.io/file.conf": `{"container":"app","path":"app.conf","content":"vault:secret/data/app#pw"}`,
	}
	pod := attackFilesPod(ann, nil, nil)
	out, report, err := injector.Inject(pod, hostilePodConfig(t, ann), injector.Facts{})
	if err != nil {
		t.Fatalf("denied: %v", err)
	}
	if report.Skipped != injector.SkipNone {
		t.Fatalf("pod that asks for a file was skipped (%s): the file is never written", report.Skipped)
	}
	var files bool
	for _, e := range out.Spec.Containers[0].Env {
		files = files || e.Name == "ENVEXEC_FILES"
	}
	if !files {
		t.Errorf("wrapped container has no ENVEXEC_FILES")
	}
}

// files-dir may not be, contain or lie below one of the injector's paths or a mount of the
// container (docs/annotations.md): a pod whose files-dir is our envexec volume's mount
// path, /proc, or the API token directory, or clashes with its own mount, is denied.
func TestFilesDirOverReservedPathsDenied(t *testing.T) {
	t.Parallel()
	ref := []corev1.EnvVar{{Name: "A", Value: "vault:secret/data/app#k"}}
	for _, dir := range []string{
		injector.MountPath, injector.TokenDir, "/var/run/secrets", "/proc", "/var/run/secrets/kubernetes.io/serviceaccount", "/data",
	} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			ann := map[string]string{
				"vault-injector.io/files-dir": dir,
				"vault-injector.io/file.conf": `{"container":"app","path":"app.conf","content":"x"}`,
			}
			pod := attackFilesPod(ann, ref, []corev1.VolumeMount{{Name: "data", MountPath: "/data"}})
			pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			if _, _, err := injector.Inject(pod, hostilePodConfig(t, ann), injector.Facts{}); err == nil {
				t.Errorf("files-dir %s admitted", dir)
			}
		})
	}
}

// A file for a container the pod does not have, or for our own init container, is denied.
func TestFileForUnknownContainerDenied(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"nope", injector.InitContainerName} {
		t.Run(c, func(t *testing.T) {
			t.Parallel()
			ann := map[string]string{
				"vault-injector.io/file.conf": `{"container":"` + c + `","path":"app.conf","content":"x"}`,
			}
			pod := attackFilesPod(ann, []corev1.EnvVar{{Name: "A", Value: "vault:secret/data/app#k"}}, nil)
			_, _, err := injector.Inject(pod, hostilePodConfig(t, ann), injector.Facts{})
			if err == nil || !strings.Contains(err.Error(), c) {
				t.Errorf("file for container %q: err %v, want a denial naming it", c, err)
			}
		})
	}
}
