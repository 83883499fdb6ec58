package envexec

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
	"github.com/vault-injector/vault-injector/internal/vaultdev"
)

// settings.Settings that change how envexec reaches and logs in to Vault, against the real Vault.

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// without drops the settings named from env (the fixture's kubernetes login).
func without(env []string, names ...string) []string {
	return slices.DeleteFunc(env, func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, name)
	})
}

func (f *fixture) token(t *testing.T) string {
	t.Helper()
	out := f.srv.Do(t, "POST", "auth/token/create", map[string]any{"policies": []string{"envexec-test"}, "ttl": "10m"})
	return out["auth"].(map[string]any)["client_token"].(string)
}

func TestVaultAuthMethods(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	value := canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"k": value}})
	roleID := f.srv.Do(t, "GET", "auth/approle/role/app/role-id", nil)["data"].(map[string]any)["role_id"].(string)
	noSecretRoleID := f.srv.Do(t, "GET", "auth/approle/role/app-no-secret-id/role-id", nil)["data"].(map[string]any)["role_id"].(string)
	secretID := func() string {
		return f.srv.Do(t, "POST", "auth/approle/role/app/secret-id", nil)["data"].(map[string]any)["secret_id"].(string)
	}
	login := []string{settings.EnvRole, settings.EnvAuthPath, settings.EnvTokenFile}
	tests := map[string]struct {
		env      func(t *testing.T, base []string) []string
		wantCode int
		secrets  []string
	}{
		"jwt": {env: func(_ *testing.T, base []string) []string {
			return append(base, settings.EnvAuthMethod+"=jwt")
		}},
		"approle": {env: func(t *testing.T, base []string) []string {
			sid := secretID()
			return append(without(base, login...), settings.EnvAuthMethod+"=approle", settings.EnvRoleIDFile+"="+writeFile(t, roleID), settings.EnvSecretIDFile+"="+writeFile(t, sid))
		}},
		"approle bad secret id": {wantCode: ExitLogin, secrets: []string{"not-the-secret-id"}, env: func(t *testing.T, base []string) []string {
			return append(without(base, login...), settings.EnvAuthMethod+"=approle", settings.EnvRoleIDFile+"="+writeFile(t, roleID),
				settings.EnvSecretIDFile+"="+writeFile(t, "not-the-secret-id"))
		}},
		"approle without a secret id file": {env: func(t *testing.T, base []string) []string {
			return append(without(base, login...), settings.EnvAuthMethod+"=approle", settings.EnvRoleIDFile+"="+writeFile(t, noSecretRoleID),
				settings.EnvSecretIDFile+"="+filepath.Join(t.TempDir(), "secret_id"))
		}},
		"approle secret id file missing for a role that binds one": {wantCode: ExitLogin, env: func(t *testing.T, base []string) []string {
			return append(without(base, login...), settings.EnvAuthMethod+"=approle", settings.EnvRoleIDFile+"="+writeFile(t, roleID),
				settings.EnvSecretIDFile+"="+filepath.Join(t.TempDir(), "secret_id"))
		}},
		"approle empty secret id file": {wantCode: ExitLogin, env: func(t *testing.T, base []string) []string {
			return append(without(base, login...), settings.EnvAuthMethod+"=approle", settings.EnvRoleIDFile+"="+writeFile(t, roleID),
				settings.EnvSecretIDFile+"="+writeFile(t, ""))
		}},
		"token": {env: func(t *testing.T, base []string) []string {
			return append(without(base, login...), settings.EnvAuthMethod+"=token", settings.EnvVaultTokenFile+"="+writeFile(t, f.token(t)))
		}},
		"bad token": {wantCode: ExitLogin, secrets: []string{"hvs.not-a-token"}, env: func(t *testing.T, base []string) []string {
			return append(without(base, login...), settings.EnvAuthMethod+"=token", settings.EnvVaultTokenFile+"="+writeFile(t, "hvs.not-a-token"))
		}},
		"missing token file": {wantCode: ExitLogin, env: func(_ *testing.T, base []string) []string {
			return append(without(base, login...), settings.EnvAuthMethod+"=token", settings.EnvVaultTokenFile+"=/nonexistent/vault-token")
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base, jwt := f.env(t, "K=vault:secret/"+u+"#k")
			env := tt.env(t, base)
			out := runEnvexec(t.Context(), t, []string{"--", "true"}, env)
			assertNoLeak(t, out.stderr, append(tt.secrets, value, jwt)...)
			if out.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", out.code, tt.wantCode, out.stderr)
			}
			if tt.wantCode == ExitOK {
				wantEnv(t, out.env, map[string]string{"K": value})
			}
		})
	}
}

