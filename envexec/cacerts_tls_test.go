package envexec

import (
	"crypto/x509"
	"testing"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// ENVEXEC_CA_CERTS adds to the system roots (and to ENVEXEC_CA_FILE), never replaces them.
func TestTLSConfigAddsCACertsToSystemRoots(t *testing.T) {
	t.Parallel()
	platform, pod := newTestCA(t, "platform CA"), newTestCA(t, "pod CA")
	system, err := x509.SystemCertPool()
	if err != nil {
		t.Skipf("no system roots to add to: %v", err)
	}
	want := system.Clone()
	want.AddCert(pod.cert)
	want.AddCert(platform.cert)
	conf, err := tlsConfig(settings.Settings{CAFile: writeFile(t, string(pod.pem)), CACerts: []*x509.Certificate{platform.cert}})
	if err != nil {
		t.Fatal(err)
	}
	if !conf.RootCAs.Equal(want) {
		t.Error("RootCAs is not the system roots plus the CA file plus the CA certs")
	}
}
