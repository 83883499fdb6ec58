package envexec

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

func TestTransient(t *testing.T) {
	t.Parallel()
	netErr := func(err error) error { return &transportError{&url.Error{Op: "Get", URL: "http://v/v1/x", Err: err}} }
	tests := map[string]struct {
		err  error
		want bool
	}{
		"connection refused": {netErr(syscall.ECONNREFUSED), true},
		"connection reset":   {netErr(syscall.ECONNRESET), true},
		"attempt timeout":    {netErr(fmt.Errorf("timeout: %w", errors.New("i/o timeout"))), true},
		"sealed 503":         {&statusError{code: 503, msgs: []string{"Vault is sealed"}}, true},
		"500":                {&statusError{code: 500}, true},
		"429":                {&statusError{code: 429}, true},
		"412":                {&statusError{code: 412}, true},
		"400 bad role":       {&statusError{code: 400}, false},
		"403 denied":         {&statusError{code: 403}, false},
		"404 missing":        {&statusError{code: 404}, false},
		"unknown authority":  {netErr(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), false},
		"hostname mismatch":  {netErr(x509.HostnameError{Host: "vault"}), false},
		"decoding":           {errors.New("decoding response"), false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := transient(tt.err); got != tt.want {
				t.Errorf("transient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for attempt := range 100 {
		d := backoff(attempt)
		ceiling := min(backoffMax, backoffBase<<min(attempt, 10))
		if d < ceiling/2 || d > ceiling {
			t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, ceiling/2, ceiling)
		}
	}
	if backoff(1000) > backoffMax || backoffMax > 5*time.Second {
		t.Error("backoff is not capped")
	}
}

func TestVaultErrorsScrubbed(t *testing.T) {
	t.Parallel()
	c := &client{sensitive: []string{"eyJhbGciOi.jwt.sig", "hvs.token"}}
	msgs := c.vaultErrors([]byte(`{"errors":["bad jwt eyJhbGciOi.jwt.sig", "token hvs.token expired", "3", "4"]}`))
	got := strings.Join(msgs, "|")
	if got != "bad jwt [redacted]|token [redacted] expired|3" {
		t.Errorf("vaultErrors = %q", got)
	}
	msgs = c.vaultErrors([]byte(`{"errors":["1 error occurred:\n\t* permission denied\n\n", "multi\n  line"]}`))
	if got := strings.Join(msgs, "|"); got != "permission denied|multi line" {
		t.Errorf("vaultErrors = %q, want flattened messages", got)
	}
	if c.vaultErrors([]byte("<html>bad gateway</html>")) != nil {
		t.Error("non-JSON bodies should give no messages")
	}
}

func TestRedactIgnoresEmpty(t *testing.T) {
	t.Parallel()
	c := &client{}
	c.redact("", "s.secret", "s.secret")
	if got := strings.Join(c.vaultErrors([]byte(`{"errors":["bad s.secret"]}`)), "|"); got != "bad [redacted]" || len(c.sensitive) != 1 {
		t.Errorf("vaultErrors = %q with %d sensitive strings", got, len(c.sensitive))
	}
}

// ENVEXEC_CA_FILE adds its CAs to the system roots instead of replacing them; without
// it the system roots apply (nil RootCAs).
func TestTLSConfigAddsCAFileToSystemRoots(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "platform CA")
	system, err := x509.SystemCertPool()
	if err != nil {
		t.Skipf("no system roots to add to: %v", err)
	}
	want := system.Clone()
	want.AddCert(ca.cert)
	conf, err := tlsConfig(settings.Settings{CAFile: writeFile(t, string(ca.pem))})
	if err != nil {
		t.Fatal(err)
	}
	if !conf.RootCAs.Equal(want) {
		t.Error("RootCAs is not the system roots plus the CA file")
	}
	onlyCA := x509.NewCertPool()
	onlyCA.AddCert(ca.cert)
	if conf.RootCAs.Equal(onlyCA) {
		t.Error("RootCAs is the CA file alone: the system roots were replaced")
	}
	if conf, err := tlsConfig(settings.Settings{}); err != nil || conf.RootCAs != nil || conf.InsecureSkipVerify {
		t.Errorf("without a CA file: RootCAs %v, skip %v, %v; want the system roots, verified", conf.RootCAs, conf.InsecureSkipVerify, err)
	}
}
