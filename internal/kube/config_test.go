package kube

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

// envOf is a getenv over a fixed environment.
func envOf(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLoadConfigMergesKubeconfigs: the files KUBECONFIG lists merge as kubectl merges
// them (the first to name an entry or the current context wins, a missing file is
// skipped), and relative paths are read from the file's own directory.
func TestLoadConfigMergesKubeconfigs(t *testing.T) {
	t.Parallel()
	dir, other := t.TempDir(), t.TempDir()
	write(t, filepath.Join(other, "ca.pem"), "the-ca")
	write(t, filepath.Join(other, "token"), "the-token")
	write(t, filepath.Join(dir, "first"), `
current-context: mine
contexts:
- name: mine
  context: {cluster: c, user: u}
`)
	write(t, filepath.Join(other, "second"), `
current-context: theirs
contexts:
- name: mine
  context: {cluster: wrong, user: wrong}
- name: theirs
  context: {cluster: wrong, user: wrong}
clusters:
- name: c
  cluster: {server: "https://10.0.0.1:6443", certificate-authority: ca.pem, tls-server-name: api.local}
users:
- name: u
  user: {tokenFile: token}
`)
	list := strings.Join([]string{filepath.Join(dir, "first"), filepath.Join(dir, "missing"), filepath.Join(other, "second")}, string(os.PathListSeparator))
	cfg, err := loadConfig(envOf(map[string]string{"KUBECONFIG": list, "KUBERNETES_SERVICE_HOST": "10.9.9.9", "KUBERNETES_SERVICE_PORT": "443"}), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://10.0.0.1:6443" || cfg.CAFile != filepath.Join(other, "ca.pem") || cfg.ServerName != "api.local" || cfg.TokenFile != filepath.Join(other, "token") || cfg.Token != "" {
		t.Errorf("config %+v", cfg)
	}
}

// TestLoadConfigInCluster: without a kubeconfig, the pod's service account: the
// apiserver's Service from the environment, its CA and the token file, read per request.
func TestLoadConfigInCluster(t *testing.T) {
	t.Parallel()
	sa := t.TempDir()
	write(t, filepath.Join(sa, "ca.crt"), "cluster-ca")
	home := t.TempDir() // no .kube/config in it
	cfg, err := loadConfig(envOf(map[string]string{"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}), home, sa)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://[fd00::1]:443" || cfg.CAFile != filepath.Join(sa, "ca.crt") || cfg.TokenFile != filepath.Join(sa, "token") {
		t.Errorf("config %+v", cfg)
	}
	if _, err := loadConfig(envOf(nil), home, sa); err != errNoCluster { //nolint:errorlint // returned as is
		t.Errorf("no kubeconfig, no service: %v, want %v", err, errNoCluster)
	}
	if _, err := loadConfig(envOf(map[string]string{"KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "1"}), home, t.TempDir()); err == nil || !strings.Contains(err.Error(), "ca.crt") {
		t.Errorf("no CA mounted: %v", err)
	}
}

// TestKubeconfigRefusesWhatItCannotHonour: a user with a credential plugin, basic auth or
// impersonation is refused by name, never connected as somebody else, and the error
// holds none of the file's secrets.
func TestKubeconfigRefusesWhatItCannotHonour(t *testing.T) {
	t.Parallel()
	for name, user := range map[string]string{
		"exec":          `{exec: {command: /bin/secret-helper, apiVersion: client.authentication.k8s.io/v1}}`,
		"auth-provider": `{auth-provider: {name: oidc, config: {id-token: canary-secret}}}`,
		"basic":         `{username: admin, password: canary-secret}`,
		"as":            `{token: canary-secret, as: someone-else}`,
		"as-uid":        `{token: canary-secret, as-uid: "1234"}`,
	} {
		_, err := ConfigFromKubeconfig([]byte(`
current-context: x
contexts: [{name: x, context: {cluster: c, user: ` + name + `}}]
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: ` + name + `, user: ` + user + `}]
`))
		if err == nil || !strings.Contains(err.Error(), `user "`+name+`"`) || strings.Contains(err.Error(), "canary-secret") {
			t.Errorf("%s: %v", name, err)
		}
	}
	for what, doc := range map[string]string{
		"no context":      `{current-context: nope, contexts: [{name: x, context: {cluster: c}}]}`,
		"no cluster":      `{current-context: x, contexts: [{name: x, context: {cluster: c}}]}`,
		"no such user":    `{current-context: x, contexts: [{name: x, context: {cluster: c, user: typo}}], clusters: [{name: c, cluster: {server: "https://h"}}], users: [{name: u, user: {token: canary-secret}}]}`,
		"not YAML":        "current-context: [canary-secret",
		"unreadable file": `{current-context: x, contexts: [{name: x, context: {cluster: c}}], clusters: [{name: c, cluster: {server: "https://h", certificate-authority: /nonexistent/ca}}]}`,
	} {
		if _, err := ConfigFromKubeconfig([]byte(doc)); err == nil || strings.Contains(err.Error(), "canary-secret") {
			t.Errorf("%s: %v", what, err)
		}
	}
	if _, err := New(&Config{Host: "https://h", CertData: []byte("x"), KeyData: []byte("canary-secret")}); err == nil || strings.Contains(err.Error(), "canary-secret") {
		t.Errorf("a broken client key: %v", err)
	}
	if _, err := New(&Config{Host: "https://h", CAData: []byte("not pem")}); err == nil {
		t.Error("a CA bundle without a certificate was taken")
	}
	if _, err := New(&Config{Host: "https://h", CAData: []byte("pem"), Insecure: true}); err == nil {
		t.Error("insecure-skip-tls-verify with a CA was taken, which kubectl refuses")
	}
}

// TestTokenFileIsReadAgain: a renewed token file is used from the next request on, and a
// token file that goes missing keeps the last token, as the kubelet swaps it in place.
func TestTokenFileIsReadAgain(t *testing.T) {
	t.Parallel()
	seen := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.UserAgent() != "vault-injector" {
			seen <- "user agent " + r.UserAgent()
			return
		}
		seen <- r.Header.Get("Authorization")
		http.Error(w, "{}", http.StatusNotFound)
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "token")
	c, err := New(&Config{Host: srv.URL, TokenFile: file})
	if err != nil {
		t.Fatal(err)
	}
	get := func() string {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, http.NoBody)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return "error: " + err.Error()
		}
		resp.Body.Close()
		return <-seen
	}
	if got := get(); !strings.HasPrefix(got, "error: ") || !strings.Contains(got, file) {
		t.Errorf("no token file yet: %q, want an error naming the file", got)
	}
	write(t, file, "first\n")
	if got := get(); got != "Bearer first" {
		t.Errorf("got %q", got)
	}
	write(t, file, "second")
	past := time.Now().Add(time.Minute) // a rewrite of the same size within the clock's grain still counts
	if err := os.Chtimes(file, past, past); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != "Bearer second" {
		t.Errorf("after renewal: %q", got)
	}
	write(t, file, "")
	if got := get(); got != "Bearer second" {
		t.Errorf("file caught empty: %q, want the last token", got)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != "Bearer second" {
		t.Errorf("file gone: %q, want the last token", got)
	}
}

// TestNoRedirectCarriesTheToken: an answer that redirects elsewhere is an error, and the
// token never reaches the other host (Go's client drops the header it set itself, not the
// one a transport sets).
func TestNoRedirectCarriesTheToken(t *testing.T) {
	t.Parallel()
	leaked := make(chan string, 1)
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer elsewhere.Close()
	elsewhere.Config.Handler = http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		leaked <- r.Header.Get("Authorization")
	})
	apiserver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer apiserver.Close()
	c, err := New(&Config{Host: apiserver.URL, Token: "canary-token"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Get(t.Context(), types.NamespacedName{Namespace: "ns", Name: "pull"}, &corev1.Secret{})
	if err == nil || strings.Contains(err.Error(), "canary-token") {
		t.Errorf("a redirect: %v, want an error without the token", err)
	}
	select {
	case got := <-leaked:
		t.Errorf("the redirect was followed, with Authorization %q", got)
	default:
	}
}

// TestCAFileIsReadAgain: the client trusts the CA file as it is now: a rotated cluster CA
// is used from the next request on, without a restart, and a file caught mid-write keeps
// the CA that worked.
func TestCAFileIsReadAgain(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "{}", http.StatusNotFound)
	}))
	defer srv.Close()
	serverCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	file := filepath.Join(t.TempDir(), "ca.crt")
	write(t, file, string(otherCA(t)))
	c, err := New(&Config{Host: srv.URL, CAFile: file})
	if err != nil {
		t.Fatal(err)
	}
	get := func() error {
		err := c.Get(t.Context(), types.NamespacedName{Namespace: "ns", Name: "s"}, &corev1.Secret{})
		if apierrors.IsNotFound(err) {
			return nil // the server answered: its certificate was trusted
		}
		return err
	}
	if err := get(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("with another CA: %v, want an untrusted certificate", err)
	}
	rotate := func(content string, at time.Time) {
		t.Helper()
		write(t, file, content)
		if err := os.Chtimes(file, at, at); err != nil {
			t.Fatal(err)
		}
	}
	rotate(string(serverCA), time.Now().Add(time.Minute))
	if err := get(); err != nil {
		t.Fatalf("after the CA rotated: %v", err)
	}
	rotate("-----BEGIN CERTIF", time.Now().Add(2*time.Minute))
	if err := get(); err != nil {
		t.Fatalf("with the file caught mid-write: %v, want the last good CA", err)
	}
}

// otherCA is a PEM certificate that signed nothing the test servers use.
func otherCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
