package certs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vault-injector/vault-injector/internal/metrics"
	"github.com/vault-injector/vault-injector/internal/metricstest"
)

// TestExpiryGauge reports the NotAfter of the file's certificate, read at each scrape, and
// no series while the file is missing or not a certificate.
func TestExpiryGauge(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "tls.crt")
	reg := metrics.NewRegistry()
	if err := reg.Register(ExpiryGauge(file)); err != nil {
		t.Fatal(err)
	}
	if v, ok := metricstest.Value(t, reg.Text(), ExpiryMetric); ok {
		t.Errorf("missing file: expiry %v, want no series", v)
	}
	m, _, err := testOptions().plan(nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, m.serving.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, ok := metricstest.Value(t, reg.Text(), ExpiryMetric); !ok || got != float64(m.serving.cert.NotAfter.Unix()) {
		t.Errorf("expiry %v (present %v), want %v", got, ok, m.serving.cert.NotAfter.Unix())
	}
	if err := os.WriteFile(file, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, ok := metricstest.Value(t, reg.Text(), ExpiryMetric); ok {
		t.Errorf("garbage file: expiry %v, want no series", v)
	}
}
