package envexec

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

func TestOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		same bool
	}{
		{"https://vault", "https://vault:443/v1/x", true},
		{"HTTPS://Vault.Example:8200", "https://vault.example:8200/other?q", true},
		{"http://vault", "http://vault:80", true},
		{"http://[::1]:8200", "http://[::1]:8200/v1", true},
		{"https://vault:8200", "http://vault:8200", false},
		{"https://vault:8200", "https://vault:8201", false},
		{"https://vault", "https://vault.evil", false},
		{"https://vault", "https://vault:8443", false},
	}
	for _, tt := range tests {
		a, errA := url.Parse(tt.a)
		b, errB := url.Parse(tt.b)
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if got := origin(a) == origin(b); got != tt.same {
			t.Errorf("origin(%s) == origin(%s) is %v, want %v (%s, %s)", tt.a, tt.b, got, tt.same, origin(a), origin(b))
		}
	}
}

// A redirect to another origin is refused before anything is sent there: neither the
// login (a 307 would resend the JWT, a 302 turns it into a GET that keeps the headers)
// nor a request carrying X-Vault-Token reaches the other server. The error names the
// request and the other host, not the Location's query, and is not retried.
func TestRedirectToAnotherOriginSendsNothing(t *testing.T) {
	t.Parallel()
	const token = "hvs.token-canary-for-redirects"
	tests := map[string]struct {
		status int
		// redirectLogin redirects the login; otherwise the login succeeds and the
		// next request (a mount lookup, with the token) is redirected.
		redirectLogin bool
		wantRequest   string
	}{
		"307 login": {status: http.StatusTemporaryRedirect, redirectLogin: true, wantRequest: "POST /v1/auth/" + testAuthPath + "/login"},
		"302 login": {status: http.StatusFound, redirectLogin: true, wantRequest: "POST /v1/auth/" + testAuthPath + "/login"},
		"308 login": {status: http.StatusPermanentRedirect, redirectLogin: true, wantRequest: "POST /v1/auth/" + testAuthPath + "/login"},
		"307 read":  {status: http.StatusTemporaryRedirect, wantRequest: "GET /v1/sys/internal/ui/mounts/secret/app"},
		"301 read":  {status: http.StatusMovedPermanently, wantRequest: "GET /v1/sys/internal/ui/mounts/secret/app"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			other := countingServer(t)
			otherURL, err := url.Parse(other.addr)
			if err != nil {
				t.Fatal(err)
			}
			vault := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tt.redirectLogin && strings.HasSuffix(r.URL.Path, "/login") {
					_, _ = io.WriteString(w, `{"auth":{"client_token":"`+token+`","lease_duration":600,"renewable":true}}`)
					return
				}
				http.Redirect(w, r, other.addr+r.URL.Path+"?leaked-query=1", tt.status)
			}))
			t.Cleanup(vault.Close)
			began := time.Now()
			out := runEnvexec(t.Context(), t, []string{"--", "true"}, fakeEnv(t, vault.URL))
			msg, _ := lastLogLine(t, out.stderr)["error"].(string)
			want := tt.wantRequest + `: refused a redirect to another origin, host "` + otherURL.Host +
				`": envexec follows redirects only within the origin of ` + settings.EnvVaultAddr
			if out.code != ExitUnreachable || out.execed || !strings.Contains(msg, want) {
				t.Errorf("exit %d, execed %v, error %q; want exit %d with %q", out.code, out.execed, msg, ExitUnreachable, want)
			}
			if strings.Contains(out.stderr, "leaked-query") {
				t.Errorf("the log quotes the Location's query:\n%s", out.stderr)
			}
			assertNoLeak(t, out.stderr, fakeJWT, token)
			if n := other.n.Load(); n != 0 {
				t.Errorf("the other origin received %d connections", n)
			}
			if took := time.Since(began); took > 3*time.Second {
				t.Errorf("took %v: a refused redirect must not be retried", took)
			}
		})
	}
}

// A redirect within the origin is followed, the login's body and the token included:
// a proxy in front of the real Vault redirects every request once, to a path it serves.
func TestRedirectWithinTheOriginIsFollowed(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	value := canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"k": value}})
	target, err := url.Parse(f.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	var redirected []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/moved"); ok {
			r.URL.Path, r.URL.RawPath = rest, ""
			proxy.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		redirected = append(redirected, r.Method+" "+r.URL.Path)
		mu.Unlock()
		http.Redirect(w, r, "/moved"+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	env, jwt := f.env(t, settings.EnvVaultAddr+"="+srv.URL, "K=vault:secret/"+u+"#k")
	out := runOK(t, env, value, jwt)
	if got, _ := envValue(out.env, "K"); got != value {
		t.Errorf("K = %q, want the secret", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(redirected) < 2 || redirected[0] != "POST /v1/auth/"+testAuthPath+"/login" {
		t.Errorf("redirected %q, want the login and the reads", redirected)
	}
}

// Redirects within the origin are capped.
func TestRedirectLoopStops(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	out := runEnvexec(t.Context(), t, []string{"--", "true"}, fakeEnv(t, srv.URL))
	msg, _ := lastLogLine(t, out.stderr)["error"].(string)
	want := "POST /v1/auth/" + testAuthPath + "/login: stopped after 5 redirects"
	if out.code != ExitUnreachable || !strings.Contains(msg, want) {
		t.Errorf("exit %d, error %q; want exit %d with %q", out.code, msg, ExitUnreachable, want)
	}
	if n := hits.Load(); n != 1+maxRedirects {
		t.Errorf("the server was asked %d times, want the request and %d redirects", n, maxRedirects)
	}
	assertNoLeak(t, out.stderr, fakeJWT)
}
