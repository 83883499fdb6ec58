package webhook_test

import (
	"testing"
	"time"

	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/vault-injector/vault-injector/internal/podtest"
	"github.com/vault-injector/vault-injector/internal/registrytest"
	"github.com/vault-injector/vault-injector/registry"
	"github.com/vault-injector/vault-injector/webhook"
)

// BenchmarkHandleImageLookup measures admission of the typical pod with no commands, so
// its one image's entrypoint is read from the in-process TLS registry. warm-cache reuses
// one resolver (the answer is cached); cold-cache starts from an empty resolver every time
// (ping, manifest and config blob: three round trips over a kept-alive connection).
func BenchmarkHandleImageLookup(b *testing.B) {
	reg := registrytest.Start(b, "", "")
	image := reg.Push(b, "shop/api:1", registrytest.Variant{Platform: registrytest.AMD64, Entrypoint: []string{"/app/api"}})
	pod := podtest.Typical(podtest.WithoutCommands(), podtest.WithImage(image))
	newResolver := func() *registry.Resolver {
		return testResolver(reg)
	}
	for _, cold := range []bool{false, true} {
		name := "warm-cache"
		if cold {
			name = "cold-cache"
		}
		b.Run(name, func(b *testing.B) {
			h, _ := newHandler(b)
			facts := &webhook.FactFinder{Images: newResolver(), Budget: 10 * time.Second, DefaultPlatform: registrytest.AMD64}
			h.Facts = facts
			req := benchRequest(b, pod)
			ctx := logf.IntoContext(b.Context(), benchLogger())
			checkResponse(b, h.Handle(ctx, req), req, true) // primes the warm cache
			b.ReportAllocs()
			for b.Loop() {
				if cold {
					b.StopTimer()
					facts.Images = newResolver()
					b.StartTimer()
				}
				checkResponse(b, h.Handle(ctx, req), req, true)
			}
		})
	}
}
