package framework

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/vault-injector/vault-injector/internal/vaultdev"
)

// Vault is a real `vault server -dev` (in memory, loopback, random root token) with
// Kubernetes auth pointed at the control plane, KV v2 at secret/, and the PKI and
// transit engines at PKIMount and TransitMount.
type Vault struct {
	server *vaultdev.Server
}

// StartVault starts Vault from the cached binary (VAULT_BIN, else hack/tools/build.sh
// vault), enables Kubernetes auth against api at mount and the PKI and transit engines. Its
// output goes to log (nil discards).
func StartVault(ctx context.Context, api APIEndpoint, mount string, log io.Writer) (*Vault, error) {
	v, err := startVault(ctx, api, mount, log, vaultdev.Options{})
	if err != nil {
		return nil, err
	}
	if err := v.Client().EnableEngines(ctx); err != nil {
		return nil, errors.Join(err, v.Stop())
	}
	return v, nil
}

// StartTLSVault starts a Vault that serves HTTPS on 127.0.0.1 with a certificate from a
// CA of its own (Client().CAFile), a private CA no system trusts, that also covers sans
// (the address of a forwarder to it), with Kubernetes auth against api at mount and KV
// v2 at secret/ (no other engines).
func StartTLSVault(ctx context.Context, api APIEndpoint, mount string, log io.Writer, sans ...string) (*Vault, error) {
	return startVault(ctx, api, mount, log, vaultdev.Options{TLS: true, SANs: sans})
}

func startVault(ctx context.Context, api APIEndpoint, mount string, log io.Writer, opts vaultdev.Options) (*Vault, error) {
	bin, err := vaultdev.FindBinary(ctx, log)
	if err != nil {
		return nil, fmt.Errorf("find vault: %w", err)
	}
	s, err := vaultdev.StartContextWith(ctx, bin, log, opts)
	if err != nil {
		return nil, fmt.Errorf("start vault: %w", err)
	}
	v := &Vault{server: s}
	if err := v.Client().EnableKubernetesAuth(ctx, mount, api); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return v, nil
}

// Client is a root client of this server, for setup from any process.
func (v *Vault) Client() VaultClient {
	return VaultClient{Addr: v.server.Addr, Token: v.server.RootToken, CAFile: v.server.CAFile}
}

// Stop stops the server; everything it stored is gone.
func (v *Vault) Stop() error {
	if err := v.server.Stop(); err != nil {
		return fmt.Errorf("stop vault: %w", err)
	}
	return nil
}
