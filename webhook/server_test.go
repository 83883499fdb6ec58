package webhook_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/vault-injector/vault-injector/internal/buildinfo"
	"github.com/vault-injector/vault-injector/internal/loopback"
	"github.com/vault-injector/vault-injector/webhook"
)

// TestServe runs the real server over real TLS: probes, an admission review, metrics, and
// a certificate rotation picked up without a restart.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	serial := writeCert(t, dir, 1)
	cfg := testConfig(t)
	cfg.WebhookHost, cfg.WebhookPort = "127.0.0.1", freePort(t)
	cfg.CertDir = dir
	cfg.ProbeAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg.MetricsAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))

	ctx := t.Context()
	done := make(chan error, 1)
	go func() { done <- webhook.Serve(ctx, cfg, logr.Discard()) }()

	waitFor(t, done, "readyz", func() bool { return get(t, "http://"+cfg.ProbeAddr+"/readyz") == "ok" })
	if got := get(t, "http://"+cfg.ProbeAddr+"/healthz"); got != "ok" {
		t.Errorf("healthz = %q", got)
	}
	for _, url := range []string{"http://" + cfg.ProbeAddr + "/healthz", "http://" + cfg.MetricsAddr + "/metrics"} {
		if code := getWithHeader(t, url, strings.Repeat("x", 64<<10)); code != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s with a 64 KiB header: status %d, want 431", url, code)
		}
	}

	addr := net.JoinHostPort(cfg.WebhookHost, strconv.Itoa(cfg.WebhookPort))
	if got := servedSerial(t, addr); got != serial {
		t.Fatalf("served serial %d, want %d", got, serial)
	}
	if out := admit(t, addr); !strings.Contains(out, `"uid":"u1","allowed":true`) || !strings.Contains(out, `"patch":`) {
		t.Errorf("admission response = %s", out)
	}
	metrics := get(t, "http://"+cfg.MetricsAddr+"/metrics")
	info := buildinfo.Read()
	buildInfo := fmt.Sprintf(`vault_injector_build_info{commit=%q,go_version=%q,version=%q} 1`, info.Commit, info.GoVersion, info.Version)
	for _, want := range []string{`vault_injector_admission_requests_total{outcome="mutated"} 1`, "vault_injector_admission_duration_seconds_bucket", "certwatcher_read_certificate_total 1", "go_goroutines", "process_resident_memory_bytes", buildInfo} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	rotated := writeCert(t, dir, 2)
	waitFor(t, done, "rotated certificate", func() bool { return servedSerial(t, addr) == rotated })
}

// TestServeDrains stops the server as the kubelet stops a replica: once its context ends,
// /readyz fails while admissions are still answered, and only after the shutdown delay
// does the port close.
func TestServeDrains(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, 1)
	cfg := testConfig(t)
	cfg.WebhookHost, cfg.WebhookPort = "127.0.0.1", freePort(t)
	cfg.CertDir, cfg.MetricsAddr = dir, "0"
	cfg.ProbeAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg.ShutdownDelay = 3 * time.Second

	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- webhook.Serve(ctx, cfg, logr.Discard()) }()
	waitFor(t, done, "readyz", func() bool { return get(t, "http://"+cfg.ProbeAddr+"/readyz") == "ok" })
	stop()
	waitFor(t, done, "readyz failing", func() bool { return get(t, "http://"+cfg.ProbeAddr+"/readyz") == "webhook server stopping\n" })
	addr := net.JoinHostPort(cfg.WebhookHost, strconv.Itoa(cfg.WebhookPort))
	if out := admit(t, addr); !strings.Contains(out, `"allowed":true`) {
		t.Errorf("admission while stopping = %s, want it answered", out)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the server did not stop after its shutdown delay")
	}
	if c, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", addr); err == nil {
		_ = c.Close()
		t.Error("the admission port still accepts connections after Serve returned")
	}
}

// TestServeFailureSkipsDrain: a component that fails (here the probe port is taken) stops
// the server without the shutdown delay, which is for a replica told to stop.
func TestServeFailureSkipsDrain(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, 1)
	taken, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := testConfig(t)
	cfg.WebhookHost, cfg.WebhookPort = "127.0.0.1", freePort(t)
	cfg.CertDir, cfg.MetricsAddr, cfg.ProbeAddr = dir, "0", taken.Addr().String()
	cfg.ShutdownDelay = time.Minute

	done := make(chan error, 1)
	go func() { done <- webhook.Serve(t.Context(), cfg, logr.Discard()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "listen probes") {
			t.Fatalf("Serve = %v, want the probe listener's error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve still running: a failed component waited for the shutdown delay")
	}
}

// reviewBody is the review of a pod with a command (no image lookup), with uid u1.
func reviewBody() string {
	return `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",
		"kind":{"version":"v1","kind":"Pod"},"resource":{"version":"v1","resource":"pods"},"namespace":"shop",
		"operation":"CREATE","object":` + string(podJSON(`{}`, `"command":["/app"],`)) + `}}`
}

// admit sends one admission review of a pod with a command and returns the response body.
func admit(t *testing.T, addr string) string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://"+addr+webhook.MutatePath, strings.NewReader(reviewBody()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return string(out)
}

