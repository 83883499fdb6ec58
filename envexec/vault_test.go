package envexec

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
	"github.com/vault-injector/vault-injector/internal/vaultdev"
)

// Integration tests against a real `vault server -dev`, shared by the package's tests
// (each uses its own secret paths, so they run in parallel). Kubernetes auth needs an
// apiserver (the e2e suite covers it); here Vault's jwt auth is mounted at
// kubernetes-test, which takes the same {"role","jwt"} login body, so envexec's real
// login code runs against a real Vault.

const (
	testAuthPath = "kubernetes-test"
	testRole     = "app"
	testIssuer   = "envexec-test"
	testAudience = "vault"
)

// sharedFixture is one Vault shared by the tests of this test binary; TestMain stops it.
type sharedFixture struct {
	once sync.Once
	fx   *fixture
	err  error
}

// shared serves plain HTTP; sharedTLS serves HTTPS (HTTP/2) with a CA of its own.
var shared, sharedTLS sharedFixture

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		if err := os.RemoveAll(built.dir); err != nil {
			fmt.Fprintln(os.Stderr, "removing the test binary:", err)
		}
	}
	for _, sf := range []*sharedFixture{&shared, &sharedTLS} {
		if sf.fx != nil {
			if err := sf.fx.srv.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "stopping vault:", err)
			}
		}
	}
	os.Exit(code)
}

// fixture is a Vault with kv v1 at kv1/, kv v2 at secret/, pki at pki/ (role "web" for
// *.svc, with leases), transit at transit/ (key "app"), jwt auth at kubernetes-test
// trusting key, and role "app" that may read both kv mounts except secret/forbidden/,
// issue from pki/issue/web and decrypt with transit key "app".
type fixture struct {
	srv *vaultdev.Server
	key *ecdsa.PrivateKey
}

func vault(t testing.TB) *fixture {
	t.Helper()
	return shared.get(t, vaultdev.Options{})
}

// vaultTLS is the fixture over HTTPS: its srv.Addr is https://, and envexec trusts it
// only with ENVEXEC_CA_FILE=srv.CAFile.
func vaultTLS(t testing.TB) *fixture {
	t.Helper()
	return sharedTLS.get(t, vaultdev.Options{TLS: true})
}

func (sf *sharedFixture) get(t testing.TB, opts vaultdev.Options) *fixture {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a vault binary (skipped with -short)")
	}
	// The server outlives this test: the context bounds only finding and starting it.
	sf.once.Do(func() { sf.fx, sf.err = newFixture(t.Context(), opts) })
	if sf.err != nil {
		t.Fatal(sf.err)
	}
	return sf.fx
}

