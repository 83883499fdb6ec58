package webhook_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/vault-injector/vault-injector/webhook"
)

// FuzzHandle sends arbitrary bytes as the pod of a CREATE request and as a whole HTTP
// body: the handler never panics, and every answer is a well-formed AdmissionReview with a
// defined code (allowed, denied 403, or a 4xx error).
func FuzzHandle(f *testing.F) {
	// The seeds' bodies only name the registries; nothing is looked up here.
	for _, c := range hostileCases(&hostileRegistry{loopbackPort: "1", canaryHost: "127.0.0.1:2"}) {
		f.Add(c.body)
	}
	f.Add([]byte(podWith(`{}`, refEnv("vault:secret/data/app#k"), true)))
	h, _ := newHandler(f)
	hook := &webhook.ReviewServer{Handler: h, Log: logr.Discard()}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp := h.Handle(t.Context(), request(admissionv1.Create, data))
		if resp.Result == nil {
			t.Fatalf("no result for pod %q", data)
		}
		if c := resp.Result.Code; c != 200 && c != 400 && c != 403 {
			t.Fatalf("code %d for pod %q", c, data)
		}
		if resp.Allowed && len(resp.Patch) > 0 {
			var ops []map[string]any
			if err := json.Unmarshal(resp.Patch, &ops); err != nil || len(ops) == 0 {
				t.Fatalf("patch is not a list of operations (%v): %s", err, resp.Patch)
			}
		}

		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/mutate-pods", bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		hook.ServeHTTP(rec, req)
		var review admissionv1.AdmissionReview
		if err := json.Unmarshal(rec.Body.Bytes(), &review); err != nil || review.Response == nil {
			t.Fatalf("HTTP answer is not an AdmissionReview (%v): %.200s", err, rec.Body.String())
		}
	})
}
