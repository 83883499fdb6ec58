package certs

import (
	"bytes"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// testOptions are the options plan reads, with the defaults New would set.
func testOptions() Options {
	return Options{
		Namespace: "infra", SecretName: "s", ServiceName: "vi", WebhookConfigName: "vi", CertDir: "/x",
		CAValidity: DefaultCAValidity, CertValidity: DefaultCertValidity, ClusterDomain: DefaultClusterDomain,
	}
}

// verify checks certPEM against bundle as the apiserver does: for name, at a time.
func verify(bundle, certPEM []byte, name string, at time.Time) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		return errors.New("empty bundle")
	}
	certs, err := parseCerts(certPEM)
	if err != nil {
		return err
	}
	_, err = certs[0].Verify(x509.VerifyOptions{
		Roots: pool, DNSName: name, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

// TestPlan walks a certificate through its life: stored data is kept while sound, and
// replaced (with the reason) when due, broken or for another Service.
func TestPlan(t *testing.T) {
	t.Parallel()
	o := testOptions()
	fresh, reason, err := o.plan(nil, t0)
	if err != nil || reason != "no certificate yet" {
		t.Fatalf("plan(nil) = %q, %v", reason, err)
	}
	year := 365 * 24 * time.Hour
	garbage := func(key string) map[string][]byte {
		d := fresh.data()
		d[key] = []byte("garbage")
		return d
	}
	otherService := o
	otherService.ServiceName = "renamed"
	cases := map[string]struct {
		opts                  Options
		data                  map[string][]byte
		at                    time.Time
		reason                string // substring; "" means kept as is
		sameCA, sameServing   bool
		bundleLen             int
		previousCAInBundleNth int // index of the old CA in the bundle, -1 if absent
	}{
		"fresh":                  {o, fresh.data(), t0.Add(time.Hour), "", true, true, 1, -1},
		"half a year":            {o, fresh.data(), t0.Add(year / 2), "", true, true, 1, -1},
		"serving due":            {o, fresh.data(), t0.Add(year * 2 / 3), "certificate due for renewal", true, false, 1, -1},
		"serving expired":        {o, fresh.data(), t0.Add(2 * year), "certificate due for renewal", true, false, 1, -1},
		"ca due":                 {o, fresh.data(), t0.Add(5 * year * 2 / 3), "CA due for renewal", false, false, 2, 1},
		"ca expired":             {o, fresh.data(), t0.Add(6 * year), "CA due for renewal", false, false, 1, -1},
		"garbage serving cert":   {o, garbage(corev1.TLSCertKey), t0, "unusable certificate", true, false, 1, -1},
		"garbage serving key":    {o, garbage(corev1.TLSPrivateKeyKey), t0, "unusable certificate", true, false, 1, -1},
		"garbage ca":             {o, garbage(KeyCACert), t0, "unusable CA", false, false, 2, 1}, // the stored bundle's CA is still valid
		"garbage bundle":         {o, garbage(KeyCABundle), t0, "CA bundle out of date", true, true, 1, -1},
		"other service":          {otherService, fresh.data(), t0, "DNS names differ", true, false, 1, -1},
		"serving key swapped":    {o, swap(fresh.data()), t0, "unusable", false, false, 2, 1},
		"empty secret (no keys)": {o, map[string][]byte{}, t0, "unusable CA", false, false, 1, -1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, reason, err := tc.opts.plan(tc.data, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			if tc.reason == "" && reason != "" || !strings.Contains(reason, tc.reason) {
				t.Errorf("reason %q, want %q", reason, tc.reason)
			}
			if s := bytes.Equal(got.ca.certPEM, tc.data[KeyCACert]); s != tc.sameCA {
				t.Errorf("same CA = %v, want %v", s, tc.sameCA)
			}
			if s := bytes.Equal(got.serving.certPEM, tc.data[corev1.TLSCertKey]); s != tc.sameServing {
				t.Errorf("same serving certificate = %v, want %v", s, tc.sameServing)
			}
			checkMaterial(t, got, tc.opts, tc.at)
			bundle, err := parseCerts(got.bundle)
			if err != nil {
				t.Fatal(err)
			}
			if len(bundle) != tc.bundleLen || !bundle[0].Equal(got.ca.cert) {
				t.Errorf("bundle has %d certificates (first is the CA: %v), want %d", len(bundle), bundle[0].Equal(got.ca.cert), tc.bundleLen)
			}
			if tc.previousCAInBundleNth >= 0 && !bytes.Contains(got.bundle, fresh.ca.certPEM) {
				t.Errorf("the replaced CA is not in the bundle")
			}
		})
	}
}

// swap puts the CA's key beside the serving certificate and the other way round.
func swap(d map[string][]byte) map[string][]byte {
	d[KeyCAKey], d[corev1.TLSPrivateKeyKey] = d[corev1.TLSPrivateKeyKey], d[KeyCAKey]
	return d
}

// checkMaterial verifies the serving certificate against the bundle for the name the
// apiserver uses, and checks the certificates' shape.
func checkMaterial(t *testing.T, m *material, o Options, at time.Time) {
	t.Helper()
	if err := verify(m.bundle, m.serving.certPEM, "vi.infra.svc", at); err != nil && o.ServiceName == "vi" {
		t.Errorf("serving certificate does not verify: %v", err)
	}
	if !m.ca.cert.IsCA || !m.ca.cert.MaxPathLenZero || m.serving.cert.IsCA {
		t.Errorf("CA flags: ca.IsCA=%v maxPathLenZero=%v serving.IsCA=%v", m.ca.cert.IsCA, m.ca.cert.MaxPathLenZero, m.serving.cert.IsCA)
	}
	if m.serving.cert.NotAfter.After(m.ca.cert.NotAfter) {
		t.Errorf("serving certificate outlives its CA")
	}
}

// TestPlanClampsToCA: a serving certificate never outlives the CA that signed it.
func TestPlanClampsToCA(t *testing.T) {
	t.Parallel()
	o := testOptions()
	o.CAValidity, o.CertValidity = 48*time.Hour, 48*time.Hour
	m, _, err := o.plan(nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !m.serving.cert.NotAfter.Equal(m.ca.cert.NotAfter) {
		t.Errorf("serving NotAfter %s, CA NotAfter %s", m.serving.cert.NotAfter, m.ca.cert.NotAfter)
	}
}

// TestBundleDropsExpiredCA: the replaced CA stays trusted only while it is valid.
func TestBundleDropsExpiredCA(t *testing.T) {
	t.Parallel()
	o := testOptions()
	first, _, err := o.plan(nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	renewed, _, err := o.plan(first.data(), t0.Add(o.CAValidity*2/3))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(renewed.bundle, []byte("BEGIN CERTIFICATE")); n != 2 {
		t.Fatalf("bundle after CA renewal has %d certificates, want 2", n)
	}
	later, reason, err := o.plan(renewed.data(), first.ca.cert.NotAfter.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if reason == "" || !bytes.Equal(later.bundle, renewed.ca.certPEM) {
		t.Errorf("after the old CA expired: reason %q, bundle == current CA: %v", reason, bytes.Equal(later.bundle, renewed.ca.certPEM))
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	_, err := Options{CertValidity: 2 * time.Hour, CAValidity: time.Hour, ExtraSANs: []string{"127.0.0.1", "*.example.com", "not a name"}}.withDefaults()
	for _, want := range []string{"client", "namespace", "secret name", "service name", "webhook configuration name", "certificate folder", "exceeds the CA validity", `extra SAN "not a name"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	if strings.Count(err.Error(), "extra SAN") != 1 {
		t.Errorf("error %v: want only the malformed SAN reported", err)
	}
	if got := testOptions().names(); strings.Join(got.dns, " ") != "vi vi.infra vi.infra.svc vi.infra.svc.cluster.local" || got.ips != nil {
		t.Errorf("names = %q %v", got.dns, got.ips)
	}
}

// TestPlanExtraSANs: the certificate also covers the extra DNS names and IP addresses,
// so an apiserver calling https://127.0.0.1:PORT verifies it, and changing them renews it.
func TestPlanExtraSANs(t *testing.T) {
	t.Parallel()
	o := testOptions()
	o.ExtraSANs = []string{"127.0.0.1", "webhook.example.com", "::1"}
	m, _, err := o.plan(nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"vi.infra.svc", "127.0.0.1", "webhook.example.com", "::1"} {
		if err := verify(m.bundle, m.serving.certPEM, name, t0); err != nil {
			t.Errorf("certificate for %s: %v", name, err)
		}
	}
	if err := verify(m.bundle, m.serving.certPEM, "127.0.0.2", t0); err == nil {
		t.Error("the certificate verifies for an address it was not made for")
	}
	if m.serving.cert.Subject.CommonName != "vi.infra.svc" {
		t.Errorf("common name %q, want the Service's", m.serving.cert.Subject.CommonName)
	}
	otherIP, noExtras := o, o
	otherIP.ExtraSANs = []string{"127.0.0.2", "webhook.example.com", "::1"}
	noExtras.ExtraSANs = nil
	for name, tc := range map[string]struct {
		opts   Options
		reason string
	}{
		"same":      {o, ""},
		"other IP":  {otherIP, "IP addresses differ"},
		"no extras": {noExtras, "DNS names differ"},
	} {
		_, reason, err := tc.opts.plan(m.data(), t0.Add(time.Hour))
		if err != nil || (tc.reason == "") != (reason == "") || !strings.Contains(reason, tc.reason) {
			t.Errorf("%s: reason %q, %v; want %q", name, reason, err, tc.reason)
		}
	}
}

// TestPlanShortValidity: a short-lived certificate is renewed after two thirds of its
// validity, not at once (its NotBefore lies an hour back, which must not count).
func TestPlanShortValidity(t *testing.T) {
	t.Parallel()
	o := testOptions()
	o.CAValidity, o.CertValidity = time.Hour, 15*time.Second
	m, _, err := o.plan(nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		after  time.Duration
		reason string
	}{
		{0, ""},
		{9 * time.Second, ""},
		{10 * time.Second, "certificate due for renewal"},
		{39 * time.Minute, "certificate due for renewal"},
		{40 * time.Minute, "CA due for renewal"},
	} {
		_, reason, err := o.plan(m.data(), t0.Add(tc.after))
		if err != nil || reason != tc.reason {
			t.Errorf("after %s: reason %q, %v; want %q", tc.after, reason, err, tc.reason)
		}
	}
}
