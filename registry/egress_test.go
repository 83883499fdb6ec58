package registry_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/internal/registrytest"
	"github.com/vault-injector/vault-injector/registry"
)

// countingServer is a TLS server on loopback that counts every request it gets and answers
// each with an error; the port is what image names use.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64, string) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.Error(w, "reached", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return srv, &hits, port
}

// TestRefuseNonPublicAddresses aims lookups at loopback, private, link-local (the cloud
// metadata address), CGNAT, unspecified and IPv6 forms of them, by address and by names
// that resolve there through a real DNS server: each is refused on the resolved address,
// before any request, and says so without the address.
func TestRefuseNonPublicAddresses(t *testing.T) {
	t.Parallel()
	srv, hits, port := countingServer(t)
	dns := registrytest.StartDNS(t, map[string]netip.Addr{
		"loop.test":     netip.MustParseAddr("127.0.0.1"),
		"example.com":   netip.MustParseAddr("127.0.0.1"), // a name httptest's certificate holds
		"private.test":  netip.MustParseAddr("10.1.2.3"),
		"metadata.test": netip.MustParseAddr("169.254.169.254"),
		"cgnat.test":    netip.MustParseAddr("100.64.0.1"),
		"ula.test":      netip.MustParseAddr("fd00::1"),
		"mapped.test":   netip.MustParseAddr("::ffff:127.0.0.1"),
	})
	res := registry.New(registry.Options{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, Resolver: dns}, nil)
	hosts := []string{
		"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port, "[::ffff:127.0.0.1]:" + port, "0.0.0.0:" + port,
		"[64:ff9b::7f00:1]:" + port, "169.254.169.254", "10.0.0.1", "192.168.1.1:5000", "172.16.0.1", "100.100.100.100", "[fe80::1]:5000",
		"224.0.0.1", "loop.test:" + port, "private.test", "metadata.test", "cgnat.test", "ula.test", "mapped.test:" + port,
	}
	for _, host := range hosts {
		image := host + "/app:1"
		start := time.Now()
		_, err := res.Resolve(t.Context(), image, amd64, nil)
		if !errors.Is(err, registry.ErrNotPublic) {
			t.Errorf("%s: err = %v, want ErrNotPublic", image, err)
			continue
		}
		want := "registry " + host + ": it (or a host it sent us to) resolves to a loopback, private"
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: message %q lacks %q", image, err, want)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s: refused after %s, want at once", image, took)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the loopback server", n)
	}

	// The platform lists its own registries: the same addresses then reach the server.
	listed := registry.New(registry.Options{
		RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, Resolver: dns,
		PrivateRegistries: []string{"EXAMPLE.com", "127.0.0.1:" + port},
	}, nil)
	for _, image := range []string{"example.com:" + port + "/app:1", "127.0.0.1:" + port + "/app:1"} {
		_, err := listed.Resolve(t.Context(), image, amd64, nil)
		if err == nil || !strings.Contains(err.Error(), "answered HTTP 418") {
			t.Errorf("listed %s: err = %v, want the server's 418", image, err)
		}
	}
	if hits.Load() == 0 {
		t.Error("listed private registries never reached the server")
	}
}

// TestListedHostPort: a listed host:port allows that port only.
func TestListedHostPort(t *testing.T) {
	t.Parallel()
	_, hits, port := countingServer(t)
	res := registry.New(registry.Options{PrivateRegistries: []string{"127.0.0.1:1"}}, nil)
	if _, err := res.Resolve(t.Context(), "127.0.0.1:"+port+"/app:1", amd64, nil); !errors.Is(err, registry.ErrNotPublic) {
		t.Errorf("another port of a listed host: err = %v, want ErrNotPublic", err)
	}
	if hits.Load() != 0 {
		t.Error("a request reached the server")
	}
}

// TestRegistryWordsNotRepeated: whatever a registry answers (error bodies with a canary,
// its own error codes and messages, an auth challenge naming another host), the error
// holds only the host, the status and our description.
func TestRegistryWordsNotRepeated(t *testing.T) {
	t.Parallel()
	const canary = "registry-body-canary-7f3a"
	answers := map[string]func(w http.ResponseWriter){
		"500 text": func(w http.ResponseWriter) { http.Error(w, canary, http.StatusInternalServerError) },
		"404 structured": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"` + canary + `","detail":"` + canary + `"}]}`))
		},
		"403 html": func(w http.ResponseWriter) { http.Error(w, "<h1>"+canary+"</h1>", http.StatusForbidden) },
		"302 away": func(w http.ResponseWriter) {
			w.Header().Set("Location", "https://"+canary+".invalid/")
			w.WriteHeader(http.StatusFound)
		},
		"200 junk":  func(w http.ResponseWriter) { _, _ = w.Write([]byte(canary)) },
		"401 realm": bearerChallenge(canary),
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { answer(w) }))
			t.Cleanup(srv.Close)
			host := strings.TrimPrefix(srv.URL, "https://")
			res := registry.New(registry.Options{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, PrivateRegistries: []string{host}}, nil)
			_, err := res.Resolve(t.Context(), host+"/app:1", amd64, nil)
			if err == nil || strings.Contains(err.Error(), canary) || !strings.Contains(err.Error(), "registry ") {
				t.Fatalf("err = %v, want a description without the registry's words", err)
			}
			t.Log(err)
		})
	}
}

// bearerChallenge sends the client to a token service of the registry's choosing.
func bearerChallenge(canary string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://`+canary+`.invalid/token",service="`+canary+`"`)
		http.Error(w, canary, http.StatusUnauthorized)
	}
}
