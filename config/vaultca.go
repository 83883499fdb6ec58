package config

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// VaultCA is the platform's CA bundle for Vault (--vault-ca-file). Every copy of the
// configuration shares it, so a ConfigMap or Secret that changes under a running webhook
// reaches the next admitted pod once Reload has read it, without a restart.
type VaultCA struct {
	file  string
	certs atomic.Pointer[string]
}

// NewVaultCA reads the bundle once; a file that cannot be read, holds no certificate or
// is too large for envexec is an error, so the webhook does not start without it.
func NewVaultCA(file string) (*VaultCA, error) {
	certs, err := readVaultCA(file)
	if err != nil {
		return nil, err
	}
	c := &VaultCA{file: file}
	c.certs.Store(&certs)
	return c, nil
}

// File is the bundle's path.
func (c *VaultCA) File() string {
	if c == nil {
		return ""
	}
	return c.file
}

// Certs are the bundle's certificates re-encoded as PEM (nothing else of the file): what
// every wrapped container is given. Empty without a bundle.
func (c *VaultCA) Certs() string {
	if c == nil {
		return ""
	}
	return *c.certs.Load()
}

// Reload reads the file again. A bundle that cannot be read or is not valid leaves the
// previous one in place and is returned as an error; changed says whether pods now get
// other certificates.
func (c *VaultCA) Reload() (changed bool, err error) {
	certs, err := readVaultCA(c.file)
	if err != nil {
		return false, err
	}
	old := c.certs.Swap(&certs)
	return *old != certs, nil
}

// readVaultCA keeps only the certificates of the file, re-encoded (settings.CACerts): they
// are written into every wrapped container, where nothing else of the file belongs.
func readVaultCA(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	certs, err := settings.CACerts(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	if err := envexecAccepts(settings.EnvCACerts, certs); err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	return certs, nil
}
