package vaultdev

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStartContextBadBinary(t *testing.T) {
	t.Parallel()
	if _, err := StartContext(t.Context(), filepath.Join(t.TempDir(), "vault"), nil); err == nil {
		t.Error("no error for a missing binary")
	}
}

func TestWithoutVault(t *testing.T) {
	t.Parallel()
	got := withoutVault([]string{"PATH=/bin", "VAULT_ADDR=x", "VAULT_TOKEN=y", "HOME=/root", "VAULTED=keep"})
	if strings.Join(got, " ") != "PATH=/bin VAULTED=keep" {
		t.Errorf("withoutVault = %q", got)
	}
}

func TestServer(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a vault binary (skipped with -short)")
	}
	t.Parallel()
	s := Start(t)
	if !strings.HasPrefix(s.Addr, "http://127.0.0.1:") || !strings.HasPrefix(s.RootToken, "root-") {
		t.Errorf("Addr %q, RootToken prefix %q", s.Addr, s.RootToken[:5])
	}
	if health := s.Do(t, "GET", "sys/health", nil); health["sealed"] != false || health["initialized"] != true {
		t.Errorf("health = %v", health)
	}
	if got := s.Do(t, "POST", "sys/mounts/kv1", map[string]any{"type": "kv", "options": map[string]string{"version": "1"}}); got != nil {
		t.Errorf("enabling a mount (204) returned %v, want nil", got)
	}
	s.Do(t, "POST", "kv1/app", map[string]string{"k": "v1"})
	s.Do(t, "POST", "secret/data/app", map[string]any{"data": map[string]string{"k": "v2"}})
	if got := s.Do(t, "GET", "kv1/app", nil)["data"].(map[string]any)["k"]; got != "v1" {
		t.Errorf("kv1 read = %v", got)
	}
	if got := s.Do(t, "GET", "/secret/data/app", nil)["data"].(map[string]any)["data"].(map[string]any)["k"]; got != "v2" {
		t.Errorf("kv2 read = %v", got)
	}
	_, err := s.Request(t.Context(), "GET", "secret/data/missing", nil)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing secret: %v, want a 404 error", err)
	}
	if _, err := os.Stat(filepath.Join(s.home, ".vault-token")); err == nil {
		t.Error("the dev server wrote ~/.vault-token")
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := os.Stat(s.home); !os.IsNotExist(err) {
		t.Errorf("HOME %s still exists after Stop: %v", s.home, err)
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", s.Addr+"/v1/sys/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := (&http.Client{Timeout: time.Second}).Do(req); err == nil {
		resp.Body.Close()
		t.Error("vault still answers after Stop")
	}
}

func TestServerTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a vault binary (skipped with -short)")
	}
	t.Parallel()
	s := StartWith(t, Options{TLS: true, SANs: []string{"192.0.2.7", "vault.example"}})
	if !strings.HasPrefix(s.Addr, "https://127.0.0.1:") || s.CAFile == "" {
		t.Fatalf("Addr %q, CAFile %q", s.Addr, s.CAFile)
	}
	cert := servedCertificate(t, s)
	if err := cert.VerifyHostname("192.0.2.7"); err != nil {
		t.Errorf("the extra IP SAN: %v", err)
	}
	if err := cert.VerifyHostname("vault.example"); err != nil {
		t.Errorf("the extra DNS SAN: %v", err)
	}
	if err := cert.VerifyHostname("192.0.2.8"); err == nil {
		t.Error("the certificate covers an address it was not given")
	}
	if health := s.Do(t, "GET", "sys/health", nil); health["sealed"] != false {
		t.Errorf("health = %v", health)
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", s.Addr+"/v1/sys/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req); err == nil {
		resp.Body.Close()
		t.Error("a client without the dev CA trusted the server")
	}
}

// servedCertificate is the leaf certificate s presents, verified against its CAFile.
func servedCertificate(t *testing.T, s *Server) *x509.Certificate {
	t.Helper()
	pemData, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		t.Fatal("no certificate in CAFile")
	}
	d := &tls.Dialer{Config: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(t.Context(), "tcp", strings.TrimPrefix(s.Addr, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0]
}

// TestServerMountsWhatTheTestsUse mounts every auth method and engine the tests use on the
// server FindBinary gives: on a minimal build, Kubernetes auth and the PostgreSQL database
// plugin are external plugins that Start must have registered.
func TestServerMountsWhatTheTestsUse(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a vault binary (skipped with -short)")
	}
	t.Parallel()
	s := Start(t)
	for _, m := range []string{"auth/kubernetes", "auth/jwt", "auth/approle", "mounts/pki", "mounts/transit", "mounts/database"} {
		s.Do(t, "POST", "sys/"+m, map[string]string{"type": path.Base(m)})
	}
	const host = "https://192.0.2.1:6443"
	s.Do(t, "POST", "auth/kubernetes/config", map[string]any{"kubernetes_host": host, "disable_local_ca_jwt": true})
	if got := s.Do(t, "GET", "auth/kubernetes/config", nil)["data"].(map[string]any)["kubernetes_host"]; got != host {
		t.Errorf("kubernetes auth config: kubernetes_host = %v, want %s", got, host)
	}
	// Configuring a connection starts the plugin; nothing listens there, so it is not
	// verified (envexec's database lease test uses a real PostgreSQL).
	s.Do(t, "POST", "database/config/pg", map[string]any{
		"plugin_name": "postgresql-database-plugin", "verify_connection": false, "allowed_roles": "app",
		"connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:1/app", "username": "u", "password": "p",
	})
	if got := s.Do(t, "GET", "database/config/pg", nil)["data"].(map[string]any)["plugin_name"]; got != "postgresql-database-plugin" {
		t.Errorf("database config: plugin_name = %v", got)
	}
}

func TestPluginDir(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "vault")
	if got, err := pluginDir(bin); got != "" || err != nil {
		t.Errorf("no plugins folder: pluginDir = %q, %v; want none", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, PluginDirName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pluginDir(bin); err == nil || !strings.Contains(err.Error(), "is not a folder") {
		t.Errorf("plugins is a file: err = %v, want one that says so", err)
	}
	if err := os.Remove(filepath.Join(dir, PluginDirName)); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, PluginDirName), 0o700); err != nil {
		t.Fatal(err)
	}
	if got, err := pluginDir(bin); got != filepath.Join(dir, PluginDirName) || err != nil {
		t.Errorf("pluginDir = %q, %v; want %s", got, err, filepath.Join(dir, PluginDirName))
	}
}