func newFixture(ctx context.Context, opts vaultdev.Options) (*fixture, error) {
	bin, err := vaultdev.FindBinary(ctx, os.Stderr)
	if err != nil {
		return nil, err
	}
	srv, err := vaultdev.StartContextWith(ctx, bin, nil, opts)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	policy := `
path "secret/data/*" { capabilities = ["read"] }
path "kv1/*" { capabilities = ["read"] }
path "secret/data/forbidden/*" { capabilities = ["deny"] }
path "secret/metadata/watched/*" { capabilities = ["read"] }
path "pki/issue/web" { capabilities = ["create", "update"] }
path "pki/issue/retry-*" { capabilities = ["create", "update"] }
path "database/creds/app" { capabilities = ["read"] }
path "transit/decrypt/app" { capabilities = ["create", "update"] }
`
	steps := []struct {
		method, path string
		body         any
	}{
		{"POST", "sys/mounts/kv1", map[string]any{"type": "kv", "options": map[string]string{"version": "1"}}},
		{"PUT", "sys/policies/acl/envexec-test", map[string]string{"policy": policy}},
		{"POST", "sys/mounts/pki", map[string]any{"type": "pki", "config": map[string]string{"max_lease_ttl": "24h"}}},
		{"POST", "pki/root/generate/internal", map[string]any{"common_name": "envexec test root", "ttl": "24h", "key_type": "ec"}},
		{"POST", "pki/roles/web", map[string]any{
			"allowed_domains": "svc", "allow_subdomains": true, "max_ttl": "1h",
			"key_type": "ec", "generate_lease": true,
		}},
		{"POST", "sys/mounts/transit", map[string]any{"type": "transit"}},
		{"POST", "transit/keys/app", nil},
		{"POST", "sys/auth/approle", map[string]string{"type": "approle"}},
		{"POST", "auth/approle/role/app", map[string]any{"token_policies": []string{"envexec-test"}, "token_ttl": "10m"}},
		{"POST", "auth/approle/role/app-no-secret-id", map[string]any{"token_policies": []string{"envexec-test"}, "token_ttl": "10m", "bind_secret_id": false, "token_bound_cidrs": []string{"127.0.0.1/32"}}},
		{"POST", "sys/auth/" + testAuthPath, map[string]string{"type": "jwt"}},
		{"POST", "auth/" + testAuthPath + "/config", map[string]any{
			"jwt_validation_pubkeys": []string{string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))},
			"bound_issuer":           testIssuer,
		}},
		{"POST", "auth/" + testAuthPath + "/role/" + testRole, map[string]any{
			"role_type": "jwt", "bound_audiences": []string{testAudience}, "user_claim": "sub",
			"policies": []string{"envexec-test"}, "token_ttl": "10m",
		}},
		{"POST", "auth/" + testAuthPath + "/role/short", map[string]any{
			"role_type": "jwt", "bound_audiences": []string{testAudience}, "user_claim": "sub",
			"policies": []string{"envexec-test"}, "token_ttl": "3s", "token_max_ttl": "7s",
		}},
	}
	for _, s := range steps {
		if _, err := srv.Request(ctx, s.method, s.path, s.body); err != nil {
			return nil, fmt.Errorf("setting up vault: %w", errorsJoinStop(err, srv))
		}
	}
	return &fixture{srv: srv, key: key}, nil
}

func errorsJoinStop(err error, srv *vaultdev.Server) error {
	if serr := srv.Stop(); serr != nil {
		return fmt.Errorf("%w (and stopping: %w)", err, serr)
	}
	return err
}

// signJWT signs an ES256 token for the ServiceAccount-like subject with the given audience.
func signJWT(t testing.TB, key *ecdsa.PrivateKey, aud string) string {
	t.Helper()
	now := time.Now().Unix()
	header := map[string]string{"alg": "ES256", "typ": "JWT"}
	claims := map[string]any{
		"iss": testIssuer, "sub": "system:serviceaccount:shop:web", "aud": []string{aud},
		"iat": now, "nbf": now - 30, "exp": now + 600,
	}
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := enc(header) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// env is a working envexec configuration at debug level, with a fresh JWT in a token
// file; it returns the JWT too, so tests can check it never leaks.
func (f *fixture) env(t testing.TB, extra ...string) ([]string, string) {
	t.Helper()
	jwt := signJWT(t, f.key, testAudience)
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte(jwt), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=/usr/bin:/bin",
		settings.EnvVaultAddr + "=" + f.srv.Addr, settings.EnvRole + "=" + testRole, settings.EnvAuthPath + "=" + testAuthPath,
		settings.EnvTokenFile + "=" + token, settings.EnvTimeout + "=30s", settings.EnvLogLevel + "=debug",
		settings.EnvPod + "=web-7d9f", settings.EnvNamespace + "=shop", settings.EnvContainer + "=app",
	}
	return append(env, extra...), jwt
}

// put writes a secret with the root token; path is the API path.
func (f *fixture) put(t testing.TB, path string, body map[string]any) {
	t.Helper()
	f.srv.Do(t, "POST", path, body)
}

// unique is a per-test secret path segment, so parallel tests never share secrets.
func unique(t testing.TB) string {
	return strings.NewReplacer("/", "-", " ", "-").Replace(strings.ToLower(t.Name())) + "-" + rand.Text()[:6]
}