func TestVaultTLS(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("needs a vault binary (skipped with -short)")
	}
	srv := vaultdev.StartWith(t, vaultdev.Options{TLS: true})
	value := canary(t)
	srv.Do(t, "POST", "secret/data/app", map[string]any{"data": map[string]any{"k": value}})
	token := srv.Do(t, "POST", "auth/token/create", map[string]any{"ttl": "10m"})["auth"].(map[string]any)["client_token"].(string)
	base := []string{
		"PATH=/usr/bin:/bin", settings.EnvVaultAddr + "=" + srv.Addr, settings.EnvAuthMethod + "=token", settings.EnvVaultTokenFile + "=" + writeFile(t, token),
		settings.EnvTimeout + "=10s", "K=vault:secret/app#k",
		// The application's own TLS settings are not envexec's.
		"VAULT_CACERT=" + srv.CAFile, "VAULT_SKIP_VERIFY=true",
	}
	caPEM, err := os.ReadFile(srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	caCerts, err := settings.CACerts(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	wrongCA := otherCA(t)
	tests := map[string]struct {
		extra    []string
		wantCode int
		wantText string
	}{
		"ca certs":                {extra: []string{settings.EnvCACerts + "=" + caCerts}},
		"ca certs of another ca":  {extra: []string{settings.EnvCACerts + "=" + wrongCA}, wantCode: ExitUnreachable, wantText: "x509: certificate signed by unknown authority"},
		"wrong ca file, ca certs": {extra: []string{settings.EnvCAFile + "=" + writeFile(t, wrongCA), settings.EnvCACerts + "=" + caCerts}},
		"ca file, wrong ca certs": {extra: []string{settings.EnvCAFile + "=" + srv.CAFile, settings.EnvCACerts + "=" + wrongCA}},
		"ca certs not a pem":      {extra: []string{settings.EnvCACerts + "=not pem"}, wantCode: ExitSettings, wantText: settings.EnvCACerts + ": text after certificate 0 is not a PEM block"},
		"ca file":                 {extra: []string{settings.EnvCAFile + "=" + srv.CAFile}},
		"system roots":            {wantCode: ExitUnreachable, wantText: "certificate"},
		"skip verify":             {extra: []string{settings.EnvTLSSkipVerify + "=true"}},
		"missing ca file":         {extra: []string{settings.EnvCAFile + "=/nonexistent/ca.pem"}, wantCode: ExitSettings, wantText: settings.EnvCAFile},
		"not a pem":               {extra: []string{settings.EnvCAFile + "=" + writeFile(t, "not pem")}, wantCode: ExitSettings, wantText: "no PEM certificate"},
		"wrong ca":                {extra: []string{settings.EnvCAFile + "=" + writeFile(t, wrongCA)}, wantCode: ExitUnreachable, wantText: "certificate"},
		"skip verify false":       {extra: []string{settings.EnvTLSSkipVerify + "=false"}, wantCode: ExitUnreachable, wantText: "certificate"},
		"ca and skip verify":      {extra: []string{settings.EnvCAFile + "=" + srv.CAFile, settings.EnvTLSSkipVerify + "=true"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			out := runEnvexec(t.Context(), t, []string{"--", "true"}, append(slices.Clone(base), tt.extra...))
			assertNoLeak(t, out.stderr, value, token)
			if out.code != tt.wantCode || !strings.Contains(out.stderr, tt.wantText) {
				t.Fatalf("exit %d, want %d with %q; stderr %s", out.code, tt.wantCode, tt.wantText, out.stderr)
			}
			if tt.wantCode == ExitOK {
				wantEnv(t, out.env, map[string]string{"K": value, "VAULT_CACERT": srv.CAFile, "VAULT_SKIP_VERIFY": "true"})
			}
			if time.Since(began) > 5*time.Second {
				t.Errorf("took %v: a certificate that does not verify must not be retried", time.Since(began))
			}
		})
	}
}

// otherCA is a CA certificate that did not sign the dev server's certificate.
func otherCA(t *testing.T) string {
	t.Helper()
	other := vaultdev.StartWith(t, vaultdev.Options{TLS: true})
	b, err := os.ReadFile(other.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// recorder is a reverse proxy in front of the real Vault that records request headers.
type recorder struct {
	mu      sync.Mutex
	headers []http.Header
}

func (f *fixture) recordingProxy(t *testing.T) (*recorder, string) {
	t.Helper()
	target, err := url.Parse(f.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.headers = append(rec.headers, r.Header.Clone())
		rec.mu.Unlock()
		proxy.ServeHTTP(w, r)
	})}
	go func() { _ = hs.Serve(l) }()
	t.Cleanup(func() { _ = hs.Close() })
	return rec, "http://" + l.Addr().String()
}

// The namespace header comes from ENVEXEC_VAULT_NAMESPACE on every request, and the
// application's VAULT_* variables are never used to build a request.
func TestVaultNamespaceAndAppVariables(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	value := canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"k": value}})
	rec, addr := f.recordingProxy(t)
	appVars := []string{
		"VAULT_ADDR=http://127.0.0.1:1", "VAULT_TOKEN=app-token", "VAULT_NAMESPACE=app-ns",
		"VAULT_HEADERS=X-App: 1", "VAULT_AGENT_ADDR=http://127.0.0.1:1", "HTTP_PROXY=http://127.0.0.1:1", "HTTPS_PROXY=http://127.0.0.1:1",
	}
	env, jwt := f.env(t, append([]string{settings.EnvVaultAddr + "=" + addr, settings.EnvVaultNamespace + "=team-a/apps", "K=vault:secret/" + u + "#k"}, appVars...)...)
	out := runOK(t, env, value, jwt)
	wantEnv(t, out.env, map[string]string{"K": value, "VAULT_TOKEN": "app-token", "VAULT_NAMESPACE": "app-ns"})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.headers) < 3 {
		t.Fatalf("%d requests recorded, want login, mount lookup and read", len(rec.headers))
	}
	for i, h := range rec.headers {
		if h.Get("X-Vault-Namespace") != "team-a/apps" || h.Get("X-Vault-Token") == "app-token" || h.Get("X-App") != "" {
			t.Errorf("request %d headers: namespace %q, app token used %v, app header %q", i,
				h.Get("X-Vault-Namespace"), h.Get("X-Vault-Token") == "app-token", h.Get("X-App"))
		}
	}
}

