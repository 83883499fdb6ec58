package vaultdev

import (
	"context"
	"io"

	"github.com/vault-injector/vault-injector/internal/tools"
)

// FindBinary returns the vault binary to run: $VAULT_BIN if set, otherwise the one
// hack/tools/build.sh prints (it builds into a versioned cache outside the repository
// when missing, which takes minutes cold). Build progress goes to log (nil discards).
// A full Vault from $VAULT_BIN needs nothing beside it; the cache's minimal build has its
// external plugins in the PluginDirName folder beside it, which the server registers.
func FindBinary(ctx context.Context, log io.Writer) (string, error) {
	return tools.Vault(ctx, log)
}
