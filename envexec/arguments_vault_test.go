package envexec

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// References in the application's command line (after "--"), against the real Vault of
// vault_test.go: same grammar, same one read per secret and one write per body as the
// environment, and values never in the log.

func TestVaultArguments(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	user, pass := "app-"+canary(t), canary(t)
	f.put(t, "secret/data/"+u+"/db", map[string]any{"data": map[string]any{"user": user, "password": pass}})
	plain := canary(t)
	ct := f.encrypt(t, plain)
	env, jwt := f.env(t, settings.EnvTransitKey+"=app", "DB_PASSWORD=vault:secret/"+u+"/db#password")
	argv := []string{
		"sh", "-c", `exec app "$@"`, "app",
		"vault:secret/data/" + u + "/db#password",
		"--url=postgres://${vault:secret/" + u + "/db#user}:${bao:secret/" + u + "/db#password}@db/app",
		"vault:secret/" + u + "/db#password | b64enc",
		"--plain=${" + ct + "}",
		"$(NOT_EXPANDED) ${HOME} unchanged",
	}
	out := runEnvexec(t.Context(), t, append([]string{"--"}, argv...), env)
	assertNoLeak(t, out.stderr, pass, user, plain, jwt)
	if out.code != ExitOK || !out.execed {
		t.Fatalf("exit %d, execed %v; stderr:\n%s", out.code, out.execed, out.stderr)
	}
	want := []string{
		"sh", "-c", `exec app "$@"`, "app",
		pass,
		"--url=postgres://" + user + ":" + pass + "@db/app",
		base64.StdEncoding.EncodeToString([]byte(pass)),
		"--plain=" + plain,
		"$(NOT_EXPANDED) ${HOME} unchanged",
	}
	if !slices.Equal(out.argv, want) {
		t.Errorf("argv = %q\nwant %q", out.argv, want)
	}
	wantEnv(t, out.env, map[string]string{"DB_PASSWORD": pass})
	if n := countLogs(t, out.stderr, "reading secret"); n != 1 {
		t.Errorf("%d reads, want 1: the variable and the arguments share the secret", n)
	}
	for _, l := range logLines(t, out.stderr) {
		if l["msg"] == "starting application" && (l["arguments"] != float64(4) || l["variables"] != float64(1)) {
			t.Errorf("start line counts %v arguments and %v variables, want 4 and 1", l["arguments"], l["variables"])
		}
	}
}

// A certificate in a variable and its key in an argument come from one pki issue.
func TestVaultArgumentsShareWrites(t *testing.T) {
	t.Parallel()
	f := vault(t)
	body := `#{"common_name":"args.shop.svc","ttl":"10m"}`
	env, jwt := f.env(t, "TLS_CERT=>>vault:pki/issue/web#certificate"+body)
	out := runEnvexec(t.Context(), t, []string{"--", "app", "--key", ">>vault:pki/issue/web#private_key" + body}, append(env, "PATH="+appDir(t)))
	assertNoLeak(t, out.stderr, jwt)
	if out.code != ExitOK || !out.execed {
		t.Fatalf("exit %d, execed %v; stderr:\n%s", out.code, out.execed, out.stderr)
	}
	if n := countLogs(t, out.stderr, "writing secret"); n != 1 {
		t.Errorf("%d writes, want 1", n)
	}
	keyPEM := out.argv[2]
	assertNoLeak(t, out.stderr, keyPEM, strings.Split(keyPEM, "\n")[1])
	certPEM, _ := envValue(out.env, "TLS_CERT")
	if !keyMatchesCert(t, certPEM, keyPEM) {
		t.Error("the key in the argument does not belong to the certificate in the variable")
	}
}

// keyMatchesCert parses a PEM certificate and EC key (never quoting the key) and tells
// whether the key is the certificate's.
func keyMatchesCert(t *testing.T, certPEM, keyPEM string) bool {
	t.Helper()
	block, _ := pem.Decode([]byte(certPEM))
	kblock, _ := pem.Decode([]byte(keyPEM))
	if block == nil || kblock == nil {
		t.Fatalf("not PEM: certificate %q, key of %d bytes", truncate(certPEM), len(keyPEM))
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParseECPrivateKey(kblock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key.PublicKey.Equal(cert.PublicKey)
}

// appDir holds an executable "app", for command lines that name it through PATH.
func appDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "app"), 0o755)
	return dir
}

// An argument cannot be left out, so ENVEXEC_IGNORE_MISSING does not apply to it: a
// missing secret fails, naming the argument, while a missing variable is left unset.
func TestVaultArgumentsMissing(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	v := canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"k": v}})
	env, jwt := f.env(t, settings.EnvIgnoreMissing+"=true", "GONE=vault:secret/"+u+"#nope", "OK=vault:secret/"+u+"#k")
	out := runEnvexec(t.Context(), t, []string{"--", "/bin/true", "--a=vault:secret/" + u + "#k", "${vault:secret/" + u + "#nope}"}, env)
	assertNoLeak(t, out.stderr, v, jwt)
	if out.code != ExitSecret || out.execed {
		t.Fatalf("exit %d, execed %v; stderr:\n%s", out.code, out.execed, out.stderr)
	}
	line := lastLogLine(t, out.stderr)
	if args, _ := line["arguments"].([]any); len(args) != 1 || args[0] != "argv[2]" {
		t.Errorf("log line arguments = %v, want [argv[2]]", line["arguments"])
	}
	if msg, _ := line["error"].(string); !strings.Contains(msg, `argument argv[2]: vault path "secret/`+u+`"`) ||
		!strings.Contains(msg, `key "nope" not found`) {
		t.Errorf("error %q should name the argument, the path and the key", msg)
	}
	if strings.Contains(out.stderr, "variable GONE") {
		t.Errorf("the ignored variable is reported as a failure: %s", out.stderr)
	}
}

// A command read from Vault is a secret: when it cannot be started, messages name the
// reference, not the value.
func TestVaultCommandFromReference(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	missing := "/nonexistent/" + canary(t)
	dir := appDir(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"missing": missing, "app": dir + "/app"}})
	env, jwt := f.env(t)
	ref := "vault:secret/" + u + "#missing"
	out := runEnvexec(t.Context(), t, []string{"--", ref, "x"}, env)
	assertNoLeak(t, out.stderr, missing, strings.TrimPrefix(missing, "/nonexistent/"), jwt)
	if out.code != ExitExec || !strings.Contains(out.stderr, "the command "+ref+" (argv[0], from a reference)") {
		t.Errorf("exit %d, stderr %s", out.code, out.stderr)
	}

	out = runEnvexec(t.Context(), t, []string{"--", "vault:secret/" + u + "#app", "x"}, env)
	if out.code != ExitOK || out.path != dir+"/app" || !slices.Equal(out.argv, []string{dir + "/app", "x"}) {
		t.Errorf("exit %d, path %q, argv %q; stderr %s", out.code, out.path, out.argv, out.stderr)
	}
	for _, l := range logLines(t, out.stderr) {
		if l["msg"] == "starting application" && l["command"] != "vault:secret/"+u+"#app" {
			t.Errorf("start line names command %v, want the reference as written", l["command"])
		}
	}
}
