package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// namespace holds the soak's pods; only it is selected by the webhook configuration.
const namespace = "soak"

// register creates the namespace and a webhook configuration that sends its pods to the
// balancer, failing closed, and waits until the apiserver calls the webhook.
func (e *setup) register(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{"soak": "true"}}}
	if err := e.cluster.Client.Create(ctx, ns); err != nil {
		return fmt.Errorf("create namespace: %w", err)
	}
	url := "https://" + e.lb.addr() + "/mutate-pods"
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-injector-soak"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:              "pods.vault-injector.io",
			ClientConfig:      admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: e.pki.ca.CertPEM()},
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"soak": "true"}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{
					APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"},
					Scope: ptr.To(admissionregistrationv1.NamespacedScope),
				},
			}},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          ptr.To[int32](10),
		}},
	}
	if err := e.cluster.Client.Create(ctx, cfg); err != nil {
		return fmt.Errorf("create webhook configuration: %w", err)
	}
	return e.awaitWebhook(ctx)
}

// awaitWebhook dry-runs pod creations until one comes back injected: the apiserver
// picks the configuration up asynchronously, and a dry run stores nothing, so no pod
// is stored before the webhook is in the path.
func (e *setup) awaitWebhook(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		pod := soakPod(namespace, "warm-up")
		err := e.cluster.Client.Create(ctx, pod, client.DryRunAll)
		if err == nil && injected(pod) {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("the apiserver never called the webhook: %w", err)
			}
			return errors.New("the apiserver never called the webhook: pods come back uninjected")
		case <-time.After(100 * time.Millisecond):
		}
	}
}
