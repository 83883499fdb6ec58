package kube_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vault-injector/vault-injector/internal/apiservertest"
	"github.com/vault-injector/vault-injector/internal/kube"
)

// TestClient reads and writes each kind the webhook uses on a real apiserver, and gets the
// apiserver's own errors back: not found, already exists, and a conflicting update.
func TestClient(t *testing.T) {
	c := apiservertest.Client(t, apiservertest.Start(t))
	ctx := t.Context()
	key := types.NamespacedName{Namespace: "default", Name: "pull"}

	var s corev1.Secret
	if err := c.Get(ctx, key, &s); !apierrors.IsNotFound(err) {
		t.Fatalf("get a missing secret: %v, want not found", err)
	}
	s = corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}, Data: map[string][]byte{"k": []byte("v1")}}
	if err := c.Create(ctx, &s); err != nil || s.UID == "" || s.ResourceVersion == "" {
		t.Fatalf("create: %v (uid %q, version %q: want what the apiserver stored)", err, s.UID, s.ResourceVersion)
	}
	if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("create again: %v, want already exists", err)
	}
	stale := s.DeepCopy()
	s.Data["k"] = []byte("v2")
	if err := c.Update(ctx, &s); err != nil {
		t.Fatal(err)
	}
	stale.Data["k"] = []byte("v3")
	if err := c.Update(ctx, stale); !apierrors.IsConflict(err) {
		t.Errorf("update from a stale version: %v, want conflict", err)
	}
	var got corev1.Secret
	if err := c.Get(ctx, key, &got); err != nil || string(got.Data["k"]) != "v2" {
		t.Errorf("get: %v, value %q, want v2", err, got.Data["k"])
	}

	var sa corev1.ServiceAccount
	sa.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "pull"}}
	sa.Namespace, sa.Name = "default", "api"
	if err := c.Create(ctx, &sa); err != nil {
		t.Fatal(err)
	}
	var gotSA corev1.ServiceAccount
	if err := c.Get(ctx, types.NamespacedName{Namespace: "default", Name: "api"}, &gotSA); err != nil || len(gotSA.ImagePullSecrets) != 1 {
		t.Errorf("service account: %v, pull secrets %v", err, gotSA.ImagePullSecrets)
	}

	none := admissionregistrationv1.SideEffectClassNone
	mwc := admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "vi"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "pods.vault-injector.io", SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
			ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "default", Name: "vi"}},
		}},
	}
	if err := c.Create(ctx, &mwc); err != nil {
		t.Fatal(err)
	}
	mwc.Webhooks[0].ClientConfig.CABundle = []byte("bundle")
	if err := c.Update(ctx, &mwc); err != nil {
		t.Fatal(err)
	}
	var gotMWC admissionregistrationv1.MutatingWebhookConfiguration
	if err := c.Get(ctx, types.NamespacedName{Name: "vi"}, &gotMWC); err != nil || string(gotMWC.Webhooks[0].ClientConfig.CABundle) != "bundle" {
		t.Errorf("webhook configuration: %v, caBundle %q", err, gotMWC.Webhooks[0].ClientConfig.CABundle)
	}
}

// TestClientDoesNotEchoBodies: an answer that is not the apiserver's Status (a proxy in
// between) becomes an error by its code alone; its body is never repeated.
func TestClientDoesNotEchoBodies(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "proxy-canary-body", http.StatusBadGateway)
	}))
	defer srv.Close()
	c, err := kube.New(&kube.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	var s corev1.Secret
	err = c.Get(t.Context(), types.NamespacedName{Namespace: "ns", Name: "pull"}, &s)
	if err == nil || strings.Contains(err.Error(), "proxy-canary-body") || apierrors.ReasonForError(err) == metav1.StatusReasonUnknown && !strings.Contains(err.Error(), "pull") {
		t.Fatalf("err = %v, want one naming the object and not the body", err)
	}
}

// Names reach the client from pods and from anyone who sends the webhook a review: one
// that is not an object name (a path segment "." or "..", a slash, a namespace that is not
// a DNS label) is refused before any request, so it cannot address another object.
func TestClientRefusesInvalidNames(t *testing.T) {
	c := apiservertest.Client(t, apiservertest.Start(t))
	for _, key := range []types.NamespacedName{
		{Namespace: "default", Name: ".."},
		{Namespace: "default", Name: "."},
		{Namespace: "..", Name: "default"},
		{Namespace: "default", Name: "a/b"},
		{Namespace: "Default", Name: "pull"},
		{Namespace: "default", Name: ""},
	} {
		var s corev1.Secret
		if err := c.Get(t.Context(), key, &s); !errors.Is(err, kube.ErrInvalidName) {
			t.Errorf("get secret %s: %v, want kube.ErrInvalidName", key, err)
		}
		var sa corev1.ServiceAccount
		if err := c.Get(t.Context(), key, &sa); !errors.Is(err, kube.ErrInvalidName) {
			t.Errorf("get service account %s: %v, want kube.ErrInvalidName", key, err)
		}
	}
}