func canary(t *testing.T) string {
	t.Helper()
	return "canary-" + rand.Text()
}

// runOK runs envexec, expects a successful exec, and checks that no secret leaked.
func runOK(t *testing.T, env []string, secrets ...string) outcome {
	t.Helper()
	out := runEnvexec(t.Context(), t, []string{"--", "sh", "-c", "true"}, env)
	assertNoLeak(t, out.stderr, secrets...)
	if out.code != ExitOK || !out.execed {
		t.Fatalf("exit %d, execed %v; stderr:\n%s", out.code, out.execed, out.stderr)
	}
	return out
}

func TestVaultKV2(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	password := canary(t)
	f.put(t, "secret/data/"+u+"/db", map[string]any{"data": map[string]any{
		"password": password, "port": 5432, "ratio": 1.25, "tls": true,
		"conf": map[string]any{"host": "db<1>&2"}, "user": "app",
	}})
	env, jwt := f.env(t,
		"CLI_PATH=vault:secret/"+u+"/db#password",
		"API_PATH=vault:secret/data/"+u+"/db#password",
		"PORT=vault:secret/"+u+"/db#port",
		"RATIO=vault:secret/"+u+"/db#ratio",
		"TLS=vault:secret/"+u+"/db#tls",
		"CONF=vault:secret/"+u+"/db#conf",
		"PLAIN=unchanged",
	)
	out := runOK(t, env, password, jwt)
	want := map[string]string{
		"CLI_PATH": password, "API_PATH": password, "PORT": "5432", "RATIO": "1.25", "TLS": "true",
		"CONF": `{"host":"db<1>&2"}`, "PLAIN": "unchanged",
	}
	for name, w := range want {
		if got, _ := envValue(out.env, name); got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
	for _, kv := range out.env {
		if strings.HasPrefix(kv, settings.EnvPrefix) {
			t.Errorf("exec'd env keeps %s", strings.SplitN(kv, "=", 2)[0])
		}
	}
	if out.path != "/usr/bin/sh" && out.path != "/bin/sh" {
		t.Errorf("path %q, want sh resolved through PATH", out.path)
	}
}

func TestVaultKV1(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	password := canary(t)
	f.put(t, "kv1/"+u+"/db", map[string]any{"password": password, "data": "a key named data"})
	env, jwt := f.env(t, "DB_PASSWORD=vault:kv1/"+u+"/db#password", "DATA=vault:kv1/"+u+"/db#data")
	out := runOK(t, env, password, jwt)
	if got, _ := envValue(out.env, "DB_PASSWORD"); got != password {
		t.Errorf("DB_PASSWORD = %q, want the secret", got)
	}
	if got, _ := envValue(out.env, "DATA"); got != "a key named data" {
		t.Errorf("DATA = %q", got)
	}

	env, jwt = f.env(t, "DB_PASSWORD=vault:kv1/"+u+"/db#password#2")
	bad := runEnvexec(t.Context(), t, []string{"--", "true"}, env)
	assertNoLeak(t, bad.stderr, password, jwt)
	if bad.code != ExitSettings || !strings.Contains(bad.stderr, "needs a kv v2 mount") || !strings.Contains(bad.stderr, "DB_PASSWORD") {
		t.Errorf("version pin on kv v1: exit %d, stderr %s", bad.code, bad.stderr)
	}
}

func TestVaultVersionPin(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	v1, v2 := canary(t), canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"token": v1}})
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"token": v2}})
	env, jwt := f.env(t,
		"PINNED=vault:secret/"+u+"#token#1",
		"LATEST=vault:secret/"+u+"#token",
		"PINNED_API=vault:secret/data/"+u+"#token#2",
	)
	out := runOK(t, env, v1, v2, jwt)
	for name, w := range map[string]string{"PINNED": v1, "LATEST": v2, "PINNED_API": v2} {
		if got, _ := envValue(out.env, name); got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
	env, _ = f.env(t, "FUTURE=vault:secret/"+u+"#token#9")
	bad := runEnvexec(t.Context(), t, []string{"--", "true"}, env)
	assertNoLeak(t, bad.stderr, v1, v2)
	if bad.code != ExitSecret || !strings.Contains(bad.stderr, "FUTURE") {
		t.Errorf("missing version: exit %d, stderr %s", bad.code, bad.stderr)
	}
}

