package certs

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

// errNoWebhookConfig means the webhook configuration does not exist (yet): an install may
// create it after the webhook starts. Run then checks again soon.
var errNoWebhookConfig = errors.New("webhook configuration not found")

// errSecretChanged means the certificate Secret changed since its material was read (an
// operator deleted it, another replica recreated it): publishing that material's bundle
// would put back a CA no replica serves any more. Ensure starts over soon instead.
var errSecretChanged = errors.New("the certificate Secret changed while its CA was being published")

// syncCABundle sets mat's bundle as the caBundle of every webhook in the configuration.
// The update carries the resourceVersion that was read, so a concurrent change (helm
// upgrade, another replica) is re-read rather than overwritten; and it is made only while
// the Secret is still the one mat was read from, checked before and after the write.
func (m *Manager) syncCABundle(ctx context.Context, mat *material) error {
	bundle := mat.bundle
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
		if err := m.checkSecretVersion(ctx, mat.secretVersion); err != nil {
			return err
		}
		err = m.opts.Client.Update(ctx, &cfg)
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("update caBundle of webhook configuration %s: %w", key.Name, err)
		}
		m.opts.Log.Info("updated caBundle", "mutatingWebhookConfiguration", key.Name)
		// Checked again after the write: a Secret deleted between the check and the write
		// would leave its CA published; starting over publishes the current one instead.
		return m.checkSecretVersion(ctx, mat.secretVersion)
	}
	return fmt.Errorf("webhook configuration %s: gave up after %d conflicting writes", key.Name, maxConflicts)
}

// checkSecretVersion fails with errSecretChanged unless the Secret still has version.
func (m *Manager) checkSecretVersion(ctx context.Context, version string) error {
	key := types.NamespacedName{Namespace: m.opts.Namespace, Name: m.opts.SecretName}
	var s corev1.Secret
	switch err := m.opts.Client.Get(ctx, key, &s); {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%w: %s was deleted", errSecretChanged, key)
	case err != nil:
		return fmt.Errorf("get secret %s: %w", key, err)
	case s.ResourceVersion != version:
		return fmt.Errorf("%w: %s", errSecretChanged, key)
	}
	return nil
}
