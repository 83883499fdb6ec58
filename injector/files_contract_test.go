package injector_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/envexec/settings"
	"github.com/vault-injector/vault-injector/injector"
)

// fileCandidates are file annotation values, admitted or not: every one the webhook
// admits must reach envexec byte for byte (through the kubelet's $ handling) and name a
// path below the one mount of the files volume.
var fileCandidates = []struct{ path, mode, content string }{
	{"tls.crt", "", "vault:secret/data/shop/tls#crt"},
	{"/vault/secrets/deep/er/app.ini", "0440", "a = ${vault:secret/shop/db#user}\nb = ${vault:secret/shop/db#password}\n"},
	{"dollar.conf", "0400", "price $5 and $$ and $(HOME) ${HOME} ${vault:secret/x#y}"},
	{"quotes.json", "0700", `{"k": "\"${vault:secret/x#y}\"", "é": "ü\t"}`},
	{"pki.pem", "0750", `>>vault:pki/issue/web#certificate#{"common_name":"a.svc"}`},
	{"plain.txt", "", "no reference at all"},
	{"", "", "x"},
	{"../x", "", "x"},
	{"a//b", "", "x"},
	{"./a", "", "x"},
	{"a/", "", "x"},
	{"/etc/passwd", "", "x"},
	{"x", "0644", "x"},
	{"x", "0o400", "x"},
	{"x", "", "vault:secret/x"},
	{"x", "", "${vault:"},
	{"nul", "", "a\x00b"},
}

func TestEnvexecAcceptsTheFilesTheWebhookAdmits(t *testing.T) {
	t.Parallel()
	w := contractWebhook(t)
	admitted := 0
	for _, dir := range []string{"", "/etc/app", "/srv/a b/c"} {
		for _, fc := range fileCandidates {
			raw, _ := json.Marshal(map[string]string{"container": "api", "path": fc.path, "mode": fc.mode, "content": fc.content})
			value := string(raw)
			ann := map[string]string{"vault-injector.io/file.x": value}
			if dir != "" {
				ann["vault-injector.io/files-dir"] = dir
			}
			cfg, _, err := config.ParsePod(ann, "app", w)
			if err != nil {
				continue
			}
			admitted++
			what := fmt.Sprintf("files-dir %q, file %s", dir, value)
			out, _, err := injector.Inject(typicalPod(), cfg, injector.Facts{})
			if err != nil {
				t.Fatalf("%s: admitted but Inject failed: %v", what, err)
			}
			c := containerOf(t, out, "api")
			env := kubeletEnv(*c)
			s, err := settings.ParseSettings(env)
			if err != nil {
				t.Errorf("%s: admitted, but envexec refuses it: %v", what, err)
				continue
			}
			specs := cfg.FilesOf("api")
			if len(s.Files) != 1 || len(specs) != 1 || specs[0].Content != fc.content || s.Files[0].Path != specs[0].Path {
				t.Errorf("%s: envexec reads %+v from %+v, not the file as written", what, s.Files, specs)
			}
			if !slices.Contains(env, settings.EnvFiles+"="+settings.EncodeFiles(specs)) {
				t.Errorf("%s: the kubelet would hand envexec another %s than the webhook encoded", what, settings.EnvFiles)
			}
			mounts := slices.DeleteFunc(slices.Clone(c.VolumeMounts), func(m corev1.VolumeMount) bool {
				return !strings.HasPrefix(m.Name, injector.FilesVolumePrefix)
			})
			if len(mounts) != 1 || mounts[0].MountPath != s.FilesDir || mounts[0].ReadOnly {
				t.Errorf("%s: files volume mounts %+v, want one writable at %s", what, mounts, s.FilesDir)
			}
			for _, other := range out.Spec.Containers {
				if other.Name != "api" && slices.ContainsFunc(other.VolumeMounts, func(m corev1.VolumeMount) bool {
					return strings.HasPrefix(m.Name, injector.FilesVolumePrefix)
				}) {
					t.Errorf("%s: container %s mounts api's files volume", what, other.Name)
				}
			}
		}
	}
	// Six are valid; the one with an absolute path under the default directory is not
	// below the other two.
	if admitted != 6+5+5 {
		t.Errorf("%d candidates admitted, want 16", admitted)
	}
}

func containerOf(t *testing.T, pod *corev1.Pod, name string) *corev1.Container {
	t.Helper()
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	t.Fatalf("no container %s", name)
	return nil
}

// kubeletEnv is environOf with the kubelet's handling of $ in literal values: "$$" is
// one "$" (the webhook doubles every "$" it writes, so nothing else is expanded).
func kubeletEnv(c corev1.Container) []string {
	env := environOf(c)
	for i, kv := range env {
		env[i] = strings.ReplaceAll(kv, "$$", "$")
	}
	return env
}