func waitFor(t *testing.T, done <-chan error, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		select {
		case err := <-done:
			t.Fatalf("server stopped while waiting for %s: %v", what, err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// getWithHeader GETs url with one header of the given value and returns the status.
func getWithHeader(t *testing.T, url, value string) int {
	t.Helper()
	code, _, err := fetch(t, url, value)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// get is url's body, or "" when the server cannot be reached.
func get(t *testing.T, url string) string {
	t.Helper()
	_, body, err := fetch(t, url, "")
	if err != nil {
		return ""
	}
	return body
}

// fetch GETs url, with an X-Big header when big is not empty.
func fetch(t *testing.T, url, big string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if big != "" {
		req.Header.Set("X-Big", big)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func servedSerial(t *testing.T, addr string) int64 {
	t.Helper()
	d := &tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}
	conn, err := d.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		return -1
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func freePort(t *testing.T) int {
	t.Helper()
	port, err := loopback.FreePort(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// writeCert writes a self-signed serving certificate with the given serial, atomically.
func writeCert(t *testing.T, dir string, serial int64) int64 {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "vault-injector"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{"tls.crt": {Type: "CERTIFICATE", Bytes: der}, "tls.key": {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d", name, serial))
		if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return serial
}

// testCA is a CA that issues client certificates for TestServeClientCA.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// client issues a client certificate, as an apiserver's AdmissionConfiguration holds one.
func (ca *testCA) client(t *testing.T, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestServeClientCA runs the real server over real TLS with --client-ca-file: a caller
// without a certificate, or with one from another CA or not meant for clients, is refused
// in the handshake; one from the CA is served; the probes and metrics need none; and a new
// CA in the file takes over without a restart.
func TestServeClientCA(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, 1)
	apiserverCA, otherCA := newTestCA(t, "apiserver client CA"), newTestCA(t, "someone else")
	caFile := filepath.Join(t.TempDir(), "client-ca.crt")
	writeFileAtomic(t, caFile, apiserverCA.pem)
	cfg := testConfig(t)
	cfg.WebhookHost, cfg.WebhookPort = "127.0.0.1", freePort(t)
	cfg.CertDir, cfg.ClientCAFile = dir, caFile
	cfg.ProbeAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg.MetricsAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	done := make(chan error, 1)
	go func() { done <- webhook.Serve(t.Context(), cfg, logr.Discard()) }()
	waitFor(t, done, "readyz without a client certificate", func() bool { return get(t, "http://"+cfg.ProbeAddr+"/readyz") == "ok" })
	if !strings.Contains(get(t, "http://"+cfg.MetricsAddr+"/metrics"), "vault_injector_") {
		t.Error("metrics need a client certificate")
	}

	addr := net.JoinHostPort(cfg.WebhookHost, strconv.Itoa(cfg.WebhookPort))
	post := func(certs ...tls.Certificate) (string, error) {
		c := &http.Client{Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, Certificates: certs},
			DisableKeepAlives: true,
		}}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://"+addr+webhook.MutatePath, strings.NewReader(reviewBody()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		return string(out), err
	}
	refused := map[string][]tls.Certificate{
		"no certificate":                 nil,
		"a certificate from another CA":  {otherCA.client(t, x509.ExtKeyUsageClientAuth)},
		"a server certificate of the CA": {apiserverCA.client(t, x509.ExtKeyUsageServerAuth)},
	}
	wantAlert := map[string]string{"no certificate": "certificate required", "a certificate from another CA": "bad certificate", "a server certificate of the CA": "bad certificate"}
	for name, certs := range refused {
		out, err := post(certs...)
		if err == nil || !strings.Contains(err.Error(), wantAlert[name]) {
			t.Errorf("%s: served (%v) %.100s, want the handshake refused with %q", name, err, out, wantAlert[name])
		}
	}
	out, err := post(apiserverCA.client(t, x509.ExtKeyUsageClientAuth))
	if err != nil || !strings.Contains(out, `"uid":"u1","allowed":true`) {
		t.Fatalf("certificate from the CA: %v %.300s, want the review answered", err, out)
	}

	// The platform rotates the client CA: the file changes, the server follows.
	writeFileAtomic(t, caFile, otherCA.pem)
	waitFor(t, done, "the new client CA", func() bool {
		_, err := post(otherCA.client(t, x509.ExtKeyUsageClientAuth))
		return err == nil
	})
	if _, err := post(apiserverCA.client(t, x509.ExtKeyUsageClientAuth)); err == nil {
		t.Error("a certificate of the replaced CA is still served")
	}

	// Without its bundle the server does not start: serving unauthenticated instead would
	// be worse than not serving.
	cfg.ClientCAFile = filepath.Join(t.TempDir(), "missing.crt")
	cfg.WebhookPort = freePort(t)
	if err := webhook.Serve(t.Context(), cfg, logr.Discard()); err == nil || !strings.Contains(err.Error(), "client CA file") {
		t.Errorf("missing client CA file: err = %v, want a start-up error", err)
	}
}

func writeFileAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
