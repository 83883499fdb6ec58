package framework

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Vault's own identity in the cluster: the ServiceAccount whose token Vault sends with each
// TokenReview, as a Vault running in the cluster uses its own. Pods' tokens carry the
// audience TokenAudience, which the apiserver does not accept as a bearer token, so they
// cannot review themselves, and tenants need no TokenReview rights.
const (
	reviewerNamespace = "vault"
	reviewerAccount   = "vault-token-reviewer"
)

// reviewerToken creates Vault's reviewer ServiceAccount, lets it call TokenReview
// (system:auth-delegator) and returns a token for it that outlives any test run.
func reviewerToken(ctx context.Context, c *Cluster) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: reviewerNamespace}}
	if err := c.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("create namespace %s: %w", reviewerNamespace, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: reviewerNamespace, Name: reviewerAccount}}
	if err := c.Client.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("create serviceaccount %s/%s: %w", reviewerNamespace, reviewerAccount, err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "vault-token-reviewer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: reviewerNamespace, Name: reviewerAccount}},
	}
	if err := c.Client.Create(ctx, crb); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("bind %s to system:auth-delegator: %w", reviewerAccount, err)
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](48 * 3600)}}
	out, err := c.Clientset.CoreV1().ServiceAccounts(reviewerNamespace).CreateToken(ctx, reviewerAccount, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("request token of %s/%s: %w", reviewerNamespace, reviewerAccount, err)
	}
	return out.Status.Token, nil
}
