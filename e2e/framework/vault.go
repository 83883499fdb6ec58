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
// vault), enables Kubernetes auth against api and the PKI and transit engines. Its
// output goes to log (nil discards).
func StartVault(ctx context.Context, api APIEndpoint, log io.Writer) (*Vault, error) {
	bin, err := vaultdev.FindBinary(ctx, log)
	if err != nil {
		return nil, fmt.Errorf("find vault: %w", err)
	}
	s, err := vaultdev.StartContext(ctx, bin, log)
	if err != nil {
		return nil, fmt.Errorf("start vault: %w", err)
	}
	v := &Vault{server: s}
	if err := v.Client().EnableKubernetesAuth(ctx, KubernetesAuthMount, api); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	if err := v.Client().EnableEngines(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return v, nil
}

// Client is a root client of this server, for setup from any process.
func (v *Vault) Client() VaultClient {
	return VaultClient{Addr: v.server.Addr, Token: v.server.RootToken}
}

// Stop stops the server; everything it stored is gone.
func (v *Vault) Stop() error {
	if err := v.server.Stop(); err != nil {
		return fmt.Errorf("stop vault: %w", err)
	}
	return nil
}
