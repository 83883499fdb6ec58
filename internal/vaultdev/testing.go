package vaultdev

import (
	"context"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/internal/syncbuf"
)

// startTimeout bounds Start when the binary already exists; a cold build takes longer,
// so FindBinary gets no deadline of its own beyond the test's.
const startTimeout = 60 * time.Second

// Start finds (or builds) vault, starts a dev server and stops it in t.Cleanup. The
// server's output is logged only if the test failed.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	var out syncbuf.Buffer
	bin, err := FindBinary(t.Context(), &out)
	if err != nil {
		t.Fatalf("finding vault: %v\n%s", err, out.String())
	}
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	s, err := StartContextWith(ctx, bin, &out, opts)
	if err != nil {
		t.Fatalf("starting vault: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stopping vault: %v", err)
		}
		if t.Failed() {
			t.Logf("vault output:\n%s", out.String())
		}
	})
	return s
}

// Do is Request for tests: it fails t on any error.
func (s *Server) Do(t testing.TB, method, path string, body any) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := s.Request(ctx, method, path, body)
	if err != nil {
		t.Fatalf("vault: %v", err)
	}
	return out
}
