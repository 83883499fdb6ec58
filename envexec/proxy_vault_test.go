package envexec

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

func TestClientUsesNoProxy(t *testing.T) {
	t.Parallel()
	u, err := url.Parse("https://vault.example:8200")
	if err != nil {
		t.Fatal(err)
	}
	c, err := newClient(settings.Settings{VaultAddr: u, ClientTimeout: time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if tr, ok := c.http.Transport.(*http.Transport); !ok || tr.Proxy != nil {
		t.Errorf("transport %T with a proxy function: the proxy variables belong to the application", c.http.Transport)
	}
}

// proxyEnv points every proxy variable at servers that count connections; NO_PROXY does
// not cover Vault, so a client that read them would use the proxies.
func proxyEnv(t *testing.T) ([]string, []*counting) {
	t.Helper()
	httpProxy, httpsProxy, allProxy := countingServer(t), countingServer(t), countingServer(t)
	return []string{
		"HTTP_PROXY=" + httpProxy.addr, "http_proxy=" + httpProxy.addr,
		"HTTPS_PROXY=" + httpsProxy.addr, "https_proxy=" + httpsProxy.addr,
		"ALL_PROXY=" + allProxy.addr, "all_proxy=" + allProxy.addr,
		"NO_PROXY=not-vault.example", "no_proxy=not-vault.example",
	}, []*counting{httpProxy, httpsProxy, allProxy}
}

// unspecifiedAddr rewrites a loopback Vault URL to 0.0.0.0, which reaches the same
// listener but, unlike 127.0.0.1 and localhost, is not exempt from proxying in Go's
// ProxyFromEnvironment: a client reading the proxy variables would use them.
func unspecifiedAddr(t *testing.T, addr string) string {
	t.Helper()
	u, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = net.JoinHostPort("0.0.0.0", u.Port())
	return u.String()
}

func assertNoConnections(t *testing.T, proxies []*counting) {
	t.Helper()
	for _, p := range proxies {
		if n := p.n.Load(); n != 0 {
			t.Errorf("the proxy at %s received %d connections", p.addr, n)
		}
	}
}

// proxyHelper, set to "1", makes TestProxyHelper run envexec in-process.
const proxyHelper = "VAULT_INJECTOR_PROXY_HELPER"

// TestProxyVariablesAreNotUsed runs envexec's in-process path (no re-exec) in a fresh
// process of this test binary whose own environment holds the proxy variables. Not in
// this process: Go's ProxyFromEnvironment reads them once, at first use, which has
// happened here already, so a transport that read them would go unnoticed.
func TestProxyVariablesAreNotUsed(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]*fixture{"http": vault(t), "https": vaultTLS(t)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := unique(t)
			value := canary(t)
			f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"k": value}})
			set, proxies := proxyEnv(t)
			// The dev certificate names 127.0.0.1, not 0.0.0.0.
			env, jwt := f.env(t, append([]string{
				settings.EnvVaultAddr + "=" + unspecifiedAddr(t, f.srv.Addr), settings.EnvTLSSkipVerify + "=true",
				settings.EnvTimeout + "=5s", "K=vault:secret/" + u + "#k",
			}, set...)...)
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestProxyHelper$", "-test.count=1")
			cmd.Env = append(slices.Clip(env), proxyHelper+"=1")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "\nhelper: exit 0, K="+value+"\n") {
				t.Errorf("the helper did not get the secret:\n%s", out)
			}
			assertNoLeak(t, strings.ReplaceAll(string(out), "K="+value, ""), value, jwt)
			assertNoConnections(t, proxies)
		})
	}
}

// TestProxyHelper is TestProxyVariablesAreNotUsed's fresh process; it skips otherwise.
func TestProxyHelper(t *testing.T) {
	if os.Getenv(proxyHelper) != "1" {
		t.Skip("runs only as TestProxyVariablesAreNotUsed's helper process")
	}
	environ := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, proxyHelper+"=") })
	out := runEnvexec(t.Context(), t, []string{"--", "true"}, environ)
	k, _ := envValue(out.env, "K")
	fmt.Fprintf(os.Stdout, "\nhelper: exit %d, K=%s\n%s", out.code, k, out.stderr)
}

// The real binary, with the proxy variables in its environment.
func TestBinaryProxyVariablesAreNotUsed(t *testing.T) {
	t.Parallel()
	f := vault(t)
	u := unique(t)
	value := canary(t)
	f.put(t, "secret/data/"+u, map[string]any{"data": map[string]any{"k": value}})
	set, proxies := proxyEnv(t)
	env, jwt := f.env(t, append([]string{settings.EnvVaultAddr + "=" + unspecifiedAddr(t, f.srv.Addr), "K=vault:secret/" + u + "#k"}, set...)...)
	run := runBinary(t, env, "--", "/bin/sh", "-c", `printf '%s %s' "$K" "$HTTP_PROXY"`)
	if run.code != ExitOK || run.stdout != value+" "+proxies[0].addr {
		t.Errorf("exit %d, stdout %q; want the secret and the application's HTTP_PROXY; stderr %s", run.code, run.stdout, run.stderr)
	}
	assertNoLeak(t, run.stderr, value, jwt)
	assertNoConnections(t, proxies)
}
