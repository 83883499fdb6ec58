package registry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/vault-injector/vault-injector/internal/registrytest"
	"github.com/vault-injector/vault-injector/registry"
)

var (
	amd64 = registrytest.AMD64
	arm64 = registrytest.ARM64
)

type variant = registrytest.Variant

// newResolver reaches the test registry r (and fault proxies in front of it): it trusts the
// test CA and lets loopback through, as a platform lists its in-cluster registries.
func newResolver(r *registrytest.Registry, o registry.Options) (*registry.Resolver, *outcomes) {
	o.RootCAs = r.RootCAs()
	o.PrivateRegistries = append(o.PrivateRegistries, "127.0.0.1")
	out := &outcomes{}
	return registry.New(o, out.add), out
}

type outcomes struct {
	mu   sync.Mutex
	seen []registry.Outcome
}

func (o *outcomes) add(x registry.Outcome, _ time.Duration) {
	o.mu.Lock()
	o.seen = append(o.seen, x)
	o.mu.Unlock()
}

func TestResolveSingleArch(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, "", "")
	img := reg.Push(t, "app:1", variant{Platform: amd64, Entrypoint: []string{"/app", "serve"}})
	res, out := newResolver(reg, registry.Options{})
	for range 3 {
		cfg, err := res.Resolve(t.Context(), img, amd64, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(registry.ImageConfig{Entrypoint: []string{"/app", "serve"}, Cmd: []string{"--from", "amd64"}}, cfg); d != "" {
			t.Fatal(d)
		}
	}
	if got := reg.ManifestRequests.Load(); got != 1 {
		t.Errorf("manifest requests = %d, want 1 (cached)", got)
	}
	if d := cmp.Diff([]registry.Outcome{"fetched", "hit", "hit"}, out.seen); d != "" {
		t.Errorf("outcomes: %s", d)
	}
	if _, err := res.Resolve(t.Context(), img, arm64, nil); !errors.Is(err, registry.ErrNoPlatform) {
		t.Errorf("arm64 lookup of an amd64 image: err = %v, want ErrNoPlatform", err)
	}
}

func TestResolveMultiArchPicksPlatform(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, "", "")
	img := reg.Push(t, "multi:1", variant{Platform: amd64, Entrypoint: []string{"/amd64-app"}}, variant{Platform: arm64, Entrypoint: []string{"/arm64-app"}})
	res, _ := newResolver(reg, registry.Options{})
	for _, v := range []variant{{Platform: amd64, Entrypoint: []string{"/amd64-app"}}, {Platform: arm64, Entrypoint: []string{"/arm64-app"}}} {
		p, want := v.Platform, v.Entrypoint[0]
		cfg, err := res.Resolve(t.Context(), img, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Entrypoint[0] != want {
			t.Errorf("%s: entrypoint %v, want %s", p.String(), cfg.Entrypoint, want)
		}
	}
	_, err := res.Resolve(t.Context(), img, v1.Platform{OS: "linux", Architecture: "s390x"}, nil)
	if !errors.Is(err, registry.ErrNoPlatform) {
		t.Errorf("s390x: err = %v, want ErrNoPlatform", err)
	}
}

