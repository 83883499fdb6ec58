//go:build linux

package envexec

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// GODEBUG=http2debug=2 makes Go's HTTP/2 client print every header and DATA frame: in
// envexec that would be the login JWT, the X-Vault-Token and the secrets. The real
// binary talks HTTP/2 to a real Vault over TLS, prints nothing of it, and hands
// GODEBUG to the application.
func TestBinaryGODEBUGDoesNotReachEnvexec(t *testing.T) {
	t.Parallel()
	f := vaultTLS(t)
	if proto := negotiatedProto(t, f); proto != "HTTP/2.0" {
		t.Fatalf("vault answers over %s: this test needs HTTP/2", proto)
	}
	u := unique(t)
	password := canary(t)
	f.put(t, "secret/data/"+u+"/db", map[string]any{"data": map[string]any{"password": password}})
	env, jwt := f.env(t, settings.EnvCAFile+"="+f.srv.CAFile, settings.EnvAllowLogin+"=true", "GODEBUG=http2debug=2",
		"DB_PASSWORD=vault:secret/"+u+"/db#password", "VAULT_TOKEN=vault:login")
	run := runBinary(t, env, "--", "/bin/sh", "-c", `printf '%s\n%s\n%s' "$GODEBUG" "$DB_PASSWORD" "$VAULT_TOKEN"`)
	got := strings.Split(run.stdout, "\n")
	if run.code != ExitOK || len(got) != 3 {
		t.Fatalf("exit %d, stdout %q; stderr:\n%s", run.code, run.stdout, run.stderr)
	}
	token := got[2]
	if got[0] != "http2debug=2" || got[1] != password || !strings.HasPrefix(token, "hvs.") {
		t.Errorf("the application got GODEBUG %q, DB_PASSWORD %q, VAULT_TOKEN %q; want http2debug=2, the secret, a token", got[0], got[1], token)
	}
	assertNoLeak(t, run.stderr, jwt, token, password)
	if strings.Contains(run.stderr, "http2: ") {
		t.Errorf("envexec printed HTTP/2 debug lines:\n%s", run.stderr)
	}
}

// negotiatedProto is the protocol Vault answers a client like envexec's with.
func negotiatedProto(t *testing.T, f *fixture) string {
	t.Helper()
	pem, err := os.ReadFile(f.srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.srv.Addr+"/v1/sys/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Proto
}

// SSL_CERT_FILE and SSL_CERT_DIR would make crypto/x509 load a CA the tenant chose as
// envexec's "system" roots. A fake Vault with a certificate from such a CA gets
// nothing; the platform's ENVEXEC_CA_FILE still works next to those variables.
func TestBinaryTenantCAIsNotTrusted(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "tenant CA")
	caFile := writeFile(t, string(ca.pem))
	caDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(caDir, "tenant.pem"), ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	tenant := []string{"SSL_CERT_FILE=" + caFile, "SSL_CERT_DIR=" + caDir}

	t.Run("fake vault", func(t *testing.T) {
		t.Parallel()
		fake := newFakeTLSVault(t, ca)
		env := append(fakeEnv(t, fake.URL), tenant...)
		run := runBinary(t, env, "--", "/bin/true")
		msg, _ := lastLogLine(t, run.stderr)["error"].(string)
		if run.code != ExitUnreachable || !strings.Contains(msg, "tls: failed to verify certificate: x509: certificate signed by unknown authority") {
			t.Errorf("exit %d, error %q; want exit %d, the certificate not trusted", run.code, msg, ExitUnreachable)
		}
		assertNoLeak(t, run.stderr, fakeJWT)
		if reqs := fake.requests(); len(reqs) > 0 {
			t.Errorf("the tenant's server received %q", reqs)
		}
	})
	// Control: trusted on purpose (ENVEXEC_CA_FILE), the same server does get the login,
	// so the case above fails for trust alone.
	t.Run("control: tenant CA as ENVEXEC_CA_FILE", func(t *testing.T) {
		t.Parallel()
		fake := newFakeTLSVault(t, ca)
		env := append(fakeEnv(t, fake.URL), settings.EnvCAFile+"="+caFile)
		run := runBinary(t, env, "--", "/bin/true")
		if run.code != ExitLogin {
			t.Errorf("exit %d, want %d (the fake Vault refuses the login); stderr %s", run.code, ExitLogin, run.stderr)
		}
		if reqs := fake.requests(); !slices.Contains(reqs, "POST /v1/auth/"+testAuthPath+"/login") {
			t.Errorf("the server trusted through %s received %q, want the login", settings.EnvCAFile, reqs)
		}
	})
	t.Run("platform CA", func(t *testing.T) {
		t.Parallel()
		f := vaultTLS(t)
		u := unique(t)
		password := canary(t)
		f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"k": password}})
		env, jwt := f.env(t, append([]string{settings.EnvCAFile + "=" + f.srv.CAFile, "K=vault:secret/" + u + "#k"}, tenant...)...)
		run := runBinary(t, env, "--", "/bin/sh", "-c", `printf '%s %s' "$K" "$SSL_CERT_FILE"`)
		if run.code != ExitOK || run.stdout != password+" "+caFile {
			t.Errorf("exit %d, stdout %q; want the secret and the tenant's SSL_CERT_FILE; stderr %s", run.code, run.stdout, run.stderr)
		}
		assertNoLeak(t, run.stderr, password, jwt)
	})
}

// fakeTLSVault records the requests it receives and refuses every one (403).
type fakeTLSVault struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newFakeTLSVault(t *testing.T, ca *testCA) *fakeTLSVault {
	t.Helper()
	f := &fakeTLSVault{}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		f.mu.Lock()
		f.seen = append(f.seen, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"errors":["permission denied"]}`)
	}))
	f.TLS = &tls.Config{Certificates: []tls.Certificate{ca.serving(t)}, MinVersion: tls.VersionTLS12}
	f.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
	f.StartTLS()
	t.Cleanup(f.Close)
	return f
}

func (f *fakeTLSVault) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{}, f.seen...)
}
