package registry_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/vault-injector/vault-injector/internal/registrytest"
	"github.com/vault-injector/vault-injector/registry"
)

// keychainFor is a keychain holding user:pass for host, as a pull secret would.
func keychainFor(t *testing.T, host, user, pass string) *registry.Keychain {
	t.Helper()
	kc := &registry.Keychain{}
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	if err := kc.ParseDockerConfig([]byte(`{"auths":{"`+host+`":{"auth":"`+auth+`"}}}`), false); err != nil {
		t.Fatal(err)
	}
	return kc
}

// TestCacheKeyedByCredentials: a private image read with tenant A's pull secret is cached
// for A (and anyone with the same credentials), never answered to a caller with other
// credentials or none, by tag or by digest; a 401 remembered for one caller never fails
// another.
func TestCacheKeyedByCredentials(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, "robot", "cache-canary-pass")
	img := reg.Push(t, "private:1", variant{Platform: amd64, Entrypoint: []string{"/private"}})
	res, out := newResolver(reg, registry.Options{})
	tenantA := keychainFor(t, reg.Host, "robot", "cache-canary-pass")
	sameAsA := keychainFor(t, reg.Host, "robot", "cache-canary-pass") // another secret, same credentials
	wrong := keychainFor(t, reg.Host, "robot", "guess")

	// Anonymous first: its 401 is remembered for anonymous callers only.
	if _, err := res.Resolve(t.Context(), img, amd64, nil); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("anonymous: err = %v, want 401", err)
	}
	if cfg, err := res.Resolve(t.Context(), img, amd64, tenantA); err != nil || cfg.Entrypoint[0] != "/private" {
		t.Fatalf("tenant A after an anonymous 401: %v %v, want the image's config", cfg, err)
	}
	if _, err := res.Resolve(t.Context(), img, amd64, sameAsA); err != nil {
		t.Fatalf("same credentials: %v", err)
	}
	for i, keys := range []authn.Keychain{nil, wrong} {
		_, err := res.Resolve(t.Context(), img, amd64, keys)
		if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
			t.Errorf("caller %d (none, then wrong credentials) after tenant A's lookup: err = %v, want 401 (never A's cached answer)", i, err)
		}
	}
	// By digest, which needs no tag lookup: still not answered from A's entry.
	ref, err := name.ParseReference(img)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(ref, remote.WithTransport(reg.Server.Client().Transport), remote.WithAuthFromKeychain(tenantA))
	if err != nil {
		t.Fatal(err)
	}
	byDigest := reg.Host + "/private@" + desc.Digest.String()
	if _, err := res.Resolve(t.Context(), byDigest, amd64, nil); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("anonymous by digest after tenant A's lookup: err = %v, want 401", err)
	}
	if _, err := res.Resolve(t.Context(), byDigest, amd64, tenantA); err != nil {
		t.Errorf("tenant A by digest: %v", err)
	}
	// Anonymous callers share their remembered 401; the wrong credentials get their own.
	want := []registry.Outcome{"error", "fetched", "hit", "negative-hit", "error", "error", "hit"}
	out.mu.Lock()
	defer out.mu.Unlock()
	if d := cmp.Diff(want, out.seen); d != "" {
		t.Errorf("outcomes (-want +got):\n%s", d)
	}
}