func TestResolveDigestReference(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, "", "")
	tagged := reg.Push(t, "app:1", variant{Platform: amd64, Entrypoint: []string{"/app"}})
	ref, err := name.ParseReference(tagged)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(ref, remote.WithTransport(reg.Server.Client().Transport))
	if err != nil {
		t.Fatal(err)
	}
	byDigest := reg.Host + "/app@" + desc.Digest.String()
	res, _ := newResolver(reg, registry.Options{})
	for range 2 {
		if _, err := res.Resolve(t.Context(), byDigest, amd64, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := reg.ManifestRequests.Load(); got != 2 { // our HEAD above, then one GET
		t.Errorf("manifest requests = %d, want 2", got)
	}
}

func TestResolveBasicAuth(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, "robot", "s3cret-canary-pass")
	img := reg.Push(t, "private:1", variant{Platform: amd64, Entrypoint: []string{"/private"}})
	res, _ := newResolver(reg, registry.Options{})

	_, err := res.Resolve(t.Context(), img, amd64, nil)
	if err == nil || !strings.Contains(err.Error(), "registry "+reg.Host+" answered HTTP 401: unauthorized") {
		t.Fatalf("anonymous: err = %v, want the registry's 401", err)
	}
	kc := &registry.Keychain{}
	cfg := `{"auths":{"https://` + reg.Host + `/v1/":{"auth":"cm9ib3Q6czNjcmV0LWNhbmFyeS1wYXNz"}}}`
	if err := kc.ParseDockerConfig([]byte(cfg), false); err != nil {
		t.Fatal(err)
	}
	res2, _ := newResolver(reg, registry.Options{})
	got, err := res2.Resolve(t.Context(), img, amd64, kc)
	if err != nil {
		t.Fatal(err)
	}
	if got.Entrypoint[0] != "/private" {
		t.Errorf("entrypoint %v", got.Entrypoint)
	}
	bad := &registry.Keychain{}
	err = bad.ParseDockerConfig([]byte(`{"auths":{"x":{"auth":"s3cret-canary-pass"}}}`), false)
	if err == nil || strings.Contains(err.Error(), "canary") {
		t.Errorf("malformed auth: err = %v, want an error that does not quote the data", err)
	}
}

func TestResolveNegativeCacheAndFailures(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, "", "")
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	res, out := newResolver(reg, registry.Options{NegativeTTL: 10 * time.Second, Now: clock})
	missing := reg.Host + "/missing:1"
	for range 2 {
		if _, err := res.Resolve(t.Context(), missing, amd64, nil); err == nil || !strings.Contains(err.Error(), "answered HTTP 404: no such image or tag") {
			t.Fatalf("err = %v, want the registry's 404", err)
		} else if errors.Is(err, registry.ErrUnavailable) {
			t.Errorf("err = %v is ErrUnavailable: a missing image is the pod's fault", err)
		}
	}
	if got := reg.ManifestRequests.Load(); got != 1 {
		t.Errorf("manifest requests = %d, want 1 (negative cache)", got)
	}
	mu.Lock()
	now = now.Add(11 * time.Second)
	mu.Unlock()
	_, _ = res.Resolve(t.Context(), missing, amd64, nil)
	if got := reg.ManifestRequests.Load(); got != 2 {
		t.Errorf("manifest requests after expiry = %d, want 2", got)
	}
	if d := cmp.Diff([]registry.Outcome{"error", "negative-hit", "error"}, out.seen); d != "" {
		t.Errorf("outcomes: %s", d)
	}

	if _, err := res.Resolve(t.Context(), "UPPER/Case:bad tag", amd64, nil); err == nil {
		t.Error("malformed image name: no error")
	}
	down := registry.New(registry.Options{PrivateRegistries: []string{"127.0.0.1:1"}}, nil)
	if _, err := down.Resolve(t.Context(), "127.0.0.1:1/app:1", amd64, nil); err == nil || !strings.Contains(err.Error(), "registry 127.0.0.1:1: connection refused") {
		t.Errorf("registry down: err = %v, want one naming the registry", err)
	} else if !errors.Is(err, registry.ErrUnavailable) {
		t.Errorf("registry down: err = %v is not ErrUnavailable", err)
	}
}

func TestResolveDeadlineAndCollapse(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, "", "")
	img := reg.Push(t, "slow:1", variant{Platform: amd64, Entrypoint: []string{"/slow"}})
	reg.Gate = make(chan struct{})
	res, _ := newResolver(reg, registry.Options{})

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := res.Resolve(ctx, img, amd64, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow registry: err = %v, want DeadlineExceeded", err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := res.Resolve(t.Context(), img, amd64, nil)
			errs <- err
		})
	}
	close(reg.Gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The timed-out caller's fetch went on detached and was joined by the 8 others.
	if got := reg.ManifestRequests.Load(); got != 1 {
		t.Errorf("manifest requests = %d, want 1 (9 lookups collapsed into one fetch)", got)
	}
}

