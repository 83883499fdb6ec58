package framework

import (
	"context"

	"github.com/vault-injector/vault-injector/internal/loopback"
)

// UnreachableVaultAddr is a Vault URL where nothing listens, for "Vault is down" tests
// that must not disturb the shared Vault other specs use. The webhook must allow it
// (WebhookOptions.AllowedVaultAddrs), so it is chosen once, before the webhook starts;
// a loopback port nobody listens on now is very unlikely to get a listener later.
func UnreachableVaultAddr(ctx context.Context) (string, error) {
	addr, err := loopback.FreeAddr(ctx)
	if err != nil {
		return "", err
	}
	return "http://" + addr, nil
}
