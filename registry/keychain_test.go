package registry_test

import (
	"encoding/base64"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vault-injector/vault-injector/internal/registrytest"
	"github.com/vault-injector/vault-injector/registry"
)

// TestKeychainMatching: a docker config key covers a repository as the kubelet's keyring
// decides: host labels matched one by one (globs within a label, same label count), the
// port equal (none only for none), the key's path a parent of the repository's (whole
// segments); schemes, /v1/ and /v2/, and Docker Hub's spellings normalised.
func TestKeychainMatching(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		key, repository string
		want            bool
	}{
		"exact host":                         {"r.example", "r.example/app", true},
		"host names ignore case":             {"R.Example", "r.example/app", true},
		"another host":                       {"r.example", "s.example/app", false},
		"wildcard label":                     {"*.r.example", "eu.r.example/app", true},
		"wildcard is one label only":         {"*.r.example", "a.eu.r.example/app", false},
		"wildcard needs a label":             {"*.r.example", "r.example/app", false},
		"glob within a label":                {"eu-*.r.example", "eu-west.r.example/app", true},
		"glob within a label, no match":      {"eu-*.r.example", "us-west.r.example/app", false},
		"wildcard top-level label":           {"r.*", "r.example/app", true},
		"unbalanced bracket matches nothing": {"[a.r.example", "a.r.example/app", false},
		"character classes are not kept":     {"[ab].r.example", "a.r.example/app", false},
		"question mark glob":                 {"r?.example", "r1.example/app", true},
		"port equal":                         {"r.example:5000", "r.example:5000/app", true},
		"port differs":                       {"r.example:5000", "r.example:5001/app", false},
		"key without port, image with one":   {"r.example", "r.example:5000/app", false},
		"key with port, image without":       {"r.example:443", "r.example/app", false},
		"wildcard with port":                 {"*.r.example:5000", "eu.r.example:5000/app", true},
		"path parent":                        {"r.example/team", "r.example/team/app", true},
		"path deeper parent":                 {"r.example/team/sub", "r.example/team/sub/app", true},
		"path equal to the repository":       {"r.example/team/app", "r.example/team/app", true},
		"path of another team":               {"r.example/team", "r.example/other/app", false},
		"path is whole segments":             {"r.example/team", "r.example/teammate/app", false},
		"path longer than the repository":    {"r.example/team/app/x", "r.example/team/app", false},
		"path with a trailing slash":         {"r.example/team/", "r.example/team/app", true},
		"path with port":                     {"r.example:5000/team", "r.example:5000/team/app", true},
		"https scheme":                       {"https://r.example", "r.example/app", true},
		"http scheme":                        {"http://r.example:5000", "r.example:5000/app", true},
		"scheme in capitals":                 {"HTTPS://r.example", "r.example/app", true},
		"trailing /v1/":                      {"https://r.example/v1/", "r.example/app", true},
		"trailing /v2/":                      {"r.example/v2/", "r.example/app", true},
		"/v2/ then a path":                   {"r.example/v2/team", "r.example/team/app", true},
		"/v2/ then a path, other team":       {"r.example/v2/team", "r.example/other/app", false},
		"docker.io":                          {"docker.io", "index.docker.io/library/busybox", true},
		"index.docker.io":                    {"index.docker.io", "index.docker.io/library/busybox", true},
		"the classic Docker Hub key":         {"https://index.docker.io/v1/", "index.docker.io/library/busybox", true},
		"registry-1.docker.io":               {"registry-1.docker.io", "index.docker.io/me/app", true},
		"docker.io with an organisation":     {"docker.io/me", "index.docker.io/me/app", true},
		"docker.io, another organisation":    {"docker.io/me", "index.docker.io/you/app", false},
		"Docker Hub key, another registry":   {"docker.io", "quay.io/me/app", false},
		"IPv4 address and port":              {"127.0.0.1:5000", "127.0.0.1:5000/app", true},
		"IPv6 literal and port":              {"[::1]:5000", "[::1]:5000/app", true},
		"registry alone, key without path":   {"r.example", "r.example", true},
		"registry alone, key with path":      {"r.example/team", "r.example", false},
		"empty key":                          {"", "r.example/app", false},
		"scheme only":                        {"https://", "r.example/app", false},
		"repository path named v2 is kept":   {"r.example/v2/v2", "r.example/v2/app", true},
		"repository path v2 is not dropped":  {"r.example/team", "r.example/v2/team/app", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			kc := keychainFor(t, c.key, "u", "p")
			if got := len(kc.Lookup(c.repository)) > 0; got != c.want {
				t.Errorf("key %q, repository %q: matched = %v, want %v", c.key, c.repository, got, c.want)
			}
		})
	}
}

