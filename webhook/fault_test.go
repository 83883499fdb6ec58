package webhook_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/vault-injector/vault-injector/internal/faultproxy"
	"github.com/vault-injector/vault-injector/internal/registrytest"
	"github.com/vault-injector/vault-injector/registry"
	"github.com/vault-injector/vault-injector/webhook"
)

// Faults on the admission path: the registry (entrypoint lookups) and the apiserver
// (pull secrets) behind a fault proxy. A registry that fails denies the pod
// naming the image (the user can fix the image or its command); an apiserver that fails
// errors the request (500), which failurePolicy Fail turns into a rejected pod: either
// way, no pod is admitted without its injection.

// handleTimed runs one admission request and returns the response and how long it took.
func handleTimed(ctx context.Context, h *webhook.Handler, raw []byte) (admission.Response, time.Duration) {
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

func TestFaultRegistryOnAdmission(t *testing.T) {
	t.Parallel()
	const budget = 500 * time.Millisecond
	cases := map[string]struct {
		fault func(*faultproxy.Proxy) error
		want  string
	}{
		"slow beyond the budget": {
			fault: func(p *faultproxy.Proxy) error { p.SetLatency(0, 2*time.Second); return nil },
			want:  "longer than 500ms",
		},
		"resets": {
			fault: func(p *faultproxy.Proxy) error { p.SetReset(true); return nil },
			want:  "connection reset by peer",
		},
		"down": {
			fault: (*faultproxy.Proxy).Refuse,
			want:  "connection refused",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := registrytest.Start(t, "", "")
			reg.Push(t, "app:1", registrytest.Variant{Platform: registrytest.AMD64, Entrypoint: []string{"/app"}})
			p := faultproxy.Start(t, reg.Host)
			image := p.Addr() + "/app:1"
			h, _ := newHandler(t)
			h.Facts = &webhook.FactFinder{
				Images: testResolver(reg),
				Budget: budget, DefaultPlatform: registrytest.AMD64,
			}
			if err := tc.fault(p); err != nil {
				t.Fatal(err)
			}
			resp, took := handleTimed(t.Context(), h, noCommandPod(image, false))
			if resp.Allowed || resp.Result.Code != 403 || !strings.Contains(resp.Result.Message, image) ||
				!strings.Contains(resp.Result.Message, `container "api"`) || !strings.Contains(resp.Result.Message, tc.want) {
				t.Fatalf("allowed=%v %v; want denied naming the image, the container and %q", resp.Allowed, resp.Result, tc.want)
			}
			if took > budget+time.Second {
				t.Errorf("answered after %s, want within the %s budget and a margin", took, budget)
			}
			t.Logf("403 after %s: %s", took.Round(time.Millisecond), resp.Result.Message)
		})
	}
}

// apiserverBehindProxy starts envtest and returns an admin client for setup, and one
// that reaches the apiserver through a fault proxy, as the webhook's client.
func apiserverBehindProxy(t *testing.T) (client.Client, client.Client, *faultproxy.Proxy) {
	t.Helper()
	admin, kubeconfig := startEnvtest(t)
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	p := faultproxy.Start(t, u.Host)
	cfg.Host = "https://" + p.Addr() // the apiserver's certificate is for 127.0.0.1
	proxied, err := client.New(cfg, client.Options{})
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
	// lookup fails on the name that does not resolve: a denial, not an error.
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