// TestResolveInsecureRegistry: plain HTTP only for registries listed as insecure, even for
// a private registry the platform listed (go-containerregistry would fall back to HTTP on
// its own for names that look local).
func TestResolveInsecureRegistry(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	// A name go-containerregistry does not treat as local, resolved to the loopback server.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	host := "registry.test:" + port
	dns := registrytest.StartDNS(t, map[string]netip.Addr{"registry.test": netip.MustParseAddr("127.0.0.1")})
	ref, err := name.ParseReference(host+"/plain:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	push := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
	}}
	if err := remote.Write(ref, registrytest.Image(t, variant{Platform: amd64, Entrypoint: []string{"/plain"}}), remote.WithTransport(push)); err != nil {
		t.Fatal(err)
	}
	strict := registry.New(registry.Options{PrivateRegistries: []string{"registry.test"}, Resolver: dns}, nil)
	if _, err := strict.Resolve(t.Context(), host+"/plain:1", amd64, nil); err == nil || !strings.Contains(err.Error(), "plain HTTP, not HTTPS") {
		t.Errorf("plain HTTP registry not listed as insecure: err = %v, want a refusal", err)
	}
	lax := registry.New(registry.Options{InsecureRegistries: []string{host}, Resolver: dns}, nil)
	if _, err := lax.Resolve(t.Context(), host+"/plain:1", amd64, nil); err != nil {
		t.Errorf("listed insecure registry (so also allowed at a private address): %v", err)
	}
}

// TestResolveMirror asks the mirror first and falls back to the registry when the mirror
// does not have the image.
func TestResolveMirror(t *testing.T) {
	t.Parallel()
	origin := registrytest.Start(t, "", "")
	mirror := registrytest.Start(t, "", "")
	both := origin.Push(t, "app:1", variant{Platform: amd64, Entrypoint: []string{"/from-origin"}})
	mirror.Push(t, "app:1", variant{Platform: amd64, Entrypoint: []string{"/from-mirror"}})
	onlyOrigin := origin.Push(t, "rare:1", variant{Platform: amd64, Entrypoint: []string{"/rare"}})
	// Both test servers share the httptest CA. Both sides of a mirror are the platform's
	// choice, so they may be on loopback without being listed as private.
	res := registry.New(registry.Options{RootCAs: origin.RootCAs(), Mirrors: map[string]string{origin.Host: mirror.Host}}, nil)
	cfg, err := res.Resolve(t.Context(), both, amd64, nil)
	if err != nil || cfg.Entrypoint[0] != "/from-mirror" {
		t.Fatalf("mirrored image: %v %v, want the mirror's entrypoint", cfg, err)
	}
	cfg, err = res.Resolve(t.Context(), onlyOrigin, amd64, nil)
	if err != nil || cfg.Entrypoint[0] != "/rare" {
		t.Fatalf("image missing from the mirror: %v %v, want the registry's", cfg, err)
	}
}

// TestResolveAfterDeadline: a caller whose budget is spent gets an error at once and starts
// no fetch, so a pod naming thousands of images cannot queue thousands of fetches.
func TestResolveAfterDeadline(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, "", "")
	img := reg.Push(t, "app:1", variant{Platform: amd64, Entrypoint: []string{"/app"}})
	res, _ := newResolver(reg, registry.Options{})
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(errors.New("budget spent"))
	if _, err := res.Resolve(ctx, img, amd64, nil); err == nil || !strings.Contains(err.Error(), "registry not asked in time: budget spent") {
		t.Fatalf("err = %v, want the caller's cause", err)
	}
	time.Sleep(200 * time.Millisecond) // a detached fetch would have asked by now
	if got := reg.ManifestRequests.Load(); got != 0 {
		t.Errorf("manifest requests = %d, want 0", got)
	}
}

