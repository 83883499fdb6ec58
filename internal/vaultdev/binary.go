package vaultdev

import (
	"context"
	"io"

	"github.com/vault-injector/vault-injector/internal/tools"
)

// FindBinary returns the vault binary to run: $VAULT_BIN if set, otherwise the one
// hack/tools/build.sh prints (it builds into a versioned cache outside the repository
// when missing, which takes minutes cold). Build progress goes to log (nil discards).
func FindBinary(ctx context.Context, log io.Writer) (string, error) {
	return tools.Vault(ctx, log)
}
