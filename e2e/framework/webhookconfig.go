package framework

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// WebhookPath is where the webhook serves pod admission; the configuration below and the
// binary must agree on it.
const WebhookPath = "/mutate-pods"

// OtherWebhookLabel marks a namespace that a spec's own webhook serves: the suite's
// webhook leaves it alone, as two injectors must never serve one namespace (each would
// refuse the other's parts as a tenant's imitation).
const OtherWebhookLabel = "e2e.vault-injector.io/webhook"

// MutatingWebhookConfiguration is the registration a cluster operator applies (the Helm
// chart's equivalent): pods, CREATE only, fail closed. envtest replaces the service
// reference with its local serving URL and fills in the CA bundle.
func MutatingWebhookConfiguration() *admissionregistrationv1.MutatingWebhookConfiguration {
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		TypeMeta: metav1.TypeMeta{
			APIVersion: admissionregistrationv1.SchemeGroupVersion.String(),
			Kind:       "MutatingWebhookConfiguration",
		},
		ObjectMeta: metav1.ObjectMeta{Name: "vault-injector"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "pods.vault-injector.io",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service: &admissionregistrationv1.ServiceReference{
					Namespace: "vault-injector",
					Name:      "vault-injector",
					Path:      ptr.To(WebhookPath),
				},
			},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{
					APIGroups:   []string{""},
					APIVersions: []string{"v1"},
					Resources:   []string{"pods"},
					Scope:       ptr.To(admissionregistrationv1.NamespacedScope),
				},
			}},
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: OtherWebhookLabel, Operator: metav1.LabelSelectorOpDoesNotExist},
			}},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			AdmissionReviewVersions: []string{"v1"},
			ReinvocationPolicy:      ptr.To(admissionregistrationv1.IfNeededReinvocationPolicy),
			TimeoutSeconds:          ptr.To[int32](10),
		}},
	}
}