// TestResolveBoundsFetchesInFlight: with every fetch slot held by a registry that does not
// answer, a lookup of another image fails at once as unavailable, and is not cached: once
// a slot is free, it succeeds.
func TestResolveBoundsFetchesInFlight(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, "", "")
	slow := reg.Push(t, "slow:1", variant{Platform: amd64, Entrypoint: []string{"/slow"}})
	other := reg.Push(t, "other:1", variant{Platform: amd64, Entrypoint: []string{"/other"}})
	reg.Gate = make(chan struct{})
	res, _ := newResolver(reg, registry.Options{MaxFetches: 1})

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := res.Resolve(ctx, slow, amd64, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow registry: err = %v, want DeadlineExceeded (its fetch goes on, detached)", err)
	}
	_, err := res.Resolve(t.Context(), other, amd64, nil)
	if !errors.Is(err, registry.ErrUnavailable) || !strings.Contains(err.Error(), "1 registry fetches in flight") {
		t.Fatalf("every slot held: err = %v, want unavailable at once", err)
	}
	close(reg.Gate)
	awaitEntrypoint(t, res, other, "/other", "after the slow fetch ended (a busy answer is not cached)")
}

// awaitEntrypoint resolves img until it answers with entrypoint want, for up to 10s.
func awaitEntrypoint(t *testing.T, res *registry.Resolver, img, want, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cfg, err := res.Resolve(t.Context(), img, amd64, nil)
		if err == nil && len(cfg.Entrypoint) > 0 && cfg.Entrypoint[0] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v, %v; want entrypoint %s", what, cfg, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestResolveSharesFetchesFairly: one namespace whose pods name slow registries holds at
// most its share of the fetches in flight, and another namespace's lookups still run.
func TestResolveSharesFetchesFairly(t *testing.T) {
	t.Parallel()
	slowReg := registrytest.Start(t, "", "")
	slow := []string{
		slowReg.Push(t, "slow:1", variant{Platform: amd64, Entrypoint: []string{"/slow1"}}),
		slowReg.Push(t, "slow:2", variant{Platform: amd64, Entrypoint: []string{"/slow2"}}),
		slowReg.Push(t, "slow:3", variant{Platform: amd64, Entrypoint: []string{"/slow3"}}),
	}
	slowReg.Gate = make(chan struct{})
	fastReg := registrytest.Start(t, "", "")
	fast := fastReg.Push(t, "fast:1", variant{Platform: amd64, Entrypoint: []string{"/fast"}})
	res, _ := newResolver(slowReg, registry.Options{MaxFetches: 4, MaxFetchesPerTenant: 2})

	hostile := registry.WithTenant(t.Context(), "hostile")
	for _, img := range slow[:2] {
		ctx, cancel := context.WithTimeout(hostile, 50*time.Millisecond)
		if _, err := res.Resolve(ctx, img, amd64, nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: err = %v, want DeadlineExceeded (its fetch goes on, detached)", img, err)
		}
		cancel()
	}
	_, err := res.Resolve(hostile, slow[2], amd64, nil)
	if !errors.Is(err, registry.ErrUnavailable) || !strings.Contains(err.Error(), "this namespace already has 2 registry fetches in flight, its share of the webhook's 4") {
		t.Fatalf("third slow fetch of one namespace: err = %v, want its share refused at once", err)
	}
	cfg, err := res.Resolve(registry.WithTenant(t.Context(), "other"), fast, amd64, nil)
	if err != nil || cfg.Entrypoint[0] != "/fast" {
		t.Fatalf("another namespace while the first holds its share: %v, %v", cfg, err)
	}
	close(slowReg.Gate)
	awaitEntrypoint(t, res, slow[2], "/slow3", "after the slow fetches ended (a busy answer is not cached)")
}

// TestResolveKeepsAShareForEveryNamespace: namespaces that together hold every fetch
// slot (several of one owner's, or named by a caller of the port) give one up to a
// namespace that holds none. The oldest fetch of the namespaces holding the most stops,
// its callers are told to try again, and its failure is not cached.
func TestResolveKeepsAShareForEveryNamespace(t *testing.T) {
	t.Parallel()
	slowReg := registrytest.Start(t, "", "")
	var slow []string
	for i := range 4 {
		slow = append(slow, slowReg.Push(t, fmt.Sprintf("slow:%d", i), variant{Platform: amd64, Entrypoint: []string{fmt.Sprintf("/slow%d", i)}}))
	}
	slowReg.Gate = make(chan struct{})
	fastReg := registrytest.Start(t, "", "")
	fast := fastReg.Push(t, "fast:1", variant{Platform: amd64, Entrypoint: []string{"/fast"}})
	res, _ := newResolver(slowReg, registry.Options{MaxFetches: 4, MaxFetchesPerTenant: 2})
	slowReg.ManifestRequests.Store(0)

	// A caller that waits on the oldest fetch, which will be stopped; then the others.
	waited := make(chan error, 1)
	go func() {
		_, err := res.Resolve(registry.WithTenant(t.Context(), "hostile-a"), slow[0], amd64, nil)
		waited <- err
	}()
	held := func(n int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); slowReg.ManifestRequests.Load() < n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d fetches reached the registry, want %d", slowReg.ManifestRequests.Load(), n)
			}
		}
	}
	held(1)
	for i, tenant := range []string{"hostile-a", "hostile-b", "hostile-b"} {
		ctx, cancel := context.WithTimeout(registry.WithTenant(t.Context(), tenant), 50*time.Millisecond)
		if _, err := res.Resolve(ctx, slow[i+1], amd64, nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: err = %v, want DeadlineExceeded (its fetch goes on, detached)", slow[i+1], err)
		}
		cancel()
	}
	held(4)
	cfg, err := res.Resolve(registry.WithTenant(t.Context(), "victim"), fast, amd64, nil)
	if err != nil || cfg.Entrypoint[0] != "/fast" {
		t.Fatalf("a namespace holding none while two hold every slot: %v, %v", cfg, err)
	}
	select {
	case err := <-waited:
		if !errors.Is(err, registry.ErrUnavailable) || !strings.Contains(err.Error(), "stopped to give the slot to a namespace with fewer fetches in flight; try again") {
			t.Fatalf("the caller of the fetch that gave up its slot: err = %v, want told to try again", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the oldest fetch of the namespaces holding the most did not stop")
	}
	close(slowReg.Gate)
	awaitEntrypoint(t, res, slow[0], "/slow0", "after the stopped fetch (its failure is not cached)")
}

// TestResolveSharesFetchesWithinATenant: lookups of one image by one tenant share a fetch;
// another tenant's lookup gets a fetch of its own, so that one tenant out of its share can
// never fail another's lookup that joined its call.
func TestResolveSharesFetchesWithinATenant(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, "", "")
	img := reg.Push(t, "slow:1", variant{Platform: amd64, Entrypoint: []string{"/slow"}})
	reg.Gate = make(chan struct{})
	res, _ := newResolver(reg, registry.Options{})
	reg.ManifestRequests.Store(0)
	lookup := func(tenant string) {
		ctx, cancel := context.WithTimeout(registry.WithTenant(t.Context(), tenant), 50*time.Millisecond)
		defer cancel()
		if _, err := res.Resolve(ctx, img, amd64, nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: err = %v, want DeadlineExceeded (its fetch goes on, detached)", tenant, err)
		}
	}
	requests := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for reg.ManifestRequests.Load() != want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // and no more arrive
		if got := reg.ManifestRequests.Load(); got != want {
			t.Fatalf("%d manifest requests, want %d", got, want)
		}
	}
	lookup("a")
	requests(1)
	lookup("a")
	requests(1) // joined the first fetch, still in flight
	lookup("b")
	requests(2)
	close(reg.Gate)
	awaitEntrypoint(t, res, img, "/slow", "after the fetches ended")
}
