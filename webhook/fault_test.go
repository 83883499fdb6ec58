package webhook_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vault-injector/vault-injector/internal/faultproxy"
	"github.com/vault-injector/vault-injector/internal/kube"
	"github.com/vault-injector/vault-injector/internal/registrytest"
	"github.com/vault-injector/vault-injector/registry"
	"github.com/vault-injector/vault-injector/webhook"
)

// Faults on the admission path: the registry (entrypoint lookups) and the apiserver
// (pull secrets) behind a fault proxy. A registry that is down, slow or failing, and an
// apiserver that is, error the request (500, outcome "error"): the pod is fine and the
// outage is ours to see. A registry that answers "no such image", or that the pod may not
// use (a non-public address), denies the pod (403, outcome "denied") naming the image: the
// user can fix the image or its command. Either way the apiserver refuses the pod, so no
// pod is admitted without its injection.

// handleTimed runs one admission request and returns the response and how long it took.
func handleTimed(ctx context.Context, h *webhook.Handler, raw []byte) (webhook.Response, time.Duration) {
	start := time.Now()
	resp := h.Handle(ctx, request("CREATE", raw))
	return resp, time.Since(start)
}

// noCommandPod needs its image's entrypoint, so the registry is asked.
func noCommandPod(image string, pullSecret bool) []byte {
	secrets := ""
	if pullSecret {
		secrets = `"imagePullSecrets":[{"name":"pull"}],`
	}
	return []byte(`{"metadata":{"name":"api"},"spec":{` + secrets + `"containers":[{"name":"api","image":"` + image +
		`","env":[{"name":"P","value":"vault:secret/data/p#k"}]}]}}`)
}

// failingRegistry answers every request with status and a body that must never be repeated.
func failingRegistry(t *testing.T, status int) (*registry.Resolver, string) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, registryBodyCanary, status)
	}))
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	host := strings.TrimPrefix(srv.URL, "https://")
	return registry.New(registry.Options{RootCAs: roots, PrivateRegistries: []string{"127.0.0.1"}}, nil), host + "/app:1"
}

const registryBodyCanary = "registry-body-canary-93f0"

