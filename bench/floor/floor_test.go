package floor_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/bench/floor"
	"github.com/vault-injector/vault-injector/bench/load"
	"github.com/vault-injector/vault-injector/internal/podtest"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	patch := []byte(`[{"op":"add","path":"/metadata/annotations/x","value":"y"}]`)
	h := &floor.Handler{Patch: patch}
	body, err := podtest.Review(podtest.Typical(), "uid-1")
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/mutate-pods", bytes.NewReader(body)))
	got, err := load.Patch(w.Code, w.Body.Bytes(), "uid-1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, patch) {
		t.Errorf("patch = %s, want %s", got, patch)
	}

	h.DecodePod = true
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/mutate-pods", bytes.NewReader(body)))
	if _, err := load.Patch(w.Code, w.Body.Bytes(), "uid-1"); err != nil {
		t.Errorf("decoding the pod: %v", err)
	}
	notAPod := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","object":{"spec":[]}}}`)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/mutate-pods", bytes.NewReader(notAPod)))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "decode admission review and pod") {
		t.Errorf("object that is not a pod: status %d, body %q; want 400", w.Code, w.Body.String())
	}

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/mutate-pods", bytes.NewReader([]byte(`{"request":`))))
	if w.Code != http.StatusBadRequest {
		t.Errorf("broken body: status %d, want 400", w.Code)
	}
}
