package envexec

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

// CACerts keeps certificates only, re-encoded from what was parsed: comments, headers,
// private keys and other blocks of a platform's bundle never reach a pod.
func TestCACertsKeepsOnlyCertificates(t *testing.T) {
	t.Parallel()
	a, b := newTestCA(t, "platform CA 1"), newTestCA(t, "platform CA 2")
	key := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("private-key-canary")})
	withHeader := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Comment": "header-canary"}, Bytes: b.cert.Raw})
	bundle := "# comment-canary\n" + string(a.pem) + string(key) + "between-canary\n" + string(withHeader)

	got, err := CACerts([]byte(bundle))
	if err != nil {
		t.Fatal(err)
	}
	if want := string(a.pem) + string(b.pem); got != want {
		t.Errorf("CACerts =\n%s\nwant the two certificates alone:\n%s", got, want)
	}
	for _, canary := range []string{"comment-canary", "PRIVATE KEY", "between-canary", "header-canary"} {
		if strings.Contains(got, canary) {
			t.Errorf("CACerts kept %q", canary)
		}
	}
	var s Settings
	if err := parseCACerts(&s, got); err != nil || len(s.CACerts) != 2 || !s.CACerts[1].Equal(b.cert) {
		t.Errorf("envexec does not read back what CACerts wrote: %v, %d certificates", err, len(s.CACerts))
	}
}

func TestCACertsErrors(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "platform CA")
	big := strings.Repeat(string(ca.pem), MaxCACerts/len(ca.pem)+1)
	for name, tc := range map[string]struct {
		in, want string
	}{
		"empty":         {"", "holds no PEM certificate"},
		"text":          {"not a certificate", "holds no PEM certificate"},
		"key only":      {string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("k")})), "holds no PEM certificate"},
		"broken":        {string(ca.pem) + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})), "certificate 2 does not parse"},
		"system bundle": {big, "more than the 65536 an envexec setting may carry (an environment variable); give only the CAs that sign Vault's certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := CACerts([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CACerts error %v, want %q", err, tc.want)
			}
		})
	}
}

// ENVEXEC_CA_CERTS is read strictly: only what the webhook writes (certificate blocks),
// never a key or stray text that some other writer put there.
func TestParseCACertsStrict(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "platform CA")
	for name, tc := range map[string]struct {
		in, want string
	}{
		"trailing text": {string(ca.pem) + "junk", "text after certificate 1 is not a PEM block"},
		"leading text":  {"junk\n" + string(ca.pem), "text after certificate 0 is not a PEM block"},
		"a key":         {string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("k")})), `block 1 is a "PRIVATE KEY", want CERTIFICATE without headers`},
		"broken":        {string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})), "certificate 1 does not parse"},
		"too large":     {strings.Repeat(" ", MaxCACerts+1), "65537 bytes, more than 65536"},
		"blank":         {" \n", "holds no PEM certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := CheckSetting(EnvCACerts, tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckSetting(%s) error %v, want %q", EnvCACerts, err, tc.want)
			}
		})
	}
	if err := CheckSetting(EnvCACerts, string(ca.pem)); err != nil {
		t.Errorf("a certificate is refused: %v", err)
	}
}

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
	conf, err := tlsConfig(Settings{CAFile: writeFile(t, string(pod.pem)), CACerts: []*x509.Certificate{platform.cert}})
	if err != nil {
		t.Fatal(err)
	}
	if !conf.RootCAs.Equal(want) {
		t.Error("RootCAs is not the system roots plus the CA file plus the CA certs")
	}
}
