package certs

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestExpiryCollector reports the NotAfter of the file's certificate, and nothing while
// the file is missing.
func TestExpiryCollector(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "tls.crt")
	c := NewExpiryCollector(file)
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("missing file: %d metrics, want 0", n)
	}
	m, _, err := testOptions().plan(nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, m.serving.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, want := testutil.ToFloat64(c), float64(m.serving.cert.NotAfter.Unix()); got != want {
		t.Errorf("expiry %v, want %v", got, want)
	}
}
