package envexec

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// tokenProxy is a reverse proxy in front of the real Vault that remembers the last
// X-Vault-Token it saw (envexec's token) and can answer some requests itself.
type tokenProxy struct {
	addr  string
	mu    sync.Mutex
	token string
	paths []string
}

// newTokenProxy starts the proxy; answer, if not nil, handles the requests it returns
// true for instead of Vault.
func newTokenProxy(t *testing.T, f *fixture, answer func(w http.ResponseWriter, r *http.Request) bool) *tokenProxy {
	t.Helper()
	target, err := url.Parse(f.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &tokenProxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		if tok := r.Header.Get("X-Vault-Token"); tok != "" {
			p.token = tok
		}
		p.paths = append(p.paths, r.Method+" "+r.URL.Path)
		p.mu.Unlock()
		if answer != nil && answer(w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.addr = srv.URL
	return p
}

func (p *tokenProxy) lastToken(t *testing.T) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.token == "" {
		t.Fatal("envexec sent no token through the proxy")
	}
	return p.token
}

func (p *tokenProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string{}, p.paths...)
}

// lookupSelf is the status Vault answers GET auth/token/lookup-self with for token:
// 200 while it is valid, 403 once revoked.
func lookupSelf(t *testing.T, f *fixture, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.srv.Addr+"/v1/auth/token/lookup-self", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Vault-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// logLine is the first log line with message msg, or nil.
func logLine(t *testing.T, stderr, msg string) map[string]any {
	t.Helper()
	for _, l := range logLines(t, stderr) {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

// After a normal start the token envexec logged in with is revoked, before the exec.
func TestTokenRevokedBeforeExec(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	value := canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"k": value}})
	proxy := newTokenProxy(t, f, nil)
	env, jwt := f.env(t, settings.EnvVaultAddr+"="+proxy.addr, "K=vault:secret/"+u+"#k")
	var atExec int
	var stdout, stderr strings.Builder
	r := &Runner{Environ: env, Stdout: &stdout, Stderr: &stderr, Exec: func(string, []string, []string) error {
		atExec = lookupSelf(t, f, proxy.lastToken(t))
		return nil
	}}
	if code := r.Run(t.Context(), []string{"--", "true"}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	token := proxy.lastToken(t)
	if atExec != http.StatusForbidden {
		t.Errorf("lookup-self with envexec's token at exec: %d, want 403 (revoked)", atExec)
	}
	if reqs := proxy.requests(); reqs[len(reqs)-1] != "POST /v1/auth/token/revoke-self" {
		t.Errorf("last request %q, want the revocation", reqs[len(reqs)-1])
	}
	assertNoLeak(t, stderr.String(), value, jwt, token)
	if logLine(t, stderr.String(), "vault token revoked") == nil {
		t.Errorf("no debug line about the revocation:\n%s", stderr.String())
	}
}

// The token stays valid when someone still needs it.
func TestTokenKept(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	value := canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"k": value}})
	given := f.srv.Do(t, "POST", "auth/token/create", map[string]any{"policies": []string{"envexec-test"}, "ttl": "10m"})["auth"].(map[string]any)["client_token"].(string)
	tests := map[string]struct {
		extra      []string
		wantReason string
	}{
		"vault:login": {
			extra:      []string{settings.EnvAllowLogin + "=true", "VAULT_TOKEN=vault:login"},
			wantReason: "the application holds it (vault:login)",
		},
		"dynamic secret": {
			extra:      []string{`CERT=>>vault:pki/issue/web#certificate#{"common_name":"a.svc"}`},
			wantReason: "the leases of 1 dynamic secret would be revoked with it",
		},
		"token method": {
			extra:      []string{settings.EnvAuthMethod + "=token", settings.EnvVaultTokenFile + "=" + writeFile(t, given)},
			wantReason: "given by " + settings.EnvVaultTokenFile + ", not obtained by envexec",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			proxy := newTokenProxy(t, f, nil)
			env, jwt := f.env(t, append([]string{settings.EnvVaultAddr + "=" + proxy.addr, "K=vault:secret/" + u + "#k"}, tt.extra...)...)
			out := runOK(t, env, value, jwt)
			token := proxy.lastToken(t)
			assertNoLeak(t, out.stderr, token)
			if status := lookupSelf(t, f, token); status != http.StatusOK {
				t.Errorf("lookup-self with envexec's token after the run: %d, want 200 (kept)", status)
			}
			if app, ok := envValue(out.env, "VAULT_TOKEN"); ok && app != token {
				t.Error("the application's vault:login token is not the one envexec used")
			}
			if l := logLine(t, out.stderr, "vault token not revoked"); l == nil || l["reason"] != tt.wantReason {
				t.Errorf("debug line %v, want the reason %q:\n%s", l, tt.wantReason, out.stderr)
			}
		})
	}
}

// A revocation Vault refuses is a warning without the token; the application starts.
func TestTokenRevocationFailureOnlyWarns(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	value := canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"k": value}})
	proxy := newTokenProxy(t, f, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/v1/auth/token/revoke-self" {
			return false
		}
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"errors":["permission denied"]}`)
		return true
	})
	env, jwt := f.env(t, settings.EnvVaultAddr+"="+proxy.addr, "K=vault:secret/"+u+"#k")
	began := time.Now()
	out := runOK(t, env, value, jwt)
	token := proxy.lastToken(t)
	assertNoLeak(t, out.stderr, token)
	warn := logLine(t, out.stderr, "vault token not revoked, its TTL bounds it")
	want := "revoking the vault token: POST /v1/auth/token/revoke-self: 403 Forbidden: permission denied"
	if warn == nil || warn["level"] != "WARN" || warn["error"] != want {
		t.Errorf("warning %v, want one with %q", warn, want)
	}
	if status := lookupSelf(t, f, token); status != http.StatusOK {
		t.Errorf("lookup-self: %d, want 200 (the proxy refused the revocation)", status)
	}
	if took := time.Since(began); took > revokeTimeout {
		t.Errorf("took %v", took)
	}
}

// Daemon mode keeps and renews its token: it is not revoked when the application starts.
func TestTokenKeptInDaemonMode(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	value := canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"k": value}})
	proxy := newTokenProxy(t, f, nil)
	env, _ := f.env(t, settings.EnvVaultAddr+"="+proxy.addr, "SECRET=vault:secret/"+u+"#k")
	r := startDaemon(t, env, app)
	waitFor(t, 10*time.Second, "the application to start", func() bool { return countEvents(r.events(), "start") == 1 })
	if status := lookupSelf(t, f, proxy.lastToken(t)); status != http.StatusOK {
		t.Errorf("lookup-self with the daemon's token: %d, want 200 (kept)", status)
	}
	for _, req := range proxy.requests() {
		if strings.Contains(req, "revoke") {
			t.Errorf("daemon mode sent %s", req)
		}
	}
}
