package registry_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/vault-injector/vault-injector/registry"
)

var (
	amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = v1.Platform{OS: "linux", Architecture: "arm64"}
)

// testRegistry is go-containerregistry's in-process registry (the real distribution
// protocol) behind TLS, with optional basic auth, a request counter and a gate to slow it.
type testRegistry struct {
	srv      *httptest.Server
	host     string
	requests atomic.Int64
	user     string
	pass     string
	gate     chan struct{} // when not nil, manifest requests wait for it or their context
}

func newTestRegistry(t *testing.T, user, pass string) *testRegistry {
	t.Helper()
	r := &testRegistry{user: user, pass: pass}
	inner := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.user != "" {
			u, p, ok := req.BasicAuth()
			if !ok || u != r.user || p != r.pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
		}
		if strings.Contains(req.URL.Path, "/manifests/") {
			r.requests.Add(1)
			if r.gate != nil {
				select {
				case <-r.gate:
				case <-req.Context().Done():
					return
				}
			}
		}
		inner.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	r.host = strings.TrimPrefix(r.srv.URL, "https://")
	return r
}

// variant is one platform's image in a push.
type variant struct {
	p          v1.Platform
	entrypoint []string
}

func (r *testRegistry) push(t *testing.T, repo string, imgs ...variant) string {
	t.Helper()
	ref, err := name.ParseReference(r.host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	opts := []remote.Option{remote.WithTransport(r.srv.Client().Transport), remote.WithAuth(&authn.Basic{Username: r.user, Password: r.pass})}
	var adds []mutate.IndexAddendum
	for _, v := range imgs {
		img := image(t, v.p, v.entrypoint)
		if len(imgs) == 1 {
			if err := remote.Write(ref, img, opts...); err != nil {
				t.Fatal(err)
			}
			r.requests.Store(0)
			return ref.Name()
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v.p}})
	}
	if err := remote.WriteIndex(ref, mutate.AppendManifests(empty.Index, adds...), opts...); err != nil {
		t.Fatal(err)
	}
	r.requests.Store(0)
	return ref.Name()
}

func image(t *testing.T, p v1.Platform, entrypoint []string) v1.Image {
	t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = p.OS, p.Architecture
	cf.Config.Entrypoint = entrypoint
	cf.Config.Cmd = []string{"--from", p.Architecture}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func newResolver(r *testRegistry, o registry.Options) (*registry.Resolver, *outcomes) {
	o.Transport = r.srv.Client().Transport
	out := &outcomes{}
	return registry.New(o, out.add), out
}

type outcomes struct {
	mu   sync.Mutex
	seen []registry.Outcome
}

func (o *outcomes) add(x registry.Outcome) { o.mu.Lock(); o.seen = append(o.seen, x); o.mu.Unlock() }

func TestResolveSingleArch(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, "", "")
	img := reg.push(t, "app:1", variant{amd64, []string{"/app", "serve"}})
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
	if got := reg.requests.Load(); got != 1 {
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
	reg := newTestRegistry(t, "", "")
	img := reg.push(t, "multi:1", variant{amd64, []string{"/amd64-app"}}, variant{arm64, []string{"/arm64-app"}})
	res, _ := newResolver(reg, registry.Options{})
	for _, v := range []variant{{amd64, []string{"/amd64-app"}}, {arm64, []string{"/arm64-app"}}} {
		p, want := v.p, v.entrypoint[0]
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
	reg := newTestRegistry(t, "", "")
	tagged := reg.push(t, "app:1", variant{amd64, []string{"/app"}})
	ref, err := name.ParseReference(tagged)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(ref, remote.WithTransport(reg.srv.Client().Transport))
	if err != nil {
		t.Fatal(err)
	}
	byDigest := reg.host + "/app@" + desc.Digest.String()
	res, _ := newResolver(reg, registry.Options{})
	for range 2 {
		if _, err := res.Resolve(t.Context(), byDigest, amd64, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := reg.requests.Load(); got != 2 { // our HEAD above, then one GET
		t.Errorf("manifest requests = %d, want 2", got)
	}
}

func TestResolveBasicAuth(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, "robot", "s3cret-canary-pass")
	img := reg.push(t, "private:1", variant{amd64, []string{"/private"}})
	res, _ := newResolver(reg, registry.Options{})

	_, err := res.Resolve(t.Context(), img, amd64, nil)
	if err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("anonymous: err = %v, want UNAUTHORIZED", err)
	}
	kc := &registry.Keychain{}
	cfg := `{"auths":{"https://` + reg.host + `/v1/":{"auth":"cm9ib3Q6czNjcmV0LWNhbmFyeS1wYXNz"}}}`
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
	reg := newTestRegistry(t, "", "")
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	res, out := newResolver(reg, registry.Options{NegativeTTL: 10 * time.Second, Now: clock})
	missing := reg.host + "/missing:1"
	for range 2 {
		if _, err := res.Resolve(t.Context(), missing, amd64, nil); err == nil || !strings.Contains(err.Error(), "NAME_UNKNOWN") {
			t.Fatalf("err = %v, want NAME_UNKNOWN", err)
		}
	}
	if got := reg.requests.Load(); got != 1 {
		t.Errorf("manifest requests = %d, want 1 (negative cache)", got)
	}
	mu.Lock()
	now = now.Add(11 * time.Second)
	mu.Unlock()
	_, _ = res.Resolve(t.Context(), missing, amd64, nil)
	if got := reg.requests.Load(); got != 2 {
		t.Errorf("manifest requests after expiry = %d, want 2", got)
	}
	if d := cmp.Diff([]registry.Outcome{"error", "negative-hit", "error"}, out.seen); d != "" {
		t.Errorf("outcomes: %s", d)
	}

	if _, err := res.Resolve(t.Context(), "UPPER/Case:bad tag", amd64, nil); err == nil {
		t.Error("malformed image name: no error")
	}
	down := registry.New(registry.Options{}, nil)
	if _, err := down.Resolve(t.Context(), "127.0.0.1:1/app:1", amd64, nil); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("registry down: err = %v, want one naming the registry", err)
	}
}

func TestResolveDeadlineAndCollapse(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, "", "")
	img := reg.push(t, "slow:1", variant{amd64, []string{"/slow"}})
	reg.gate = make(chan struct{})
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
	close(reg.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The timed-out caller's fetch went on detached and was joined by the 8 others.
	if got := reg.requests.Load(); got != 1 {
		t.Errorf("manifest requests = %d, want 1 (9 lookups collapsed into one fetch)", got)
	}
}

func TestResolveInsecureRegistry(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	// A name go-containerregistry does not treat as local (it speaks plain HTTP to
	// loopback names on its own), dialled to the loopback server.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	host := "registry.test:" + port
	transport := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
	}}
	ref, err := name.ParseReference(host+"/plain:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, image(t, amd64, []string{"/plain"}), remote.WithTransport(transport)); err != nil {
		t.Fatal(err)
	}
	strict := registry.New(registry.Options{Transport: transport}, nil)
	if _, err := strict.Resolve(t.Context(), host+"/plain:1", amd64, nil); err == nil {
		t.Error("plain HTTP registry used without being listed as insecure")
	}
	lax := registry.New(registry.Options{InsecureRegistries: []string{host}, Transport: transport}, nil)
	if _, err := lax.Resolve(t.Context(), host+"/plain:1", amd64, nil); err != nil {
		t.Errorf("listed insecure registry: %v", err)
	}
}
