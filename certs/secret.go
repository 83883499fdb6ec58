package certs

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// maxConflicts bounds the compare-and-swap retries of one pass; each conflict means another
// replica wrote in between, whose result the next read adopts, so two rounds normally do.
const maxConflicts = 5

// syncSecret returns the material every replica must use, creating or renewing the Secret
// when needed. Writes are conditional: Create fails if the Secret appeared meanwhile, and
// Update carries the resourceVersion that was read, so a replica that loses a race reads
// the winner's Secret instead of overwriting it.
func (m *Manager) syncSecret(ctx context.Context) (*material, error) {
	key := types.NamespacedName{Namespace: m.opts.Namespace, Name: m.opts.SecretName}
	for range maxConflicts {
		var s corev1.Secret
		err := m.opts.Client.Get(ctx, key, &s)
		if apierrors.IsNotFound(err) {
			mat, done, err := m.createSecret(ctx, key)
			if done || err != nil {
				return mat, err
			}
			continue // another replica created it first
		}
		if err != nil {
			return nil, fmt.Errorf("get secret %s: %w", key, err)
		}
		if s.Type != corev1.SecretTypeTLS {
			return nil, fmt.Errorf("secret %s has type %q, want %q: delete it, the webhook recreates it", key, s.Type, corev1.SecretTypeTLS)
		}
		mat, reason, err := m.opts.plan(s.Data, m.opts.Now())
		if err != nil || reason == "" {
			if mat != nil {
				mat.secretVersion = s.ResourceVersion
			}
			return mat, err
		}
		s.Data = mat.data()
		err = m.opts.Client.Update(ctx, &s)
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update secret %s: %w", key, err)
		}
		mat.secretVersion = s.ResourceVersion
		m.opts.Log.Info("renewed webhook certificate", "secret", key.String(), "reason", reason,
			"notAfter", mat.serving.cert.NotAfter, "caNotAfter", mat.ca.cert.NotAfter)
		return mat, nil
	}
	return nil, fmt.Errorf("secret %s: gave up after %d conflicting writes", key, maxConflicts)
}

// createSecret creates the Secret with new material; done is false if another replica
// created it first. The Secret is owned by the webhook configuration when that exists, so
// uninstalling the webhook removes its certificate too.
func (m *Manager) createSecret(ctx context.Context, key types.NamespacedName) (mat *material, done bool, err error) {
	mat, _, err = m.opts.plan(nil, m.opts.Now())
	if err != nil {
		return nil, false, err
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: key.Namespace, Name: key.Name,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "vault-injector"},
		},
		Type: corev1.SecretTypeTLS,
		Data: mat.data(),
	}
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	if err := m.opts.Client.Get(ctx, types.NamespacedName{Name: m.opts.WebhookConfigName}, &cfg); err == nil {
		s.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "MutatingWebhookConfiguration",
			Name: cfg.Name, UID: cfg.UID,
		}}
	}
	switch err := m.opts.Client.Create(ctx, s); {
	case apierrors.IsAlreadyExists(err):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("create secret %s: %w", key, err)
	}
	mat.secretVersion = s.ResourceVersion
	m.opts.Log.Info("created webhook certificate", "secret", key.String(),
		"notAfter", mat.serving.cert.NotAfter, "caNotAfter", mat.ca.cert.NotAfter)
	return mat, true, nil
}
