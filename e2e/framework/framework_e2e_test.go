//go:build e2e

package framework_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// TestRunnerAndKubernetesAuth checks the harness itself, without the webhook: a plain pod
// runs as PID 1 with exactly its spec's env, its emptyDir and a real token, and that
// token logs in to Vault through Kubernetes auth.
func TestRunnerAndKubernetesAuth(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	root, err := framework.RepoRoot()
	must(t, err)
	assets, err := framework.KubebuilderAssets(ctx, root)
	must(t, err)
	cp, err := framework.StartControlPlane(framework.ControlPlaneOptions{AssetsDir: assets})
	must(t, err)
	t.Cleanup(func() { must(t, cp.Stop()) })
	cluster, err := framework.NewCluster(cp.Endpoint())
	must(t, err)
	var vaultLog bytes.Buffer
	vault, err := framework.StartVault(ctx, cp.Endpoint(), &vaultLog)
	must(t, err)
	t.Cleanup(func() { must(t, vault.Stop()) })
	tenant, err := framework.NewTenant(ctx, cluster, vault.Client(), "harness", "app")
	must(t, err)
	must(t, tenant.PutSecret(ctx, "db", map[string]string{"password": "harness-canary"}))

	pod := plainPod(tenant)
	must(t, cluster.Client.Create(ctx, pod))
	runner, err := framework.NewRunner(cluster)
	must(t, err)
	p, err := runner.Prepare(ctx, pod)
	must(t, err)
	t.Cleanup(func() { must(t, p.Stop()) })
	must(t, p.Run(ctx))

	t.Run("runs as PID 1 with exactly the spec env", func(t *testing.T) {
		code, err := p.Wait(ctx, "once")
		must(t, err)
		stdout, stderr := p.Logs("once")
		if code != 0 {
			t.Fatalf("exit %d, stderr: %s", code, stderr)
		}
		lines := strings.Split(strings.TrimSpace(string(stdout)), "\n")
		if lines[0] != "pid=1" {
			t.Errorf("first line %q, want pid=1", lines[0])
		}
		env := slices.Sorted(slices.Values(lines[1:]))
		want := []string{"FOO=bar", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "POD=plain", "REF=FOO is bar"}
		if !slices.Equal(env, want) {
			t.Errorf("env\n got %q\nwant %q", env, want)
		}
		if got, _ := os.ReadFile(filepath.Join(p.VolumeDir("out"), "marker")); string(got) != "written\n" {
			t.Errorf("marker in emptyDir: %q", got)
		}
	})

	t.Run("exec joins the container's namespaces with its spec env", func(t *testing.T) {
		stdout, stderr, err := p.Exec(ctx, "sleeper", "/bin/sh", "-c", `echo "$FOO"; tr '\0' ' ' < /proc/1/cmdline; echo; ls /out/marker`)
		if err != nil {
			t.Fatalf("exec: %v: %s", err, stderr)
		}
		want := "bar\n/bin/sleep 600 \n/out/marker\n"
		if string(stdout) != want {
			t.Errorf("exec output %q, want %q", stdout, want)
		}
	})

	t.Run("securityContext: user, read-only root, no capabilities", func(t *testing.T) {
		code, err := p.Wait(ctx, "restricted")
		must(t, err)
		stdout, stderr := p.Logs("restricted")
		if code != 0 {
			t.Fatalf("exit %d, stderr: %s", code, stderr)
		}
		want := "65532:65532\nread-only /\nwritable /out\nCapEff:\t0000000000000000\n"
		if string(stdout) != want {
			t.Errorf("output %q, want %q", stdout, want)
		}
	})

	t.Run("a token for the Vault audience logs in to Vault, the mounted API token does not", func(t *testing.T) {
		stdout, stderr, err := p.Exec(ctx, "sleeper", "/bin/cat", framework.ServiceAccountDir+"/token")
		if err != nil {
			t.Fatalf("read token: %v: %s", err, stderr)
		}
		_, err = vault.Client().Login(ctx, framework.KubernetesAuthMount, "app", string(stdout))
		if err == nil || !strings.Contains(err.Error(), "audience") {
			t.Fatalf("login with the apiserver-audience token: %v, want it refused for its audience", err)
		}
		jwt, err := cluster.PodToken(ctx, pod, framework.TokenAudience, 600)
		must(t, err)
		token, err := vault.Client().Login(ctx, framework.KubernetesAuthMount, "app", jwt)
		if err != nil {
			t.Fatalf("%v\nvault log:\n%s", err, vaultLog.String())
		}
		data, err := vault.Client().WithToken(token).ReadSecret(ctx, tenant.SecretPath("db"))
		must(t, err)
		if data["password"] != "harness-canary" {
			t.Error("the pod's role read the wrong secret value")
		}
	})
}

func plainPod(t *framework.Tenant) *corev1.Pod {
	out := []corev1.VolumeMount{{Name: "out", MountPath: "/out"}}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: t.Namespace, Name: "plain"},
		Spec: corev1.PodSpec{
			ServiceAccountName: t.ServiceAccount,
			Volumes:            []corev1.Volume{{Name: "out", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			Containers: []corev1.Container{{
				Name:    "once",
				Image:   "busybox",
				Command: []string{"/bin/sh", "-c", "echo pid=$$$$; tr '\\0' '\\n' < /proc/1/environ; echo written > /out/marker"},
				Env: []corev1.EnvVar{
					{Name: "FOO", Value: "bar"},
					{Name: "REF", Value: "FOO is $(FOO)"},
					{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				},
				VolumeMounts: out,
			}, {
				Name:  "restricted",
				Image: "busybox",
				Command: []string{"/bin/sh", "-c", `echo "$(id -u):$(id -g)"; touch /x 2>/dev/null || echo read-only /; ` +
					`touch /out/restricted && echo writable /out; grep CapEff /proc/self/status`},
				SecurityContext: &corev1.SecurityContext{
					RunAsUser: ptr.To[int64](65532), RunAsGroup: ptr.To[int64](65532), RunAsNonRoot: ptr.To(true),
					ReadOnlyRootFilesystem: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
				VolumeMounts: out,
			}, {
				Name:         "sleeper",
				Image:        "busybox",
				Command:      []string{"/bin/sleep", "600"},
				Env:          []corev1.EnvVar{{Name: "FOO", Value: "bar"}},
				VolumeMounts: out,
			}},
		},
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
