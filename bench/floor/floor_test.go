package floor_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
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

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/mutate-pods", bytes.NewReader([]byte(`{"request":`))))
	if w.Code != http.StatusBadRequest {
		t.Errorf("broken body: status %d, want 400", w.Code)
	}
}
