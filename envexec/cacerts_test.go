package envexec

import (
	"encoding/pem"
	"strings"
	"testing"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// settings.CACerts keeps certificates only, re-encoded from what was parsed: comments, headers,
// private keys and other blocks of a platform's bundle never reach a pod.
func TestCACertsKeepsOnlyCertificates(t *testing.T) {
	t.Parallel()
	a, b := newTestCA(t, "platform CA 1"), newTestCA(t, "platform CA 2")
	key := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("private-key-canary")})
	withHeader := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Comment": "header-canary"}, Bytes: b.cert.Raw})
	bundle := "# comment-canary\n" + string(a.pem) + string(key) + "between-canary\n" + string(withHeader)

	got, err := settings.CACerts([]byte(bundle))
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
	s, err := settings.ParseSettings([]string{settings.EnvVaultAddr + "=https://v", settings.EnvRole + "=r", settings.EnvCACerts + "=" + got})
	if err != nil || len(s.CACerts) != 2 || !s.CACerts[1].Equal(b.cert) {
		t.Errorf("envexec does not read back what CACerts wrote: %v, %d certificates", err, len(s.CACerts))
	}
}

func TestCACertsErrors(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "platform CA")
	big := strings.Repeat(string(ca.pem), settings.MaxCACerts/len(ca.pem)+1)
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
			if _, err := settings.CACerts([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("settings.CACerts error %v, want %q", err, tc.want)
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
		"too large":     {strings.Repeat(" ", settings.MaxCACerts+1), "65537 bytes, more than 65536"},
		"blank":         {" \n", "holds no PEM certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := settings.CheckSetting(settings.EnvCACerts, tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("settings.CheckSetting(%s) error %v, want %q", settings.EnvCACerts, err, tc.want)
			}
		})
	}
	if err := settings.CheckSetting(settings.EnvCACerts, string(ca.pem)); err != nil {
		t.Errorf("a certificate is refused: %v", err)
	}
}