// Several variables of one secret, in both path styles, cost one read; the debug log
// has one "reading secret" line per read.
func TestVaultReadsEachSecretOnce(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	a, b, c, d := canary(t), canary(t), canary(t), canary(t)
	f.put(t, "secret/data/"+u+"/one", map[string]any{"data": map[string]any{"a": a, "b": b, "c": c}})
	f.put(t, "secret/data/"+u+"/two", map[string]any{"data": map[string]any{"d": d}})
	env, jwt := f.env(t,
		"A=vault:secret/"+u+"/one#a",
		"B=vault:secret/"+u+"/one#b",
		"C=vault:secret/data/"+u+"/one#c",
		"D=vault:secret/"+u+"/two#d",
		"D_AGAIN=vault:secret/"+u+"/two#d",
	)
	out := runOK(t, env, a, b, c, d, jwt)
	for name, w := range map[string]string{"A": a, "B": b, "C": c, "D": d, "D_AGAIN": d} {
		if got, _ := envValue(out.env, name); got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
	reads := map[string]int{}
	for _, l := range logLines(t, out.stderr) {
		if l["msg"] == "reading secret" {
			reads[l["path"].(string)]++
		}
	}
	want := map[string]int{"secret/data/" + u + "/one": 1, "secret/data/" + u + "/two": 1}
	if fmt.Sprint(reads) != fmt.Sprint(want) {
		t.Errorf("reads = %v, want %v", reads, want)
	}
}

func TestVaultLoginFailures(t *testing.T) {
	t.Parallel()
	f := vault(t)
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		role string
		jwt  string
	}{
		"unknown role":   {role: "no-such-role", jwt: signJWT(t, f.key, testAudience)},
		"wrong audience": {role: testRole, jwt: signJWT(t, f.key, "someone-else")},
		"untrusted key":  {role: testRole, jwt: signJWT(t, otherKey, testAudience)},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			token := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(token, []byte(tt.jwt+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			env, _ := f.env(t, settings.EnvRole+"="+tt.role, settings.EnvTokenFile+"="+token, "DB=vault:secret/x#y")
			out := runEnvexec(t.Context(), t, []string{"--", "true"}, env)
			assertNoLeak(t, out.stderr, tt.jwt, strings.Split(tt.jwt, ".")[2])
			if out.code != ExitLogin || out.execed {
				t.Fatalf("exit %d, want %d; stderr %s", out.code, ExitLogin, out.stderr)
			}
			line := lastLogLine(t, out.stderr)
			msg, _ := line["error"].(string)
			if !strings.Contains(msg, `role "`+tt.role+`"`) || !strings.Contains(msg, "auth/"+testAuthPath) {
				t.Errorf("error %q should name the role and auth path", msg)
			}
			if line["pod"] != "web-7d9f" || line["container"] != "app" {
				t.Errorf("log line does not name the pod and container: %v", line)
			}
		})
	}
}

