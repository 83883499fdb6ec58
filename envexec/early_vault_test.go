package envexec

import (
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

// vaultCall is one request a recordingProxy passed to Vault.
type vaultCall struct {
	path       string
	start, end time.Time
}

// recordingProxy sits between envexec and the real Vault, records every request, and
// holds mount lookups back for a while so that what starts alongside them shows.
type recordingProxy struct {
	*httptest.Server
	mu    sync.Mutex
	calls []vaultCall
}

func newRecordingProxy(t *testing.T, vaultAddr string, lookupDelay time.Duration) *recordingProxy {
	t.Helper()
	target, err := url.Parse(vaultAddr)
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := vaultCall{path: strings.TrimPrefix(r.URL.Path, "/v1/"), start: time.Now()}
		if strings.HasPrefix(c.path, "sys/internal/ui/mounts/") {
			time.Sleep(lookupDelay)
		}
		rp.ServeHTTP(w, r)
		c.end = time.Now()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.calls = append(p.calls, c)
	}))
	t.Cleanup(p.Close)
	return p
}

// find returns the recorded calls of one path.
func (p *recordingProxy) find(path string) []vaultCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []vaultCall
	for _, c := range p.calls {
		if c.path == path {
			out = append(out, c)
		}
	}
	return out
}

// withSetting replaces one of envexec's settings in env.
func withSetting(env []string, name, value string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return append(out, name+"="+value)
}

// TestVaultEarlyRead checks that a path written "<mount>/data/..." is read while its mount
// is looked up, not after, and once, shared with the same secret written the CLI's way.
func TestVaultEarlyRead(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	a, b := canary(t), canary(t)
	f.put(t, "secret/data/"+u+"/db", map[string]any{"data": map[string]any{"a": a, "b": b}})
	proxy := newRecordingProxy(t, f.srv.Addr, 300*time.Millisecond)
	env, jwt := f.env(t, "A=vault:secret/data/"+u+"/db#a", "B=vault:secret/"+u+"/db#b")
	out := runOK(t, withSetting(env, settings.EnvVaultAddr, proxy.URL), a, b, jwt)
	for name, want := range map[string]string{"A": a, "B": b} {
		if got, _ := envValue(out.env, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	reads := proxy.find("secret/data/" + u + "/db")
	lookups := proxy.find("sys/internal/ui/mounts/secret/data/" + u + "/db")
	if len(reads) != 1 || len(lookups) != 1 {
		t.Fatalf("%d reads and %d lookups of the secret, want 1 each", len(reads), len(lookups))
	}
	if !reads[0].start.Before(lookups[0].end) {
		t.Errorf("the read started %v after its mount lookup ended; want it alongside", reads[0].start.Sub(lookups[0].end))
	}
}

// TestVaultEarlyReadIgnoredWhenMountDisagrees mounts KV v2 at "<name>/data/", where the path
// as written is not the API path: the early read is dropped and the right one made.
func TestVaultEarlyReadIgnoredWhenMountDisagrees(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	mount := "odd" + strings.ToLower(u[len(u)-6:])
	f.srv.Do(t, "POST", "sys/mounts/"+mount+"/data", map[string]any{"type": "kv", "options": map[string]string{"version": "2"}})
	f.srv.Do(t, "PUT", "sys/policies/acl/envexec-odd-"+mount, map[string]string{"policy": `path "` + mount + `/*" { capabilities = ["read"] }`})
	a := canary(t)
	f.put(t, mount+"/data/data/db", map[string]any{"data": map[string]any{"a": a}})
	f.srv.Do(t, "POST", "auth/"+testAuthPath+"/role/odd-"+mount, map[string]any{
		"role_type": "jwt", "bound_audiences": []string{testAudience}, "user_claim": "sub",
		"policies": []string{"envexec-test", "envexec-odd-" + mount}, "token_ttl": "10m",
	})
	proxy := newRecordingProxy(t, f.srv.Addr, 0)
	env, jwt := f.env(t, "A=vault:"+mount+"/data/db#a")
	env = withSetting(withSetting(env, settings.EnvVaultAddr, proxy.URL), settings.EnvRole, "odd-"+mount)
	out := runOK(t, env, a, jwt)
	if got, _ := envValue(out.env, "A"); got != a {
		t.Errorf("A = %q, want %q", got, a)
	}
	if n := len(proxy.find(mount + "/data/data/db")); n != 1 {
		t.Errorf("%d reads of the API path, want 1", n)
	}
	if n := len(proxy.find(mount + "/data/db")); n != 1 {
		t.Errorf("%d early reads of the path as written, want 1 (made, then dropped)", n)
	}
}

// TestVaultEarlyReadOnKV1 reads an API-form path on a KV v1 mount, where the path as
// written is the secret's own path: the early read is the read. A version pin there is
// refused as before, whatever the early read found.
func TestVaultEarlyReadOnKV1(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	a := canary(t)
	f.put(t, "kv1/data/"+u, map[string]any{"a": a})
	proxy := newRecordingProxy(t, f.srv.Addr, 0)
	env, jwt := f.env(t, "A=vault:kv1/data/"+u+"#a")
	out := runOK(t, withSetting(env, settings.EnvVaultAddr, proxy.URL), a, jwt)
	if got, _ := envValue(out.env, "A"); got != a {
		t.Errorf("A = %q, want %q", got, a)
	}
	if n := len(proxy.find("kv1/data/" + u)); n != 1 {
		t.Errorf("%d reads, want 1", n)
	}
	env, _ = f.env(t, "PINNED=vault:kv1/data/"+u+"#a#1")
	bad := runEnvexec(t.Context(), t, []string{"--", "true"}, env)
	assertNoLeak(t, bad.stderr, a)
	if bad.code != ExitSettings || !strings.Contains(bad.stderr, "needs a kv v2 mount") {
		t.Errorf("pinned kv1: exit %d, stderr %s", bad.code, bad.stderr)
	}
}
