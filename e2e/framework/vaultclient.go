package framework

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// VaultClient speaks Vault's HTTP API with one token. The tests configure Vault through
// the same API an operator's Terraform would, so a wrong path or payload fails here and
// not silently inside envexec.
type VaultClient struct {
	// Addr is the server's base URL, e.g. http://127.0.0.1:8200.
	Addr string `json:"addr"`
	// Token authenticates every request (the dev server's root token for setup).
	Token string `json:"token"`
	// CAFile, for a server with a private CA, is the PEM file of that CA; requests
	// trust it alone.
	CAFile string `json:"caFile,omitempty"`
}

// vaultHTTP bounds every call: Vault on loopback answers in milliseconds.
var vaultHTTP = &http.Client{Timeout: 15 * time.Second}

// httpClient trusts the server's private CA when it has one.
func (v VaultClient) httpClient() (*http.Client, error) {
	if v.CAFile == "" {
		return vaultHTTP, nil
	}
	data, err := os.ReadFile(v.CAFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", v.CAFile)
	}
	return &http.Client{Timeout: vaultHTTP.Timeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	}}, nil
}

// Do sends body as JSON to /v1/<path> and decodes the answer into out (either may be nil).
// Errors carry the status and Vault's own messages, never the request body, because the
// body may hold a secret.
func (v VaultClient) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("vault %s %s: encode body: %w", method, path, err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(v.Addr, "/")+"/v1/"+path, rd)
	if err != nil {
		return fmt.Errorf("vault %s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if v.Token != "" {
		req.Header.Set("X-Vault-Token", v.Token)
	}
	hc, err := v.httpClient()
	if err != nil {
		return fmt.Errorf("vault %s %s: %w", method, path, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("vault %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("vault %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Errors []string `json:"errors"`
		}
		_ = json.Unmarshal(data, &e) // best effort: the status alone is still an answer
		return fmt.Errorf("vault %s %s: %s: %s", method, path, resp.Status, strings.Join(e.Errors, "; "))
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("vault %s %s: decode answer: %w", method, path, err)
	}
	return nil
}
