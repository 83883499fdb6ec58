package certs

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// caPropagation is how long a replica that has just put a new CA into the webhook
// configuration waits before serving a certificate of that CA, so the apiserver has
// picked up the new bundle first. It only happens when a CA is replaced (every few years).
const caPropagation = 5 * time.Second

// retryInterval is the period of Run while something is wrong (an unreachable apiserver,
// a webhook configuration not created yet), shorter than the usual check interval.
const retryInterval = 5 * time.Second

// Manager keeps one webhook's self-managed certificate: the shared Secret, the files in
// the certificate folder and the caBundle of the webhook configuration.
type Manager struct {
	opts Options
}

// New checks opts and fills in defaults; it does not touch the cluster.
func New(opts Options) (*Manager, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("self-managed certificates: %w", err)
	}
	return &Manager{opts: opts}, nil
}

// Ensure makes one pass: it creates or renews the Secret if needed, brings the caBundle
// up to date, and writes tls.crt and tls.key. Call it before starting the webhook server,
// which needs the files to start. A missing webhook configuration is logged, not an error:
// an install may create it after the webhook starts, and Run patches it once it exists.
func (m *Manager) Ensure(ctx context.Context) error {
	_, err := m.ensure(ctx)
	return err
}

// Run calls Ensure now and then every CheckInterval until ctx ends (sooner after a
// failure), logging failures rather than returning them: a replica whose apiserver is
// briefly unreachable keeps serving its valid certificate. It returns nil when ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	for {
		wait := m.opts.CheckInterval
		switch again, err := m.ensure(ctx); {
		case err != nil && ctx.Err() == nil:
			m.opts.Log.Error(err, "webhook certificate check failed; retrying", "in", retryInterval)
			wait = min(wait, retryInterval)
		case again:
			wait = min(wait, retryInterval)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// ensure is Ensure; again reports a pass that should be repeated soon (no webhook
// configuration yet).
func (m *Manager) ensure(ctx context.Context) (again bool, err error) {
	mat, err := m.syncSecret(ctx)
	if err != nil {
		return false, err
	}
	err = m.syncCABundle(ctx, mat)
	for range maxConflicts {
		if !errors.Is(err, errSecretChanged) {
			break
		}
		// Start over from the Secret as it is now; nothing of the stale material is written.
		m.opts.Log.Info("certificate Secret changed while its CA was being published; starting over", "reason", err.Error())
		if mat, err = m.syncSecret(ctx); err != nil {
			return false, err
		}
		err = m.syncCABundle(ctx, mat)
	}
	switch {
	case errors.Is(err, errNoWebhookConfig):
		m.opts.Log.Info("webhook configuration not found yet; will set its caBundle when it exists",
			"mutatingWebhookConfiguration", m.opts.WebhookConfigName)
		again = true
	case err != nil:
		return false, err
	}
	if err := m.awaitCAPropagation(ctx, mat.ca.cert); err != nil {
		return false, err
	}
	files := map[string][]byte{corev1.TLSCertKey: mat.serving.certPEM, corev1.TLSPrivateKeyKey: mat.serving.keyPEM}
	changed, err := writeFiles(m.opts.CertDir, files)
	if err != nil {
		return false, fmt.Errorf("write serving certificate: %w", err)
	}
	if changed {
		m.opts.Log.Info("wrote serving certificate", "certDir", m.opts.CertDir, "notAfter", mat.serving.cert.NotAfter)
	}
	return again, nil
}

// awaitCAPropagation delays switching the served certificate to a new CA until that CA is
// caPropagation old: whichever replica created it put it into the caBundle at that moment,
// and the apiserver must have seen the bundle before it meets a certificate of that CA.
// Certificates from the same CA, and a first certificate, are written at once.
func (m *Manager) awaitCAPropagation(ctx context.Context, ca *x509.Certificate) error {
	served, err := os.ReadFile(filepath.Join(m.opts.CertDir, corev1.TLSCertKey))
	if err != nil {
		return nil // nothing served yet, nothing to protect
	}
	certs, err := parseCerts(served)
	if err != nil || certs[0].CheckSignatureFrom(ca) == nil {
		return nil // an unreadable file is replaced at once; the same CA needs no wait
	}
	// Clamped: a replica whose clock runs behind must not wait for hours.
	wait := min(caPropagation, caPropagation-m.opts.Now().Sub(ca.NotBefore.Add(backdate)))
	if wait <= 0 {
		return nil
	}
	m.opts.Log.Info("waiting for the apiserver to trust the new CA before serving its certificate", "for", wait)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