func TestFaultRegistryOnAdmission(t *testing.T) {
	t.Parallel()
	const budget = 500 * time.Millisecond
	// proxied puts a fault between the resolver and a registry holding app:1.
	proxied := func(fault func(*faultproxy.Proxy) error) func(*testing.T) (webhook.ImageResolver, string) {
		return func(t *testing.T) (webhook.ImageResolver, string) {
			reg := registrytest.Start(t, "", "")
			reg.Push(t, "app:1", registrytest.Variant{Platform: registrytest.AMD64, Entrypoint: []string{"/app"}})
			p := faultproxy.Start(t, reg.Host)
			if err := fault(p); err != nil {
				t.Fatal(err)
			}
			return testResolver(reg), p.Addr() + "/app:1"
		}
	}
	cases := map[string]struct {
		setup   func(*testing.T) (webhook.ImageResolver, string)
		code    int32
		outcome webhook.Outcome
		want    string
	}{
		"slow beyond the budget": {
			setup: proxied(func(p *faultproxy.Proxy) error { p.SetLatency(0, 2*time.Second); return nil }),
			code:  500, outcome: webhook.OutcomeError,
			want: "registry did not answer in time: reading pull secrets and image configs took longer than 500ms",
		},
		"resets": {
			setup: proxied(func(p *faultproxy.Proxy) error { p.SetReset(true); return nil }),
			code:  500, outcome: webhook.OutcomeError, want: ": connection reset by peer",
		},
		"down": {
			setup: proxied((*faultproxy.Proxy).Refuse),
			code:  500, outcome: webhook.OutcomeError, want: ": connection refused",
		},
		"fails (503)": {
			setup: func(t *testing.T) (webhook.ImageResolver, string) {
				return failingRegistry(t, http.StatusServiceUnavailable)
			},
			code: 500, outcome: webhook.OutcomeError, want: "answered HTTP 503: the registry failed",
		},
		"rate limits (429)": {
			setup: func(t *testing.T) (webhook.ImageResolver, string) {
				return failingRegistry(t, http.StatusTooManyRequests)
			},
			code: 500, outcome: webhook.OutcomeError, want: "answered HTTP 429: rate limited",
		},
		"no such image (404)": {
			setup: func(t *testing.T) (webhook.ImageResolver, string) {
				reg := registrytest.Start(t, "", "")
				return testResolver(reg), reg.Host + "/nope:1"
			},
			code: 403, outcome: webhook.OutcomeDenied, want: "answered HTTP 404: no such image or tag",
		},
		"non-public address": {
			setup: func(t *testing.T) (webhook.ImageResolver, string) {
				reg := registrytest.Start(t, "", "")
				reg.Push(t, "app:1", registrytest.Variant{Platform: registrytest.AMD64, Entrypoint: []string{"/app"}})
				return registry.New(registry.Options{RootCAs: reg.RootCAs()}, nil), reg.Host + "/app:1"
			},
			code: 403, outcome: webhook.OutcomeDenied, want: ": it (or a host it sent us to) resolves to a loopback, private",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			images, image := tc.setup(t)
			h, metrics := newHandler(t)
			h.Facts = &webhook.FactFinder{Images: images, Budget: budget, DefaultPlatform: registrytest.AMD64}
			resp, took := handleTimed(t.Context(), h, noCommandPod(image, false))
			wantPrefix := `pod "shop/api": container "api": cannot read the image's entrypoint from its registry (image "` + image + `", platform linux/amd64): `
			msg := resp.Result.Message
			if resp.Allowed || resp.Result.Code != tc.code || !strings.HasPrefix(msg, wantPrefix) || !strings.Contains(msg, tc.want) {
				t.Fatalf("allowed=%v %d %q;\nwant %d, %q … %q", resp.Allowed, resp.Result.Code, msg, tc.code, wantPrefix, tc.want)
			}
			if strings.Contains(msg, registryBodyCanary) {
				t.Errorf("message repeats the registry's answer: %q", msg)
			}
			if got := counter(t, metrics, tc.outcome); got != 1 {
				t.Errorf("requests{outcome=%s} = %v, want 1", tc.outcome, got)
			}
			if took > budget+time.Second {
				t.Errorf("answered after %s, want within the %s budget and a margin", took, budget)
			}
			t.Logf("%d after %s: %s", tc.code, took.Round(time.Millisecond), msg)
		})
	}
}

