package envexec

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
	"github.com/vault-injector/vault-injector/internal/faultproxy"
)

// Faults between envexec and a real Vault, with envexec's real code path: a fault proxy
// (internal/faultproxy) between them for network faults, an HTTP front for 5xx answers,
// and a Vault on disk for seal and restart. Each test states the outcome that
// docs/faults.md lists, and every run checks that the application was never exec'd with
// an unresolved reference (run.wait). Deadlines are short so failures take seconds.

// failDeadline is ENVEXEC_TIMEOUT for runs expected to give up.
const failDeadline = 3 * time.Second

var failSettings = []string{settings.EnvTimeout + "=" + failDeadline.String()}

// proxyTo starts a fault proxy in front of the shared Vault.
func proxyTo(t *testing.T, f *fixture) *faultproxy.Proxy {
	t.Helper()
	u, err := url.Parse(f.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return faultproxy.Start(t, u.Host)
}

func TestFaultLatency(t *testing.T) {
	t.Parallel()
	f := vault(t)
	t.Run("below the attempt timeout: no retry", func(t *testing.T) {
		t.Parallel()
		p := proxyTo(t, f)
		p.SetLatency(200*time.Millisecond, 200*time.Millisecond)
		env, pw, jwt := faultSecret(t, f, p.URL("http"), settings.EnvClientTimeout+"=5s")
		o, _ := runFault(t, env)
		wantSecret(t, o, pw, jwt)
		if n := countLogs(t, o.stderr, msgRetry); n != 0 {
			t.Errorf("%d retries, want none", n)
		}
	})
	t.Run("above the attempt timeout: retried until it drops", func(t *testing.T) {
		t.Parallel()
		p := proxyTo(t, f)
		p.SetLatency(2*time.Second, 0)
		env, pw, jwt := faultSecret(t, f, p.URL("http"), settings.EnvClientTimeout+"=500ms")
		r := startRun(t, env, "")
		r.log.awaitRetries(t, 2)
		p.Clear()
		wantSecret(t, r.wait(t), pw, jwt)
	})
}

func TestFaultBandwidth(t *testing.T) {
	t.Parallel()
	f := vault(t)
	t.Run("slow link within the deadline", func(t *testing.T) {
		t.Parallel()
		p := proxyTo(t, f)
		p.SetBandwidth(64 << 10)
		big := canary(t) + strings.Repeat("x", 96<<10)
		env, pw, jwt := faultSecretValue(t, f, p.URL("http"), big)
		o, _ := runFault(t, env)
		wantSecret(t, o, pw, jwt)
		// The proxy counts a chunk just after delivering it, so the count may lag.
		deadline := time.Now().Add(5 * time.Second)
		for p.Stats().BytesDown < int64(len(big)) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := p.Stats().BytesDown; n < int64(len(big)) {
			t.Errorf("only %d bytes came through the proxy", n)
		}
	})
	t.Run("too slow for the deadline", func(t *testing.T) {
		t.Parallel()
		p := proxyTo(t, f)
		p.SetBandwidth(2 << 10)
		big := canary(t) + strings.Repeat("x", 256<<10)
		env, pw, jwt := faultSecretValue(t, f, p.URL("http"), big, append(failSettings, settings.EnvClientTimeout+"=1s")...)
		o, took := runFault(t, env)
		wantFailure(t, o, ExitUnreachable, []string{"start-up deadline exceeded"}, pw, jwt)
		withinDeadline(t, took)
	})
}

func TestFaultConnections(t *testing.T) {
	t.Parallel()
	f := vault(t)
	t.Run("resets until they stop", func(t *testing.T) {
		t.Parallel()
		p := proxyTo(t, f)
		p.SetReset(true)
		env, pw, jwt := faultSecret(t, f, p.URL("http"))
		r := startRun(t, env, "")
		r.log.awaitRetries(t, 3)
		p.SetReset(false)
		wantSecret(t, r.wait(t), pw, jwt)
		if s := p.Stats(); s.Resets < 3 {
			t.Errorf("%d resets, want at least 3", s.Resets)
		}
	})
	t.Run("resets until the deadline", func(t *testing.T) {
		t.Parallel()
		p := proxyTo(t, f)
		p.SetReset(true)
		env, pw, jwt := faultSecret(t, f, p.URL("http"), failSettings...)
		o, took := runFault(t, env)
		wantFailure(t, o, ExitUnreachable, []string{"connection reset by peer", "start-up deadline exceeded"}, pw, jwt)
		withinDeadline(t, took)
	})
	t.Run("answers cut short until they are whole", func(t *testing.T) {
		t.Parallel()
		p := proxyTo(t, f)
		p.SetCloseAfter(64)
		env, pw, jwt := faultSecret(t, f, p.URL("http"))
		r := startRun(t, env, "")
		r.log.awaitRetries(t, 2)
		p.Clear()
		wantSecret(t, r.wait(t), pw, jwt)
		if s := p.Stats(); s.Truncated < 2 {
			t.Errorf("%d truncated answers, want at least 2", s.Truncated)
		}
	})
	t.Run("refused until Vault listens again", func(t *testing.T) {
		t.Parallel()
		p := proxyTo(t, f)
		if err := p.Refuse(); err != nil {
			t.Fatal(err)
		}
		env, pw, jwt := faultSecret(t, f, p.URL("http"))
		r := startRun(t, env, "")
		r.log.awaitRetries(t, 2)
		if err := p.Listen(); err != nil {
			t.Fatal(err)
		}
		wantSecret(t, r.wait(t), pw, jwt)
	})
}

func TestFaultBlackhole(t *testing.T) {
	t.Parallel()
	f := vault(t)
	cases := map[string][]string{
		"attempt timeout shorter than the deadline": {settings.EnvClientTimeout + "=1s"},
		"attempt timeout longer than the deadline":  {settings.EnvClientTimeout + "=15s"},
	}
	for name, set := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := proxyTo(t, f)
			p.SetBlackhole(true)
			env, pw, jwt := faultSecret(t, f, p.URL("http"), append(set, failSettings...)...)
			o, took := runFault(t, env)
			wantFailure(t, o, ExitUnreachable, []string{"vault login", "start-up deadline exceeded"}, pw, jwt)
			withinDeadline(t, took)
		})
	}
	t.Run("Vault stops answering after the login", func(t *testing.T) {
		t.Parallel()
		p := proxyTo(t, f)
		env, pw, jwt := faultSecret(t, f, p.URL("http"), append(failSettings, settings.EnvClientTimeout+"=1s")...)
		r := startRun(t, env, msgLoggedIn)
		r.log.awaitHeld(t)
		p.SetBlackhole(true)
		r.log.Release()
		o := r.wait(t)
		wantFailure(t, o, ExitUnreachable, []string{"DB_PASSWORD", "start-up deadline exceeded"}, pw, jwt)
		withinDeadline(t, r.took)
	})
}

