package framework

import (
	"context"
	"errors"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ServiceAccountDir is where the kubelet mounts a pod's ServiceAccount token.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// SelfManagedAccount names what a self-managed webhook may touch: the chart's rights
// for --cert-mode=self-managed (templates/rbac.yaml), given to a ServiceAccount.
type SelfManagedAccount struct {
	// Namespace is the webhook's own namespace; it must exist.
	Namespace string
	// ServiceAccount is created in Namespace.
	ServiceAccount string
	// Secret is the certificate Secret in Namespace: the account may create Secrets, and
	// get and update only this one.
	Secret string
	// WebhookConfig is the MutatingWebhookConfiguration whose caBundle it may update.
	WebhookConfig string
}

// clusterObjectName names the account's cluster-wide RBAC objects.
func (a SelfManagedAccount) clusterObjectName() string {
	return "vault-injector-" + a.Namespace + "-" + a.ServiceAccount
}

// CreateSelfManagedAccount creates the ServiceAccount and its rights: in its namespace,
// create Secrets and get/update the certificate Secret; cluster-wide, get/update its
// webhook configuration and read what pods refer to (Secrets, ConfigMaps,
// ServiceAccounts). The returned cleanup deletes the cluster-wide objects; the
// namespaced ones go with the namespace.
func CreateSelfManagedAccount(ctx context.Context, c *Cluster, a SelfManagedAccount) (cleanup func(context.Context) error, err error) {
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: a.Namespace, Name: a.ServiceAccount}}
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: a.Namespace, Name: a.ServiceAccount},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{a.Secret}, Verbs: []string{"get", "update"}},
		},
	}
	clusterRole := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: a.clusterObjectName()},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets", "serviceaccounts", "configmaps"}, Verbs: []string{"get"}},
			{
				APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"mutatingwebhookconfigurations"},
				ResourceNames: []string{a.WebhookConfig}, Verbs: []string{"get", "update"},
			},
		},
	}
	clusterBinding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: clusterRole.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole.Name},
		Subjects:   subjects,
	}
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: a.Namespace, Name: a.ServiceAccount}},
		role,
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: a.Namespace, Name: a.ServiceAccount},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
			Subjects:   subjects,
		},
		clusterRole,
		clusterBinding,
	}
	cleanup = func(ctx context.Context) error {
		var errs []error
		for _, o := range []client.Object{clusterBinding, clusterRole} {
			if err := c.Client.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
				errs = append(errs, fmt.Errorf("delete %T %s: %w", o, o.GetName(), err))
			}
		}
		return errors.Join(errs...)
	}
	for _, o := range objs {
		if err := c.Client.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, errors.Join(fmt.Errorf("create %T %s: %w", o, o.GetName(), err), cleanup(ctx))
		}
	}
	return cleanup, nil
}

// ServiceAccountKubeconfig requests a token of a ServiceAccount, as the kubelet does for
// a pod's projected token, and renders a kubeconfig with it: a process given it runs
// with exactly that account's rights, as it would in a cluster.
func ServiceAccountKubeconfig(ctx context.Context, c *Cluster, namespace, name string, lifetime time.Duration) ([]byte, error) {
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: ptr.To(int64(lifetime.Seconds())),
	}}
	tok, err := c.Clientset.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, req, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("request token of serviceaccount %s/%s: %w", namespace, name, err)
	}
	user := namespace + "/" + name
	cfg := clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"envtest": {Server: c.Endpoint.Host, CertificateAuthorityData: c.Endpoint.CAData}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{user: {Token: tok.Status.Token}},
		Contexts:       map[string]*clientcmdapi.Context{user: {Cluster: "envtest", AuthInfo: user, Namespace: namespace}},
		CurrentContext: user,
	}
	out, err := clientcmd.Write(cfg)
	if err != nil {
		return nil, fmt.Errorf("render kubeconfig for %s: %w", user, err)
	}
	return out, nil
}
