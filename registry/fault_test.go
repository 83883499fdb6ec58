package registry_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/internal/faultproxy"
	"github.com/vault-injector/vault-injector/internal/registrytest"
	"github.com/vault-injector/vault-injector/registry"
)

// Network faults between the resolver and a real (in-process) registry, through a fault
// proxy: every failure names the image, none outlasts the caller's budget or the fetch
// timeout, and a failure is remembered for NegativeTTL only.

// faultyRegistry pushes app:1 to a registry and returns the image as reached through a
// fault proxy (the registry's TLS certificate is for 127.0.0.1, whatever the port).
func faultyRegistry(t *testing.T) (*registrytest.Registry, *faultproxy.Proxy, string) {
	t.Helper()
	reg := registrytest.Start(t, "", "")
	reg.Push(t, "app:1", variant{Platform: amd64, Entrypoint: []string{"/app"}})
	p := faultproxy.Start(t, reg.Host)
	return reg, p, p.Addr() + "/app:1"
}

// clock is a settable time for NegativeTTL.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

func TestFaultSlowRegistry(t *testing.T) {
	t.Parallel()
	reg, p, img := faultyRegistry(t)
	p.SetLatency(0, 400*time.Millisecond)
	res, out := newResolver(reg, registry.Options{})

	const budget = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), budget)
	defer cancel()
	start := time.Now()
	_, err := res.Resolve(ctx, img, amd64, nil)
	if took := time.Since(start); took > budget+time.Second {
		t.Errorf("gave up after %s, want about the %s budget", took, budget)
	}
	if err == nil || !strings.Contains(err.Error(), img) || !strings.Contains(err.Error(), "did not answer in time") {
		t.Fatalf("err = %v, want one naming the image and the budget", err)
	}
	if !errors.Is(err, registry.ErrUnavailable) {
		t.Errorf("err = %v is not ErrUnavailable", err)
	}
	// The fetch goes on detached from the impatient caller and fills the cache, so the
	// next pod of the same ReplicaSet is answered at once.
	awaitEntrypoint(t, res, img, "/app", "the detached fetch never filled the cache")
	if got := reg.ManifestRequests.Load(); got != 1 {
		t.Errorf("manifest requests = %d, want 1", got)
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	if out.seen[0] != registry.OutcomeError || out.seen[len(out.seen)-1] == registry.OutcomeError {
		t.Errorf("outcomes %v, want an error then an answer", out.seen)
	}
}

// A registry that accepts connections and never answers is bounded by FetchTimeout,
// even for a caller without a deadline, so no goroutine hangs on it.
func TestFaultBlackholedRegistry(t *testing.T) {
	t.Parallel()
	reg, p, img := faultyRegistry(t)
	p.SetBlackhole(true)
	res, _ := newResolver(reg, registry.Options{FetchTimeout: time.Second})
	start := time.Now()
	_, err := res.Resolve(t.Context(), img, amd64, nil)
	if took := time.Since(start); took < time.Second || took > 3*time.Second {
		t.Errorf("gave up after %s, want the 1s fetch timeout", took)
	}
	if err == nil || !strings.Contains(err.Error(), img) {
		t.Fatalf("err = %v, want one naming the image", err)
	}
}

func TestFaultBrokenConnections(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		fault func(*faultproxy.Proxy) error
		heal  func(*faultproxy.Proxy) error
		want  string
	}{
		"reset": {
			fault: func(p *faultproxy.Proxy) error { p.SetReset(true); return nil },
			heal:  func(p *faultproxy.Proxy) error { p.Clear(); return nil },
			want:  "connection reset by peer",
		},
		"down": {
			fault: (*faultproxy.Proxy).Refuse,
			heal:  (*faultproxy.Proxy).Listen,
			want:  "connection refused",
		},
		"answers cut short": {
			fault: func(p *faultproxy.Proxy) error { p.SetCloseAfter(100); return nil },
			heal:  func(p *faultproxy.Proxy) error { p.Clear(); return nil },
			want:  "EOF",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg, p, img := faultyRegistry(t)
			c := &clock{now: time.Unix(1000, 0)}
			res, _ := newResolver(reg, registry.Options{NegativeTTL: 10 * time.Second, Now: c.Now})
			if err := tc.fault(p); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err := res.Resolve(t.Context(), img, amd64, nil)
			if err == nil || !strings.Contains(err.Error(), img) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming the image and %q", err, tc.want)
			}
			if !errors.Is(err, registry.ErrUnavailable) {
				t.Errorf("err = %v is not ErrUnavailable: the pod would be blamed for a broken connection", err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("failing took %s: a broken registry should fail fast", took)
			}
			if err := tc.heal(p); err != nil {
				t.Fatal(err)
			}
			// Remembered: the healed registry is not asked again before NegativeTTL.
			if _, again := res.Resolve(t.Context(), img, amd64, nil); again == nil || again.Error() != err.Error() {
				t.Errorf("within NegativeTTL: err = %v, want the remembered %v", again, err)
			}
			c.advance(11 * time.Second)
			if cfg, err := res.Resolve(t.Context(), img, amd64, nil); err != nil || cfg.Entrypoint[0] != "/app" {
				t.Errorf("after NegativeTTL: %v, %v; want the image's config", cfg, err)
			}
		})
	}
}
