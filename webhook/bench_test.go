package webhook_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/vault-injector/vault-injector/bench/floor"
	"github.com/vault-injector/vault-injector/bench/load"
	"github.com/vault-injector/vault-injector/internal/podtest"
	"github.com/vault-injector/vault-injector/webhook"
)

// benchShape is one pod shape of the admission benchmarks.
type benchShape struct {
	name    string
	pod     *corev1.Pod
	mutated bool
}

func benchShapes() []benchShape {
	return []benchShape{
		{"typical", podtest.Typical(), true},
		{"large", podtest.Large(), true},
		{"no-references", podtest.Typical(podtest.WithoutReferences()), false},
	}
}

// benchLogger is the production logger (controller-runtime's zap, JSON, info level)
// writing nowhere, so log encoding counts as it does in the server.
func benchLogger() logr.Logger {
	return zap.New(zap.WriteTo(io.Discard))
}

func benchRequest(b *testing.B, pod *corev1.Pod) webhook.Request {
	b.Helper()
	req, err := podtest.AdmissionRequest(pod, "bench-uid")
	if err != nil {
		b.Fatal(err)
	}
	return webhook.Request{AdmissionRequest: req}
}

// checkResponse fails the benchmark unless resp is allowed with a patch exactly when the
// shape is mutated.
func checkResponse(b *testing.B, resp webhook.Response, _ webhook.Request, mutated bool) {
	if !resp.Allowed || (len(resp.Patch) > 0) != mutated {
		b.Fatalf("allowed %v, patch %d bytes, want patch %v: %v", resp.Allowed, len(resp.Patch), mutated, resp.Result)
	}
}

// BenchmarkHandle measures one admission request in process, from the decoded review to
// the marshalled patch: pod decoding, settings, injection, and the marshalled patch.
func BenchmarkHandle(b *testing.B) {
	for _, s := range benchShapes() {
		b.Run(s.name, func(b *testing.B) {
			h, _ := newHandler(b)
			req := benchRequest(b, s.pod)
			ctx := logr.NewContext(b.Context(), benchLogger())
			b.ReportAllocs()
			for b.Loop() {
				checkResponse(b, h.Handle(ctx, req), req, s.mutated)
			}
		})
	}
}

// BenchmarkServeHTTP adds what the server does around Handle: reading and decoding the
// AdmissionReview body and encoding the response. Only TLS and HTTP/2 framing are left out
// (the load harness in bench/ measures those).
func BenchmarkServeHTTP(b *testing.B) {
	for _, s := range benchShapes() {
		b.Run(s.name, func(b *testing.B) {
			h, _ := newHandler(b)
			serveLoop(b, s.pod, &webhook.ReviewServer{Handler: h, Log: benchLogger()}, s.mutated)
		})
	}
}

// BenchmarkFloorServeHTTP is BenchmarkServeHTTP's floor: the load harness's floor server
// (bench/floor) answering the same body with the webhook's own patch, in process, so
// the two benchmarks' ratio is the webhook's own cost without TLS, HTTP/2 or the client.
// The pod-decoded variants also decode the pod into a corev1.Pod, as the webhook must,
// which the load harness's floor does not: they show how much of the gap that is.
func BenchmarkFloorServeHTTP(b *testing.B) {
	for _, s := range benchShapes() {
		if !s.mutated {
			continue // the floor always answers with a patch
		}
		for _, decodePod := range []bool{false, true} {
			name := s.name
			if decodePod {
				name += "/pod-decoded"
			}
			b.Run(name, func(b *testing.B) {
				h, _ := newHandler(b)
				code, body := sender(b, s.pod, &webhook.ReviewServer{Handler: h, Log: benchLogger()})()
				patch, err := load.Patch(code, body, "bench-uid")
				if err != nil {
					b.Fatal(err)
				}
				serveLoop(b, s.pod, &floor.Handler{Patch: patch, DecodePod: decodePod}, true)
			})
		}
	}
}

// serveLoop is the measured loop: server answers pod's review, with a patch when mutated.
func serveLoop(b *testing.B, pod *corev1.Pod, server http.Handler, mutated bool) {
	b.Helper()
	send := sender(b, pod, server)
	b.ReportAllocs()
	for b.Loop() {
		if code, body := send(); code != http.StatusOK || bytes.Contains(body, []byte(`"patch"`)) != mutated {
			b.Fatalf("status %d, body %s", code, body)
		}
	}
}

// sender returns a function that sends pod's review to server and returns the answer,
// reusing one request and one response buffer (the body is valid until the next call).
func sender(b *testing.B, pod *corev1.Pod, server http.Handler) func() (int, []byte) {
	b.Helper()
	body, err := podtest.Review(pod, "bench-uid")
	if err != nil {
		b.Fatal(err)
	}
	r, err := http.NewRequestWithContext(context.WithoutCancel(b.Context()), http.MethodPost, webhook.MutatePath, http.NoBody)
	if err != nil {
		b.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	w := &responseBuffer{header: http.Header{}}
	return func() (int, []byte) {
		r.Body = io.NopCloser(bytes.NewReader(body))
		w.Reset()
		server.ServeHTTP(w, r)
		return w.code, w.Bytes()
	}
}

// responseBuffer is a reusable http.ResponseWriter, lighter than httptest.ResponseRecorder
// so the benchmark measures the webhook rather than the recorder.
type responseBuffer struct {
	bytes.Buffer
	header http.Header
	code   int
}

func (w *responseBuffer) Header() http.Header { return w.header }

func (w *responseBuffer) WriteHeader(code int) { w.code = code }

func (w *responseBuffer) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.Buffer.Write(p)
}

func (w *responseBuffer) Reset() {
	w.Buffer.Reset()
	w.code = 0
}