func TestVaultSecretFailures(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	value := canary(t)
	f.put(t, "secret/data/"+u+"/db", map[string]any{"data": map[string]any{"password": value}})
	f.put(t, "secret/data/forbidden/"+u, map[string]any{"data": map[string]any{"password": value}})
	f.put(t, "kv1/"+u, map[string]any{"password": value})
	tests := map[string]struct {
		ref      string
		wantCode int
		wantText []string
	}{
		"missing kv2 secret": {
			ref: "vault:secret/" + u + "/nope#password", wantCode: ExitSecret,
			wantText: []string{`vault path \"secret/` + u + `/nope\"`, "GET /v1/secret/data/" + u + "/nope", "404"},
		},
		"missing kv2 key": {
			ref: "vault:secret/" + u + "/db#pasword", wantCode: ExitSecret,
			wantText: []string{`key \"pasword\" not found`, "password"},
		},
		"missing kv1 secret": {
			ref: "vault:kv1/" + u + "-nope#password", wantCode: ExitSecret,
			wantText: []string{"kv1/" + u + "-nope", "404"},
		},
		"missing kv1 key": {
			ref: "vault:kv1/" + u + "#user", wantCode: ExitSecret,
			wantText: []string{`key \"user\" not found`},
		},
		"denied read": {
			ref: "vault:secret/forbidden/" + u + "#password", wantCode: ExitSecret,
			wantText: []string{"secret/data/forbidden/" + u, `403 Forbidden: permission denied"`},
		},
		"no such mount": {
			ref: "vault:nomount/" + u + "#password", wantCode: ExitSecret,
			wantText: []string{"nomount/" + u},
		},
		"mount itself": {
			ref: "vault:secret#password", wantCode: ExitSettings,
			wantText: []string{"not a secret"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env, jwt := f.env(t, "DB_PASSWORD="+tt.ref, "OK=vault:secret/"+u+"/db#password")
			out := runEnvexec(t.Context(), t, []string{"--", "true"}, env)
			assertNoLeak(t, out.stderr, value, jwt)
			if out.code != tt.wantCode || out.execed {
				t.Fatalf("exit %d, want %d; stderr %s", out.code, tt.wantCode, out.stderr)
			}
			line := lastLogLine(t, out.stderr)
			if vars, _ := line["variables"].([]any); len(vars) != 1 || vars[0] != "DB_PASSWORD" {
				t.Errorf("log line variables = %v, want [DB_PASSWORD]", line["variables"])
			}
			for _, w := range append(tt.wantText, "DB_PASSWORD") {
				if !strings.Contains(out.stderr, w) {
					t.Errorf("stderr lacks %q: %s", w, out.stderr)
				}
			}
		})
	}
}

// The application's own VAULT_ADDR and VAULT_TOKEN are neither used nor changed.
func TestVaultAppEnvUntouched(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	value := canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"k": value}})
	env, jwt := f.env(t, "VAULT_ADDR=http://127.0.0.1:1", "VAULT_TOKEN=app-token-not-for-envexec",
		"VAULT_NAMESPACE=app-ns", "K=vault:secret/"+u+"#k")
	out := runOK(t, env, value, jwt)
	for name, w := range map[string]string{
		"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "app-token-not-for-envexec",
		"VAULT_NAMESPACE": "app-ns", "K": value,
	} {
		if got, _ := envValue(out.env, name); got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
}

// A sealed Vault answers 503: envexec retries until its deadline, then exits 6 saying why.
func TestVaultSealedRetriesUntilDeadline(t *testing.T) {
	t.Parallel()
	f := vault(t)
	sealed := vaultdev.Start(t)
	sealed.Do(t, "PUT", "sys/seal", nil)
	env, jwt := f.env(t, settings.EnvVaultAddr+"="+sealed.Addr, settings.EnvTimeout+"=2s", "DB=vault:secret/x#y")
	began := time.Now()
	out := runEnvexec(t.Context(), t, []string{"--", "true"}, env)
	elapsed := time.Since(began)
	assertNoLeak(t, out.stderr, jwt)
	if out.code != ExitUnreachable {
		t.Fatalf("exit %d, want %d; stderr %s", out.code, ExitUnreachable, out.stderr)
	}
	if elapsed < 1500*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("took %v, want retries until the 2s deadline", elapsed)
	}
	msg, _ := lastLogLine(t, out.stderr)["error"].(string)
	if !strings.Contains(msg, "503") || !strings.Contains(msg, "sealed") || !strings.Contains(msg, "deadline exceeded") {
		t.Errorf("error %q should name the 503, the seal and the deadline", msg)
	}
	retries := 0
	for _, l := range logLines(t, out.stderr) {
		if l["msg"] == "vault request failed, will retry" {
			retries++
		}
	}
	if retries < 3 {
		t.Errorf("%d retries logged, want several", retries)
	}
}