// A Vault that accepts connections but never answers: each attempt is cut after
// ENVEXEC_CLIENT_TIMEOUT and retried until ENVEXEC_TIMEOUT.
func TestClientTimeout(t *testing.T) {
	t.Parallel()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	env := append(settingsEnv(t, "http://"+l.Addr().String()), settings.EnvClientTimeout+"=300ms", settings.EnvTimeout+"=2s", settings.EnvLogLevel+"=debug", "DB=vault:s/x#k")
	began := time.Now()
	out := runEnvexec(t.Context(), t, []string{"--", "/bin/true"}, env)
	elapsed := time.Since(began)
	if out.code != ExitUnreachable || elapsed > 4*time.Second {
		t.Fatalf("exit %d after %v, want %d within the deadline; stderr %s", out.code, elapsed, ExitUnreachable, out.stderr)
	}
	if n := countLogs(t, out.stderr, "vault request failed, will retry"); n < 3 {
		t.Errorf("%d attempts, want each cut after 300ms and retried", n)
	}
}

func TestVaultFromPath(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	a, b, c := canary(t), canary(t), canary(t)
	f.put(t, "secret/data/"+u+"/one", map[string]any{"data": map[string]any{"A": a, "B": "from one", "tls.crt": "x\ny", "PORT": 5432}})
	f.put(t, "secret/data/"+u+"/one", map[string]any{"data": map[string]any{"A": "version 2"}})
	f.put(t, "kv1/"+u+"/two", map[string]any{"B": b, "C": c, "REF": "${vault:secret/x#y}"})
	env, jwt := f.env(t, settings.EnvFromPath+"=secret/"+u+"/one#1, kv1/"+u+"/two", "C=explicit", "D=vault:kv1/"+u+"/two#C")
	out := runOK(t, env, a, b, c, jwt)
	wantEnv(t, out.env, map[string]string{
		"A": a, "B": b, "C": "explicit", "D": c, "tls.crt": "x\ny", "PORT": "5432", "REF": "${vault:secret/x#y}",
	})
	if n := countLogs(t, out.stderr, "reading secret"); n != 2 {
		t.Errorf("%d reads, want 2 (kv1/two is read once for D and the from-path)", n)
	}

	f.put(t, "kv1/"+u+"/bad", map[string]any{"A=B": "x", settings.EnvPrefix + "ROLE": "admin"})
	env, _ = f.env(t, settings.EnvFromPath+"=kv1/"+u+"/bad,kv1/"+u+"/missing")
	bad := runEnvexec(t.Context(), t, []string{"--", "true"}, env)
	if bad.code != ExitSecret || !strings.Contains(bad.stderr, `key \"A=B\" cannot be`) || !strings.Contains(bad.stderr, "reserved prefix") ||
		!strings.Contains(bad.stderr, "variable "+settings.EnvFromPath) || !strings.Contains(bad.stderr, "kv1/"+u+"/missing") {
		t.Errorf("bad from-path: exit %d, stderr %s", bad.code, bad.stderr)
	}

	env, _ = f.env(t, settings.EnvFromPath+"=kv1/"+u+"/missing,kv1/"+u+"/two", settings.EnvIgnoreMissing+"=true")
	ok := runOK(t, env, b, c)
	wantEnv(t, ok.env, map[string]string{"B": b})
	if countLogs(t, ok.stderr, "secret missing, from-path entry skipped") != 1 {
		t.Errorf("no warning for the missing path: %s", ok.stderr)
	}
}

func TestPassthrough(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	write(t, filepath.Join(bin, "app"), 0o755)
	env := append(settingsEnv(t, closedAddr(t)), "PATH="+bin, settings.EnvPassthrough+"="+settings.EnvPod+","+settings.EnvNamespace)
	out := runEnvexec(t.Context(), t, []string{"--", "app"}, env)
	if out.code != ExitOK {
		t.Fatalf("exit %d: %s", out.code, out.stderr)
	}
	var kept []string
	for _, kv := range out.env {
		if strings.HasPrefix(kv, settings.EnvPrefix) {
			kept = append(kept, kv)
		}
	}
	if want := []string{settings.EnvPod + "=web-7d9f", settings.EnvNamespace + "=shop"}; !slices.Equal(kept, want) {
		t.Errorf("ENVEXEC_ variables in the application's environment = %q, want %q", kept, want)
	}
}
