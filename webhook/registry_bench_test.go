package webhook_test

import (
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/vault-injector/vault-injector/internal/podtest"
	"github.com/vault-injector/vault-injector/internal/registrytest"
	"github.com/vault-injector/vault-injector/webhook"
)

// BenchmarkHandleImageLookup measures admission of the typical pod with no commands, so
// its one image's entrypoint is read from the in-process TLS registry. warm-cache asks for
// one image again and again (the answer is cached); cold-cache asks one long-lived
// resolver, as the webhook has, for a new image every time (ping, manifest and config
// blob: three round trips over a kept-alive connection). A new resolver per iteration
// would measure a TLS handshake instead: each resolver has its own transport, which
// enforces its egress rules.
func BenchmarkHandleImageLookup(b *testing.B) {
	reg := registrytest.Start(b, "", "")
	push := func(tag string) *corev1.Pod {
		image := reg.Push(b, "shop/api:"+tag, registrytest.Variant{Platform: registrytest.AMD64, Entrypoint: []string{"/app/api", tag}})
		return podtest.Typical(podtest.WithoutCommands(), podtest.WithImage(image))
	}
	for _, cold := range []bool{false, true} {
		name := "warm-cache"
		if cold {
			name = "cold-cache"
		}
		b.Run(name, func(b *testing.B) {
			h, _ := newHandler(b)
			h.Facts = &webhook.FactFinder{Images: testResolver(reg), Budget: 10 * time.Second, DefaultPlatform: registrytest.AMD64}
			req := benchRequest(b, push(name))
			ctx := logf.IntoContext(b.Context(), benchLogger())
			checkResponse(b, h.Handle(ctx, req), req, true) // primes the warm cache and the connection
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if cold {
					b.StopTimer()
					n++
					req = benchRequest(b, push(name+"-"+strconv.Itoa(n)))
					b.StartTimer()
				}
				checkResponse(b, h.Handle(ctx, req), req, true)
			}
		})
	}
}
