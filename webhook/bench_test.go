package webhook_test

import (
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
)

// BenchmarkHandle measures one admission request end to end in process: decode, settings,
// injection, patch computation and response completion.
func BenchmarkHandle(b *testing.B) {
	h, _ := newHandler(b)
	req := request(admissionv1.Create, podJSON(`{}`, `"command":["/app"],`))
	b.ReportAllocs()
	for b.Loop() {
		resp := h.Handle(b.Context(), req)
		if err := resp.Complete(req); err != nil || len(resp.Patches) == 0 {
			b.Fatalf("no patch: %v %s", err, resp.Result)
		}
	}
}
