package envexec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// filesEnv asks for files below a fresh directory, the way the webhook writes it.
func filesEnv(t *testing.T, specs ...settings.FileSpec) (dir string, env []string) {
	t.Helper()
	dir = t.TempDir()
	for i := range specs {
		specs[i].Path = dir + "/" + specs[i].Path
	}
	return dir, []string{settings.EnvFilesDir + "=" + dir, settings.EnvFiles + "=" + settings.EncodeFiles(specs)}
}

// A certificate and its key from one pki issue in two files, a config file with inline
// references, and a variable, in one container, against the real Vault.
func TestVaultFiles(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	password := canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"user": "app", "password": password}})
	body := `#{"common_name":"files.shop.svc","ttl":"10m"}`
	dir, files := filesEnv(t,
		settings.FileSpec{Path: "tls/tls.crt", Content: ">>vault:pki/issue/web#certificate" + body},
		settings.FileSpec{Path: "tls/tls.key", Content: ">>vault:pki/issue/web#private_key" + body},
		settings.FileSpec{Path: "app.ini", Mode: 0o440, Content: "[db]\nuser = ${vault:secret/" + u + "#user}\npassword = ${vault:secret/" + u + "#password}\n"},
	)
	env, jwt := f.env(t, append(files, "DB_PASSWORD=vault:secret/data/"+u+"#password")...)
	out := runOK(t, env, password, jwt)
	if n := countLogs(t, out.stderr, "writing secret"); n != 1 {
		t.Errorf("%d pki writes, want 1 shared by both files", n)
	}
	if v, _ := envValue(out.env, "DB_PASSWORD"); v != password {
		t.Error("the variable did not get the secret next to the files")
	}
	for _, e := range out.env {
		if strings.HasPrefix(e, settings.EnvFiles) {
			t.Errorf("the application's environment holds %s", settings.EnvFiles)
		}
	}
	conf, err := os.ReadFile(filepath.Join(dir, "app.ini"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "[db]\nuser = app\npassword = " + password + "\n"; string(conf) != want {
		t.Errorf("app.ini = %q, want the text with its references resolved", conf)
	}
	certPEM, _ := os.ReadFile(filepath.Join(dir, "tls", "tls.crt"))
	keyPEM, _ := os.ReadFile(filepath.Join(dir, "tls", "tls.key"))
	assertNoLeak(t, out.stderr, string(keyPEM), strings.Split(string(keyPEM), "\n")[1])
	if !keyMatchesCert(t, string(certPEM), string(keyPEM)) {
		t.Error("the key file does not belong to the certificate file")
	}
	for name, mode := range map[string]os.FileMode{"tls/tls.key": 0o400, "app.ini": 0o440} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode() != mode {
			t.Errorf("%s: mode %v (%v), want %v", name, fi.Mode(), err, mode)
		}
	}
	for _, l := range logLines(t, out.stderr) {
		if l["msg"] == "starting application" && (l["files"] != float64(3) || l["variables"] != float64(1)) {
			t.Errorf("start line counts %v files and %v variables, want 3 and 1", l["files"], l["variables"])
		}
	}
}

// A missing secret in a file fails the start, naming the file and never writing it,
// even with ENVEXEC_IGNORE_MISSING (a file cannot be left half done).
func TestVaultFilesMissing(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	dir, files := filesEnv(t, settings.FileSpec{Path: "app.ini", Content: "password = ${vault:secret/" + u + "#password}"})
	env, jwt := f.env(t, append(files, settings.EnvIgnoreMissing+"=true")...)
	out := runEnvexec(t.Context(), t, []string{"--", "sh", "-c", "true"}, env)
	assertNoLeak(t, out.stderr, jwt)
	if out.code != ExitSecret || out.execed {
		t.Fatalf("exit %d, execed %v, want %d; stderr:\n%s", out.code, out.execed, ExitSecret, out.stderr)
	}
	if !strings.Contains(out.stderr, "file "+dir+"/app.ini") {
		t.Errorf("the failure does not name the file:\n%s", out.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "app.ini")); err == nil {
		t.Error("a file was written although its secret is missing")
	}
}
