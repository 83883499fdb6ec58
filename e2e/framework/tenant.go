package framework

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Tenant is one application's slice of the cluster and of Vault: a namespace, a
// ServiceAccount allowed to log in, a Vault role of the same name (the webhook's default
// role is the pod's ServiceAccount) and a policy reading secret/data/<namespace>/*, to
// which a PKI role and a transit key of its own can be added. One per spec keeps specs
// independent under --procs.
type Tenant struct {
	Namespace      string
	ServiceAccount string
	cluster        *Cluster
	vault          VaultClient
	// grants are the policy's rules beyond reading the tenant's own secrets.
	grants []PolicyRule
}

// ServiceAccountDir is where the kubelet mounts a pod's ServiceAccount token.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// NewTenantOn creates the namespace (if missing), the ServiceAccount, and the Vault
// policy and a role at mount: the Kubernetes auth method that reviews tokens with c's
// apiserver.
func NewTenantOn(ctx context.Context, c *Cluster, v VaultClient, mount, namespace, serviceAccount string) (*Tenant, error) {
	t := &Tenant{
		Namespace: namespace, ServiceAccount: serviceAccount, cluster: c, vault: v,
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := c.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create namespace %s: %w", namespace, err)
	}
	if err := t.AddServiceAccount(ctx, serviceAccount); err != nil {
		return nil, err
	}
	if err := t.writePolicy(ctx); err != nil {
		return nil, err
	}
	err := v.PutRole(ctx, mount, Role{
		Name: serviceAccount, Namespaces: []string{namespace},
		ServiceAccounts: []string{serviceAccount}, Policies: []string{t.Policy()},
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Policy names the Vault policy of the tenant's role.
func (t *Tenant) Policy() string {
	return "read-" + t.Namespace
}

// AllowRead extends the tenant's policy to read the given API paths, for secrets that
// live outside the tenant's prefix.
func (t *Tenant) AllowRead(ctx context.Context, apiPaths ...string) error {
	return t.allow(ctx, Read(apiPaths...)...)
}

func (t *Tenant) allow(ctx context.Context, rules ...PolicyRule) error {
	t.grants = append(t.grants, rules...)
	return t.writePolicy(ctx)
}

func (t *Tenant) writePolicy(ctx context.Context) error {
	return t.vault.PutPolicy(ctx, t.Policy(), append(Read(t.SecretPath("*")), t.grants...)...)
}

// AddPKIRole creates a PKI role named after the namespace that issues certificates for
// <namespace>.svc and its subdomains (EC keys, without leases), lets the tenant issue
// from it, and returns the role's name: pods write to pki/issue/<role>.
func (t *Tenant) AddPKIRole(ctx context.Context) (string, error) {
	role := t.Namespace
	body := map[string]any{
		"allowed_domains": t.Namespace + ".svc", "allow_subdomains": true, "allow_bare_domains": true,
		"key_type": "ec", "max_ttl": "1h",
	}
	if err := t.vault.Do(ctx, http.MethodPost, PKIMount+"/roles/"+role, body, nil); err != nil {
		return "", fmt.Errorf("create pki role %s: %w", role, err)
	}
	issue := PolicyRule{Path: PKIMount + "/issue/" + role, Capabilities: []string{"create", "update"}}
	if err := t.allow(ctx, issue); err != nil {
		return "", err
	}
	return role, nil
}

// AddTransitKey creates a transit key named after the namespace, lets the tenant decrypt
// with it, and returns its name (the pod's vault-injector.io/transit-key).
func (t *Tenant) AddTransitKey(ctx context.Context) (string, error) {
	key := t.Namespace
	if err := t.vault.Do(ctx, http.MethodPost, TransitMount+"/keys/"+key, nil, nil); err != nil {
		return "", fmt.Errorf("create transit key %s: %w", key, err)
	}
	decrypt := PolicyRule{Path: TransitMount + "/decrypt/" + key, Capabilities: []string{"update"}}
	if err := t.allow(ctx, decrypt); err != nil {
		return "", err
	}
	return key, nil
}

// Encrypt returns the ciphertext of plaintext under transit key key (see AddTransitKey).
func (t *Tenant) Encrypt(ctx context.Context, key, plaintext string) (string, error) {
	return t.vault.Encrypt(ctx, key, plaintext)
}

// AddServiceAccount creates another ServiceAccount in the namespace, with no Vault role
// of its own and no rights: Vault reviews tokens with its own reviewer token.
func (t *Tenant) AddServiceAccount(ctx context.Context, name string) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: t.Namespace, Name: name}}
	if err := t.cluster.Client.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create serviceaccount %s/%s: %w", t.Namespace, name, err)
	}
	return nil
}

// SecretPath is the KV v2 API path of a secret this tenant's role may read.
func (t *Tenant) SecretPath(name string) string {
	return "secret/data/" + t.Namespace + "/" + name
}

// Ref is the reference an application writes to receive key of secret name.
func (t *Tenant) Ref(name, key string) string {
	return "vault:" + t.SecretPath(name) + "#" + key
}

// PutSecret writes a secret this tenant's role may read.
func (t *Tenant) PutSecret(ctx context.Context, name string, data map[string]string) error {
	return t.vault.PutSecret(ctx, t.SecretPath(name), data)
}

// Delete removes the tenant's pods, bindings and namespace. The namespace stays
// Terminating (no namespace controller runs), which is harmless on a throwaway apiserver.
func (t *Tenant) Delete(ctx context.Context) error {
	c := t.cluster.Client
	var errs []error
	if err := c.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(t.Namespace)); err != nil {
		errs = append(errs, fmt.Errorf("delete pods in %s: %w", t.Namespace, err))
	}
	var crbs rbacv1.ClusterRoleBindingList
	if err := c.List(ctx, &crbs); err != nil {
		errs = append(errs, fmt.Errorf("list clusterrolebindings: %w", err))
	}
	for i := range crbs.Items {
		s := crbs.Items[i].Subjects
		if len(s) == 1 && s[0].Kind == rbacv1.ServiceAccountKind && s[0].Namespace == t.Namespace {
			if err := c.Delete(ctx, &crbs.Items[i]); client.IgnoreNotFound(err) != nil {
				errs = append(errs, fmt.Errorf("delete clusterrolebinding %s: %w", crbs.Items[i].Name, err))
			}
		}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: t.Namespace}}
	if err := c.Delete(ctx, ns); client.IgnoreNotFound(err) != nil {
		errs = append(errs, fmt.Errorf("delete namespace %s: %w", t.Namespace, err))
	}
	return errors.Join(errs...)
}