// apiserverBehindProxy starts envtest and returns an admin client for setup, and one
// that reaches the apiserver through a fault proxy, as the webhook's client.
func apiserverBehindProxy(t *testing.T) (testAPI, *kube.Client, *faultproxy.Proxy) {
	t.Helper()
	admin, kubeconfig := startEnvtest(t)
	cfg, err := kube.ConfigFromKubeconfig(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	p := faultproxy.Start(t, u.Host)
	cfg.Host = "https://" + p.Addr() // the apiserver's certificate is for 127.0.0.1
	proxied, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return admin, proxied, p
}

func TestFaultAPIServerOnAdmission(t *testing.T) {
	admin, proxied, p := apiserverBehindProxy(t)
	if err := admin.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	pullSecretPod := noCommandPod("registry.invalid/app:1", true)
	const budget = time.Second
	h, _ := newHandler(t)
	h.Facts = &webhook.FactFinder{
		Kube: proxied, Budget: budget, DefaultPlatform: registrytest.AMD64,
		Images: registry.New(registry.Options{}, nil),
	}

	// Healthy: the pull secrets are read (a missing one is a warning), then the image
	// lookup fails on the name that does not exist (NXDOMAIN): a denial, not an error.
	resp, _ := handleTimed(t.Context(), h, pullSecretPod)
	if resp.Allowed || resp.Result.Code != 403 || !strings.Contains(resp.Result.Message, "registry.invalid") {
		t.Fatalf("healthy apiserver: allowed=%v %v, want a denial naming the registry", resp.Allowed, resp.Result)
	}
	if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "pull secret shop/pull not found") {
		t.Errorf("healthy apiserver: warnings %q, want the missing pull secret", resp.Warnings)
	}
	// The apiserver calls the webhook with a timeout (10s by default); the request's
	// context stands in for it. Pull secrets are read within the budget.
	const callTimeout = 3 * time.Second
	cases := []struct {
		name        string
		fault, heal func(*faultproxy.Proxy) error
		pod         []byte
		want        []string
		within      time.Duration
	}{
		{
			// client-go retries until the budget runs out; the message names the object and
			// the last cause it saw (refused, or a pooled connection reset).
			name: "pull secrets, apiserver down", fault: (*faultproxy.Proxy).Refuse, heal: (*faultproxy.Proxy).Listen,
			pod: pullSecretPod, want: []string{"read service account shop/default for its pull secrets"}, within: budget + time.Second,
		},
		{
			name: "pull secrets, connections reset", fault: setReset, heal: clearFaults,
			pod: pullSecretPod, want: []string{"read service account shop/default for its pull secrets"}, within: callTimeout + time.Second,
		},
		{
			name: "pull secrets, apiserver hangs", fault: setBlackhole, heal: clearFaults,
			pod: pullSecretPod, want: []string{"read service account shop/default for its pull secrets", "longer than 1s"}, within: budget + time.Second,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.fault(p); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := tc.heal(p); err != nil {
					t.Fatal(err)
				}
			}()
			ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
			defer cancel()
			resp, took := handleTimed(ctx, h, tc.pod)
			if resp.Allowed || resp.Result.Code != 500 || !strings.Contains(resp.Result.Message, `pod "shop/api"`) {
				t.Fatalf("allowed=%v %v; want a 500 naming the pod (fail closed)", resp.Allowed, resp.Result)
			}
			for _, w := range tc.want {
				if !strings.Contains(resp.Result.Message, w) {
					t.Errorf("message %q does not say %q", resp.Result.Message, w)
				}
			}
			if took > tc.within {
				t.Errorf("answered after %s, want within %s", took, tc.within)
			}
			t.Logf("500 after %s: %s", took.Round(time.Millisecond), resp.Result.Message)
		})
	}
}

func setReset(p *faultproxy.Proxy) error     { p.SetReset(true); return nil }
func setBlackhole(p *faultproxy.Proxy) error { p.SetBlackhole(true); return nil }
func clearFaults(p *faultproxy.Proxy) error  { p.Clear(); return nil }

// TestFaultRegistryMixed: one image that does not exist and one whose registry is down.
// Asking again cannot admit the pod, so it is denied, naming both images.
func TestFaultRegistryMixed(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, "", "")
	reg.Push(t, "app:1", registrytest.Variant{Platform: registrytest.AMD64, Entrypoint: []string{"/app"}})
	p := faultproxy.Start(t, reg.Host)
	if err := p.Refuse(); err != nil {
		t.Fatal(err)
	}
	down, missing := p.Addr()+"/app:1", reg.Host+"/nope:1"
	h, metrics := newHandler(t)
	h.Facts = &webhook.FactFinder{Images: testResolver(reg), Budget: time.Second, DefaultPlatform: registrytest.AMD64}
	raw := []byte(`{"metadata":{"name":"api"},"spec":{"containers":[` +
		`{"name":"a","image":"` + down + `","env":[{"name":"P","value":"vault:secret/data/p#k"}]},` +
		`{"name":"b","image":"` + missing + `","env":[{"name":"P","value":"vault:secret/data/p#k"}]}]}}`)
	resp, _ := handleTimed(t.Context(), h, raw)
	msg := resp.Result.Message
	if resp.Allowed || resp.Result.Code != 403 || !strings.Contains(msg, `container "a"`) || !strings.Contains(msg, ": connection refused") ||
		!strings.Contains(msg, `container "b"`) || !strings.Contains(msg, "answered HTTP 404: no such image or tag") {
		t.Fatalf("allowed=%v %d %q; want denied naming both images and causes", resp.Allowed, resp.Result.Code, msg)
	}
	if got := counter(t, metrics, webhook.OutcomeDenied); got != 1 {
		t.Errorf("requests{outcome=denied} = %v, want 1", got)
	}
}
