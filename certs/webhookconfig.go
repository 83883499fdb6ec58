package certs

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

// errNoWebhookConfig means the webhook configuration does not exist (yet): an install may
// create it after the webhook starts. Run then checks again soon.
var errNoWebhookConfig = errors.New("webhook configuration not found")

// syncCABundle sets bundle as the caBundle of every webhook in the configuration. The
// update carries the resourceVersion that was read, so a concurrent change (helm upgrade,
// another replica) is re-read rather than overwritten.
func (m *Manager) syncCABundle(ctx context.Context, bundle []byte) error {
	key := types.NamespacedName{Name: m.opts.WebhookConfigName}
	for range maxConflicts {
		var cfg admissionregistrationv1.MutatingWebhookConfiguration
		err := m.opts.Client.Get(ctx, key, &cfg)
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%w: %s", errNoWebhookConfig, key.Name)
		}
		if err != nil {
			return fmt.Errorf("get webhook configuration %s: %w", key.Name, err)
		}
		changed := false
		for i := range cfg.Webhooks {
			if cc := &cfg.Webhooks[i].ClientConfig; !bytes.Equal(cc.CABundle, bundle) {
				cc.CABundle = bundle
				changed = true
			}
		}
		if !changed {
			return nil
		}
		err = m.opts.Client.Update(ctx, &cfg)
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("update caBundle of webhook configuration %s: %w", key.Name, err)
		}
		m.opts.Log.Info("updated caBundle", "mutatingWebhookConfiguration", key.Name)
		return nil
	}
	return fmt.Errorf("webhook configuration %s: gave up after %d conflicting writes", key.Name, maxConflicts)
}