// vault5xx is an HTTP front for the shared Vault that answers 500 to the first failures
// requests and passes the rest on, as a broken load balancer or a failing Vault would.
func vault5xx(t *testing.T, f *fixture, failures int64) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	target, err := url.Parse(f.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	pass := httputil.NewSingleHostReverseProxy(target)
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) <= failures {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"errors":["1 error occurred:\n\t* internal error\n\n"]}`)
			return
		}
		pass.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &served
}

func TestFaultServerErrors(t *testing.T) {
	t.Parallel()
	f := vault(t)
	t.Run("500 until the deadline", func(t *testing.T) {
		t.Parallel()
		srv, served := vault5xx(t, f, 1<<62)
		env, pw, jwt := faultSecret(t, f, srv.URL, failSettings...)
		o, took := runFault(t, env)
		wantFailure(t, o, ExitUnreachable, []string{"500 Internal Server Error", "internal error", "start-up deadline exceeded"}, pw, jwt)
		withinDeadline(t, took)
		if n := served.Load(); n < 3 {
			t.Errorf("%d requests, want retries", n)
		}
	})
	t.Run("500 three times, then answers", func(t *testing.T) {
		t.Parallel()
		srv, _ := vault5xx(t, f, 3)
		env, pw, jwt := faultSecret(t, f, srv.URL)
		o, _ := runFault(t, env)
		wantSecret(t, o, pw, jwt)
		if n := countLogs(t, o.stderr, msgRetry); n != 3 {
			t.Errorf("%d retries, want 3", n)
		}
	})
}

// A denied read or login is an answer, not a fault: envexec fails at once, without a
// retry, with the code that says which.
func TestFaultDenied(t *testing.T) {
	t.Parallel()
	f := vault(t)
	t.Run("read denied (403)", func(t *testing.T) {
		t.Parallel()
		u := unique(t)
		pw := canary(t)
		f.put(t, "secret/data/forbidden/"+u, map[string]any{"data": map[string]any{"password": pw}})
		env, jwt := f.env(t, "DB_PASSWORD=vault:secret/forbidden/"+u+"#password")
		o, took := runFault(t, env)
		wantFailure(t, o, ExitSecret, []string{"DB_PASSWORD", "403", "permission denied"}, pw, jwt)
		if n := countLogs(t, o.stderr, msgRetry); n != 0 || took > 10*time.Second {
			t.Errorf("%d retries in %s, want none (the deadline is 30s)", n, took)
		}
	})
	t.Run("login refused (unknown role)", func(t *testing.T) {
		t.Parallel()
		env, pw, jwt := faultSecret(t, f, f.srv.Addr, settings.EnvRole+"=no-such-role")
		o, took := runFault(t, env)
		wantFailure(t, o, ExitLogin, []string{"no-such-role"}, pw, jwt)
		if n := countLogs(t, o.stderr, msgRetry); n != 0 || took > 10*time.Second {
			t.Errorf("%d retries in %s, want none", n, took)
		}
	})
}

// The disk Vault is stateful, so its cases run in order: sealed, then restarted.
func TestFaultVaultLifecycle(t *testing.T) {
	t.Parallel()
	f := vault(t)
	v := startDiskVault(t, f)
	secretEnv := func(t *testing.T, set ...string) ([]string, string, string) {
		t.Helper()
		u, pw := unique(t), canary(t)
		v.do(t, v.rootToken, http.MethodPost, "secret/data/"+u, map[string]any{"data": map[string]any{"password": pw}}, nil)
		env, jwt := f.env(t, "DB_PASSWORD=vault:secret/"+u+"#password")
		return withEnv(env, append([]string{settings.EnvVaultAddr + "=" + v.addr}, set...)...), pw, jwt
	}
	t.Run("sealed after the login, until the deadline", func(t *testing.T) {
		env, pw, jwt := secretEnv(t, failSettings...)
		r := startRun(t, env, msgLoggedIn)
		r.log.awaitHeld(t)
		v.seal(t)
		r.log.Release()
		o := r.wait(t)
		wantFailure(t, o, ExitUnreachable, []string{"503", "Vault is sealed", "start-up deadline exceeded"}, pw, jwt)
		withinDeadline(t, r.took)
		v.unseal(t)
	})
	t.Run("sealed after the login, unsealed within the deadline", func(t *testing.T) {
		env, pw, jwt := secretEnv(t)
		r := startRun(t, env, msgLoggedIn)
		r.log.awaitHeld(t)
		v.seal(t)
		r.log.Release()
		r.log.awaitText(t, "Vault is sealed")
		v.unseal(t)
		wantSecret(t, r.wait(t), pw, jwt)
	})
	t.Run("restarted after the login", func(t *testing.T) {
		env, pw, jwt := secretEnv(t)
		r := startRun(t, env, msgLoggedIn)
		r.log.awaitHeld(t)
		v.stop(t)
		r.log.Release()
		r.log.awaitText(t, "connection refused")
		v.start(t) // it comes back sealed
		r.log.awaitText(t, "Vault is sealed")
		v.unseal(t)
		wantSecret(t, r.wait(t), pw, jwt)
	})
}

// A token that expires between the login and the reads: envexec does not log in again, and
// says so as a login failure pointing at the role's token_ttl.
func TestFaultExpiredToken(t *testing.T) {
	t.Parallel()
	f := vault(t)
	role := "expiring-" + strings.ToLower(unique(t)[len(t.Name())+1:])
	f.srv.Do(t, http.MethodPost, "auth/"+testAuthPath+"/role/"+role, map[string]any{
		"role_type": "jwt", "bound_audiences": []string{testAudience}, "user_claim": "sub",
		"policies": []string{"envexec-test"}, "token_ttl": "1s", "token_max_ttl": "1s",
	})
	env, pw, jwt := faultSecret(t, f, f.srv.Addr, settings.EnvRole+"="+role)
	r := startRun(t, env, msgLoggedIn)
	r.log.awaitHeld(t)
	awaitTokenExpired(t, f, role)
	r.log.Release()
	o := r.wait(t)
	wantFailure(t, o, ExitLogin, []string{"DB_PASSWORD", "403", "token_ttl"}, pw, jwt)
}

// awaitTokenExpired waits until Vault no longer knows the token it issued for role:
// found by its metadata among all accessors, then looked up until Vault revoked it.
func awaitTokenExpired(t *testing.T, f *fixture, role string) {
	t.Helper()
	lookup := func(accessor string) (map[string]any, error) {
		return f.srv.Request(t.Context(), http.MethodPost, "auth/token/lookup-accessor", map[string]string{"accessor": accessor})
	}
	list := f.srv.Do(t, "LIST", "auth/token/accessors", nil)
	mine := ""
	for _, k := range list["data"].(map[string]any)["keys"].([]any) {
		info, err := lookup(k.(string))
		if err != nil {
			continue // revoked meanwhile
		}
		if meta, _ := info["data"].(map[string]any)["meta"].(map[string]any); meta["role"] == role {
			mine = k.(string)
			break
		}
	}
	if mine == "" {
		return // already gone
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := lookup(mine); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the 1s token was still valid after 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