// TestKeychainOrder: every matching credential, in the kubelet's order: secrets as given,
// and within one the most specific key first (a longer path before its parent, a literal
// label before a glob); the same credentials twice are tried once.
func TestKeychainOrder(t *testing.T) {
	t.Parallel()
	kc := &registry.Keychain{}
	secrets := []string{
		`{"auths":{"r.example":{"username":"host"},"*.example":{"username":"glob"},"r.example/team":{"username":"team"},` +
			`"r.example/team/app":{"username":"app"},"r.example/other":{"username":"other"}}}`,
		`{"auths":{"https://r.example/v1/":{"username":"second"},"r.example/team":{"username":"team"}}}`,
	}
	for _, s := range secrets {
		if err := kc.ParseDockerConfig([]byte(s), false); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, a := range kc.Lookup("r.example/team/app") {
		got = append(got, a.Username)
	}
	if d := cmp.Diff([]string{"app", "team", "host", "glob", "second"}, got); d != "" {
		t.Errorf("order (-want +got):\n%s", d)
	}
}

// TestKeychainLimitedToRegistries: a pull secret read for some registries answers only
// for them, after normalisation, whatever wildcards or paths its keys hold; a host alone
// matches any port.
func TestKeychainLimitedToRegistries(t *testing.T) {
	t.Parallel()
	data := []byte(`{"auths":{"registry.corp:5000":{"username":"u","password":"p"},"other.example":{"username":"u","password":"p"},` +
		`"https://index.docker.io/v1/":{"username":"u","password":"p"},"*.corp":{"username":"u","password":"p"},` +
		`"*.example":{"username":"u","password":"p"},"https://hub.internal/v2/team":{"username":"u","password":"p"}}}`)
	kc := &registry.Keychain{}
	if err := kc.ParseDockerConfigFor(data, false, []string{"registry.corp", "docker.io", "hub.internal"}); err != nil {
		t.Fatal(err)
	}
	for repo, want := range map[string]bool{
		"registry.corp:5000/app":         true,  // its own key
		"registry.corp/app":              true,  // *.corp, and registry.corp is listed
		"index.docker.io/library/alpine": true,  // listed as docker.io
		"hub.internal/team/app":          true,  // path-scoped key of a listed host
		"hub.internal/other/app":         false, // listed host, but the key is for team/
		"other.example/app":              false, // a key of its own, not listed
		"else.example/app":               false, // *.example, not listed
		"tenant.corp/app":                false, // *.corp matches, but not listed
	} {
		if got := len(kc.Lookup(repo)) > 0; got != want {
			t.Errorf("%s: credentials given = %v, want %v", repo, got, want)
		}
	}
}

// TestWildcardKeyReadsPrivateImage: against a registry demanding basic auth, a pull secret
// whose only key is a wildcard (*.com:PORT; the registry is reached as example.com, the
// name httptest's certificate holds, resolved by the test's DNS) reads a private image.
// Matching exact hosts only, the lookup went anonymous and got 401.
func TestWildcardKeyReadsPrivateImage(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, "robot", "wildcard-canary-pass")
	_, port, err := net.SplitHostPort(reg.Host)
	if err != nil {
		t.Fatal(err)
	}
	reg.Push(t, "private:1", variant{Platform: amd64, Entrypoint: []string{"/private"}})
	dns := registrytest.StartDNS(t, map[string]netip.Addr{"example.com": netip.MustParseAddr("127.0.0.1")})
	res, _ := newResolver(reg, registry.Options{Resolver: dns, PrivateRegistries: []string{"example.com"}})
	image := "example.com:" + port + "/private:1"

	cfg, err := res.Resolve(t.Context(), image, amd64, keychainFor(t, "*.com:"+port, "robot", "wildcard-canary-pass"))
	if err != nil || len(cfg.Entrypoint) == 0 || cfg.Entrypoint[0] != "/private" {
		t.Fatalf("wildcard key: %v %v, want the image's config", cfg, err)
	}
	// The same secret keyed for another port is not offered, and the lookup is anonymous.
	_, err = res.Resolve(t.Context(), image, amd64, keychainFor(t, "*.com:1", "robot", "wildcard-canary-pass"))
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("key for another port: err = %v, want 401", err)
	}
}

// TestPathScopedKeysTriedInOrder: with two matching keys, the more specific (a path) is
// tried first and, when the registry refuses it, the next one is tried, as the kubelet
// does; each attempt is cached under its own credentials, so the refused one is remembered
// as a failure and the working one as an answer. A path-scoped key is not offered to
// another repository of the same host. No password appears in an error.
func TestPathScopedKeysTriedInOrder(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, "robot", "path-canary-pass")
	img := reg.Push(t, "team/app:1", variant{Platform: amd64, Entrypoint: []string{"/team-app"}})
	other := reg.Push(t, "other/app:1", variant{Platform: amd64, Entrypoint: []string{"/other-app"}})
	res, out := newResolver(reg, registry.Options{})
	basic := func(user, pass string) string {
		return `{"auth":"` + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)) + `"}`
	}
	kc := &registry.Keychain{}
	data := `{"auths":{"` + reg.Host + `/team":` + basic("robot", "stale-canary-pass") + `,"` + reg.Host + `":` + basic("robot", "path-canary-pass") + `}}`
	if err := kc.ParseDockerConfig([]byte(data), false); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		cfg, err := res.Resolve(t.Context(), img, amd64, kc)
		if err != nil || cfg.Entrypoint[0] != "/team-app" {
			t.Fatalf("stale team key, then the host's: %v %v, want the image's config", cfg, err)
		}
	}
	// Only the stale team key, which does not cover other/: the lookup goes anonymous.
	onlyTeam := keychainFor(t, reg.Host+"/team", "robot", "path-canary-pass")
	if _, err := res.Resolve(t.Context(), other, amd64, onlyTeam); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("team key for other/: err = %v, want 401", err)
	}
	stale := keychainFor(t, reg.Host+"/team", "robot", "stale-canary-pass")
	_, err := res.Resolve(t.Context(), img, amd64, stale)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || strings.Contains(err.Error(), "canary") {
		t.Errorf("stale key alone: err = %v, want 401 naming no password", err)
	}
	// First lookup: a fetch refused, then a fetch answered; the second: the remembered
	// refusal, then the cached answer; then other/ anonymously, then the stale key's
	// remembered refusal.
	want := []registry.Outcome{"fetched", "hit", "error", "negative-hit"}
	out.mu.Lock()
	defer out.mu.Unlock()
	if d := cmp.Diff(want, out.seen); d != "" {
		t.Errorf("outcomes (-want +got):\n%s", d)
	}
}
