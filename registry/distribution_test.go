package registry_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"

	"github.com/vault-injector/vault-injector/internal/registrytest"
	"github.com/vault-injector/vault-injector/internal/tools"
	"github.com/vault-injector/vault-injector/registry"
)

// startDistribution runs Debian's docker-registry (the CNCF distribution server) as its own
// process on loopback, with htpasswd basic auth, and returns its host:port.
func startDistribution(t *testing.T, user, pass string) string {
	t.Helper()
	bin, err := tools.DistributionRegistry(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: %s}}
http: {addr: %s}
auth: {htpasswd: {realm: test, path: %s}}
`, filepath.Join(dir, "data"), addr, filepath.Join(dir, "htpasswd"))
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	cmd := exec.CommandContext(ctx, bin, "serve", filepath.Join(dir, "config.yml"))
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		waitErr := cmd.Wait() // killed on purpose, so an error is expected
		if t.Failed() {
			t.Logf("docker-registry: %v", waitErr)
			t.Logf("docker-registry output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/v2/", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not come up on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDistributionRegistry resolves single- and multi-arch images from a separate-process
// registry that demands basic auth, as private registries do.
func TestDistributionRegistry(t *testing.T) {
	t.Parallel()
	host := startDistribution(t, "robot", "distribution-canary-pass")
	auth := remote.WithAuth(&authn.Basic{Username: "robot", Password: "distribution-canary-pass"})
	single, err := name.ParseReference(host + "/team/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(single, registrytest.Image(t, variant{Platform: amd64, Entrypoint: []string{"/app"}}), auth); err != nil {
		t.Fatal(err)
	}
	multi, err := name.ParseReference(host + "/team/multi:1")
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: registrytest.Image(t, variant{Platform: amd64, Entrypoint: []string{"/amd"}}), Descriptor: v1.Descriptor{Platform: &amd64}},
		mutate.IndexAddendum{Add: registrytest.Image(t, variant{Platform: arm64, Entrypoint: []string{"/arm"}}), Descriptor: v1.Descriptor{Platform: &arm64}})
	if err := remote.WriteIndex(multi, idx, auth); err != nil {
		t.Fatal(err)
	}

	kc := &registry.Keychain{}
	if err := kc.ParseDockerConfig([]byte(`{"auths":{"`+host+`":{"username":"robot","password":"distribution-canary-pass"}}}`), false); err != nil {
		t.Fatal(err)
	}
	// A plain-HTTP registry on loopback: listed as insecure, which also allows its address.
	opts := registry.Options{InsecureRegistries: []string{host}}
	res := registry.New(opts, nil)
	for _, tc := range []struct {
		image string
		p     v1.Platform
		want  string
	}{{single.Name(), amd64, "/app"}, {multi.Name(), amd64, "/amd"}, {multi.Name(), arm64, "/arm"}} {
		cfg, err := res.Resolve(t.Context(), tc.image, tc.p, kc)
		if err != nil || len(cfg.Entrypoint) == 0 || cfg.Entrypoint[0] != tc.want {
			t.Errorf("%s on %s: %v %v, want entrypoint %s", tc.image, tc.p.String(), cfg, err, tc.want)
		}
	}
	_, err = registry.New(opts, nil).Resolve(t.Context(), single.Name(), amd64, nil)
	if err == nil || !strings.Contains(err.Error(), "answered HTTP 401") || strings.Contains(err.Error(), "canary") {
		t.Errorf("anonymous: err = %v, want a 401 without the password", err)
	}
}

// An image's config is the pushing tenant's to make as large as it likes, and a registry
// serves it: the resolver reads no answer beyond registry.MaxResponseBytes, and says so
// as the registry's doing (the pod is denied), not as an outage.
func TestDistributionRefusesHugeAnswers(t *testing.T) {
	t.Parallel()
	host := startDistribution(t, "robot", "distribution-canary-pass")
	auth := remote.WithAuth(&authn.Basic{Username: "robot", Password: "distribution-canary-pass"})
	push := func(repo string, pad int) string {
		t.Helper()
		img := registrytest.Image(t, variant{Platform: amd64, Entrypoint: []string{"/app"}})
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.Config.Labels = map[string]string{"pad": strings.Repeat("x", pad)}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(host + "/" + repo)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, auth); err != nil {
			t.Fatal(err)
		}
		return ref.Name()
	}
	fits, huge := push("team/fits:1", registry.MaxResponseBytes-4096), push("team/huge:1", registry.MaxResponseBytes+1)
	kc := &registry.Keychain{}
	if err := kc.ParseDockerConfig([]byte(`{"auths":{"`+host+`":{"username":"robot","password":"distribution-canary-pass"}}}`), false); err != nil {
		t.Fatal(err)
	}
	res := registry.New(registry.Options{InsecureRegistries: []string{host}}, nil)
	if cfg, err := res.Resolve(t.Context(), fits, amd64, kc); err != nil || len(cfg.Entrypoint) != 1 {
		t.Errorf("a config just under the limit: %v, %v; want its entrypoint", cfg, err)
	}
	_, err := res.Resolve(t.Context(), huge, amd64, kc)
	if !errors.Is(err, registry.ErrTooLarge) || errors.Is(err, registry.ErrUnavailable) ||
		!strings.Contains(err.Error(), "registry "+host+": its answer is larger than 1024 KiB") {
		t.Errorf("a config one byte over the limit: err = %v; want ErrTooLarge, not unavailable, naming the registry", err)
	}

	// An index whose platform manifest is over the limit: said as such, not as a platform
	// missing from the index.
	big, ok := mutate.Annotations(registrytest.Image(t, variant{Platform: amd64, Entrypoint: []string{"/app"}}),
		map[string]string{"pad": strings.Repeat("x", registry.MaxResponseBytes)}).(v1.Image)
	if !ok {
		t.Fatal("mutate.Annotations did not return an image")
	}
	idxRef, perr := name.ParseReference(host + "/team/index:1")
	if perr != nil {
		t.Fatal(perr)
	}
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: big, Descriptor: v1.Descriptor{Platform: &amd64}})
	if err := remote.WriteIndex(idxRef, idx, auth); err != nil {
		t.Fatal(err)
	}
	_, rerr := res.Resolve(t.Context(), idxRef.Name(), amd64, kc)
	if !errors.Is(rerr, registry.ErrTooLarge) || !strings.Contains(rerr.Error(), "read the platform's manifest: registry "+host+": its answer is larger") {
		t.Errorf("a platform manifest over the limit: err = %v; want ErrTooLarge for the platform's manifest", rerr)
	}
}
