package webhook

import (
	"context"
	"time"

	"github.com/go-logr/logr"

	"github.com/vault-injector/vault-injector/config"
)

// vaultCAReloadInterval is how often the webhook re-reads --vault-ca-file; the kubelet
// itself takes up to a minute to update a mounted ConfigMap or Secret.
const vaultCAReloadInterval = 10 * time.Second

// watchVaultCA re-reads the platform's Vault CA bundle every interval until ctx ends, so
// a changed ConfigMap or Secret reaches the next admitted pod without a restart. A bundle
// that turns invalid is logged once, and the last good one stays in force.
func watchVaultCA(ctx context.Context, ca *config.VaultCA, every time.Duration, log logr.Logger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		changed, err := ca.Reload()
		switch {
		case err != nil && !failing:
			log.Error(err, "cannot reload the Vault CA bundle; pods keep getting the previous one", "file", ca.File())
			failing = true
		case err == nil && (changed || failing):
			log.Info("reloaded the Vault CA bundle", "file", ca.File(), "changed", changed)
			failing = false
		}
	}
}
