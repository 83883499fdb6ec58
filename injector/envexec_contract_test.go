package injector_test

import (
	"flag"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/envexec/settings"
	"github.com/vault-injector/vault-injector/injector"
)

// TestEnvexecContract checks that every variable the injector sets is one envexec reads,
// so the two binaries cannot drift apart (envexec rejects unknown ENVEXEC_ variables).
func TestEnvexecContract(t *testing.T) {
	t.Parallel()
	if injector.EnvPrefix != settings.EnvPrefix {
		t.Fatalf("prefix %q != envexec's %q", injector.EnvPrefix, settings.EnvPrefix)
	}
	out, _, err := injector.Inject(typicalPod(), contractPod(t, nil), injector.Facts{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := settings.ParseSettings(environOf(out.Spec.Containers[0])); err != nil {
		t.Errorf("envexec refuses what the injector wrote: %v", err)
	}
}

// contractCandidates are values tried for every annotation and envexec-bound flag: the
// valid forms of each type and the near misses where the webhook and envexec once
// disagreed (auth-path "auth/kubernetes", a URL with an empty query).
var contractCandidates = []string{
	"", " ", "true", "false", "yes", "1", "0", "skip",
	"kubernetes", "jwt", "approle", "token", "auth/kubernetes", "k8s/cluster-1", "/kubernetes", "a//b", "a/./b", "a/../b", "a#b",
	"https://vault.vault.svc:8200", "https://vault.vault.svc:8200/", "http://vault?", "http://vault#x", "http://u:p@vault", "vault:8200",
	"https://vault.example:8200/prefix/",
	"30s", "1m30s", "0s", "-1s", "10m", "11m", "5", "1h",
	"debug", "info", "warn", "error", "trace", "json", "text",
	"SIGHUP", "HUP", "SIGSTOP", "restart", "signal", "stop",
	"secret/app", "secret/app, kv/x#2", "secret/../x", "secret/app#0",
	"ENVEXEC_POD", "ENVEXEC_POD,ENVEXEC_NAMESPACE", "PATH",
	"team-a/apps", "team a", "app", "my_role.v2@x", "transit", "crypto/x",
	"vault", "https://vault.shop.example", "https://kubernetes.default.svc", "app-approle", "Vault_Token", "../other",
}

// authBases are the annotation sets that only make sense together (each auth method with
// what it needs); every candidate of every annotation is also tried on top of each, so the
// contract covers the settings of every login the webhook can write.
var authBases = map[string]map[string]string{
	"kubernetes":   nil,
	"approle":      {"vault-injector.io/auth-method": "approle", "vault-injector.io/approle-secret": "app-approle"},
	"approle path": {"vault.security.banzaicloud.io/vault-auth-method": "approle", "vault-injector.io/approle-secret": "a", "vault-injector.io/auth-path": "approle-prod"},
	"token":        {"vault-injector.io/auth-method": "token", "vault-injector.io/token-secret": "app-token"},
	"jwt audience": {"vault-injector.io/auth-method": "jwt", "vault-injector.io/token-audience": "https://vault.shop.example"},
}

// TestEnvexecAcceptsWhatTheWebhookAdmits is the settings contract: for every annotation
// (ours and bank-vaults' aliases) and every envexec-bound flag, each candidate value the
// webhook admits must give a container whose environment envexec parses.
func TestEnvexecAcceptsWhatTheWebhookAdmits(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, what, v string, cfg config.Pod) {
		t.Helper()
		out, _, err := injector.Inject(typicalPod(), cfg, injector.Facts{})
		if err != nil {
			t.Fatalf("%s=%q: admitted but Inject failed: %v", what, v, err)
		}
		if _, err := settings.ParseSettings(environOf(out.Spec.Containers[0])); err != nil {
			t.Errorf("%s=%q is admitted by the webhook, but envexec refuses it: %v", what, v, err)
		}
		checkFilesMounted(t, what, v, out.Spec.Containers[0])
	}
	admitted := 0
	w := contractWebhook(t)
	for name, base := range authBases {
		if _, _, err := config.ParsePod(base, "app", w); err != nil {
			t.Fatalf("auth base %s is refused: %v", name, err)
		}
		for _, a := range config.Annotations {
			keys := []string{config.AnnotationPrefix + a.Name}
			if a.BankVaults != "" {
				keys = append(keys, config.BankVaultsPrefix+a.BankVaults)
			}
			for _, key := range keys {
				for _, v := range contractCandidates {
					annotations := maps.Clone(base)
					if annotations == nil {
						annotations = map[string]string{}
					}
					annotations[key] = v
					cfg, _, err := config.ParsePod(annotations, "app", w)
					if err != nil || !cfg.Inject {
						continue
					}
					admitted++
					check(t, name+": "+key, v, cfg)
				}
			}
		}
	}
	for _, f := range []string{"vault-addr", "vault-auth-path", "envexec-timeout", "envexec-log-level"} {
		for _, v := range contractCandidates {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			w, err := config.ParseWebhook(fs, []string{"--" + f + "=" + v}, noEnv)
			if err != nil {
				continue
			}
			admitted++
			cfg, _, err := config.ParsePod(nil, "app", w)
			if err != nil {
				t.Fatalf("--%s=%q: %v", f, v, err)
			}
			check(t, "--"+f, v, cfg)
		}
	}
	admitted += checkVaultCAFile(t, check)
	if admitted < 50 {
		t.Fatalf("only %d candidate values were admitted: the corpus no longer exercises the contract", admitted)
	}
	// The disagreement this test was written for: admitted, then refused by envexec.
	if _, _, err := config.ParsePod(map[string]string{config.AnnotationPrefix + "auth-path": "auth/kubernetes"}, "app", contractWebhook(t)); err == nil {
		t.Error(`auth-path "auth/kubernetes" is admitted, but envexec wants the mount path without "auth/"`)
	}
}

// checkVaultCAFile runs the contract over --vault-ca-file: a bundle the webhook admits
// (whatever else the file holds) is one envexec reads, with every certificate in it.
// It returns how many candidates were admitted.
func checkVaultCAFile(t *testing.T, check func(t *testing.T, what, v string, cfg config.Pod)) int {
	t.Helper()
	bundle, err := os.ReadFile(filepath.Join("testdata", "platform-ca", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"bundle":      string(bundle),
		"with a key":  string(bundle) + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\ntrailing text\n",
		"crlf":        strings.ReplaceAll(string(bundle), "\n", "\r\n"),
		"empty":       "",
		"not pem":     "vault:secret/data/x#y",
		"system-size": strings.Repeat(string(bundle), 2*settings.MaxCACerts/len(bundle)),
	}
	admitted := 0
	for name, content := range files {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".pem")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		w, err := config.ParseWebhook(fs, []string{"--vault-ca-file=" + path}, noEnv)
		if err != nil {
			continue
		}
		admitted++
		cfg, _, err := config.ParsePod(nil, "app", w)
		if err != nil {
			t.Fatalf("--vault-ca-file (%s): %v", name, err)
		}
		check(t, "--vault-ca-file", name, cfg)
		out, _, err := injector.Inject(typicalPod(), cfg, injector.Facts{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := settings.ParseSettings(environOf(out.Spec.Containers[0]))
		if err != nil || len(s.CACerts) != 2 {
			t.Errorf("--vault-ca-file (%s): envexec reads %d certificates (%v), want the bundle's 2", name, len(s.CACerts), err)
		}
	}
	if admitted != 3 {
		t.Errorf("%d of the --vault-ca-file candidates were admitted, want the 3 that hold the bundle", admitted)
	}
	return admitted
}

// checkFilesMounted asserts that every file setting the webhook wrote (token, role ID,
// secret ID, Vault token, CA) lies in a directory mounted into the container.
func checkFilesMounted(t *testing.T, what, v string, c corev1.Container) {
	t.Helper()
	for _, e := range c.Env {
		if !strings.HasPrefix(e.Name, settings.EnvPrefix) || !strings.HasSuffix(e.Name, "_FILE") {
			continue
		}
		if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return path.Dir(e.Value) == m.MountPath }) {
			t.Errorf("%s=%q: %s names %s, which no volume of the container holds", what, v, e.Name, e.Value)
		}
	}
}

func noEnv(string) (string, bool) { return "", false }

// contractWebhook is the webhook's default configuration, allowing the addresses
// and the TLS switch the candidates name, so those annotations are exercised too.
func contractWebhook(t *testing.T) config.Webhook {
	t.Helper()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	args := []string{
		"--allow-tls-skip-verify=true",
		"--allowed-vault-addrs=https://vault.example:8200/prefix/,https://vault.vault.svc:8200/",
		"--allowed-token-audiences=https://vault.shop.example",
	}
	w, err := config.ParseWebhook(fs, args, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func contractPod(t *testing.T, annotations map[string]string) config.Pod {
	t.Helper()
	cfg, _, err := config.ParsePod(annotations, "app", contractWebhook(t))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// environOf is the environment the kubelet would give c: literal values as written, and
// field references filled with sample values (envexec only labels messages with them).
func environOf(c corev1.Container) []string {
	var env []string
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			v = "from-" + strings.ReplaceAll(e.ValueFrom.FieldRef.FieldPath, ".", "-")
		}
		env = append(env, e.Name+"="+v)
	}
	return env
}
