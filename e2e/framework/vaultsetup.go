package framework

import (
	"context"
	"fmt"
	"net/http"
)

// KubernetesAuthMount is where the tests enable Kubernetes auth: the webhook's default
// --vault-auth-path, so pods need no annotation.
const KubernetesAuthMount = "kubernetes"

// NodeAuthMount is the Kubernetes auth method that reviews tokens with the node's cluster
// (its own apiserver), for the pods that run on the node.
const NodeAuthMount = "kubernetes-node"

// EnableKubernetesAuth enables the Kubernetes auth method at mount and points it at the
// apiserver, with Vault's own reviewer token (reviewerToken): pods' tokens, made for
// TokenAudience, could not call TokenReview themselves.
func (v VaultClient) EnableKubernetesAuth(ctx context.Context, mount string, api APIEndpoint) error {
	c, err := NewCluster(api)
	if err != nil {
		return err
	}
	reviewer, err := reviewerToken(ctx, c)
	if err != nil {
		return err
	}
	if err := v.Do(ctx, http.MethodPost, "sys/auth/"+mount, map[string]any{"type": "kubernetes"}, nil); err != nil {
		return fmt.Errorf("enable kubernetes auth: %w", err)
	}
	cfg := map[string]any{
		"kubernetes_host":    api.Host,
		"kubernetes_ca_cert": string(api.CAData),
		"token_reviewer_jwt": reviewer,
		// Vault must not pick up a reviewer token or CA from its own filesystem: it runs
		// on a host, not in a pod of the cluster it reviews tokens for.
		"disable_local_ca_jwt": true,
	}
	if err := v.Do(ctx, http.MethodPost, "auth/"+mount+"/config", cfg, nil); err != nil {
		return fmt.Errorf("configure kubernetes auth: %w", err)
	}
	return nil
}

// PutReadPolicy writes an ACL policy allowing reads of the given API paths (globs allowed).
func (v VaultClient) PutReadPolicy(ctx context.Context, name string, paths ...string) error {
	return v.PutPolicy(ctx, name, Read(paths...)...)
}

// Role is a Kubernetes auth role: who may log in, and which policies they get.
type Role struct {
	Name            string
	Namespaces      []string
	ServiceAccounts []string
	Policies        []string
}

// TokenAudience is the audience of envexec's projected token: the webhook's default, which
// every role the suite writes requires, as docs/install.md tells platform teams to do.
const TokenAudience = "vault"

// PutRole creates or replaces a role of the Kubernetes auth method at mount.
func (v VaultClient) PutRole(ctx context.Context, mount string, r Role) error {
	body := map[string]any{
		"bound_service_account_names":      r.ServiceAccounts,
		"bound_service_account_namespaces": r.Namespaces,
		"token_policies":                   r.Policies,
		"token_ttl":                        "10m",
		// The webhook projects envexec's token for this audience only (--token-audience).
		"audience": TokenAudience,
	}
	if err := v.Do(ctx, http.MethodPost, "auth/"+mount+"/role/"+r.Name, body, nil); err != nil {
		return fmt.Errorf("write role %s: %w", r.Name, err)
	}
	return nil
}

// PutSecret writes a KV v2 secret at its API path (e.g. "secret/data/ns/db"), the form
// references use.
func (v VaultClient) PutSecret(ctx context.Context, apiPath string, data map[string]string) error {
	if err := v.Do(ctx, http.MethodPost, apiPath, map[string]any{"data": data}, nil); err != nil {
		return fmt.Errorf("write secret %s: %w", apiPath, err)
	}
	return nil
}

// Login performs the Kubernetes auth login envexec does, and returns the client token.
func (v VaultClient) Login(ctx context.Context, mount, role, jwt string) (string, error) {
	var out struct {
		Auth struct {
			ClientToken string `json:"client_token"`
		} `json:"auth"`
	}
	body := map[string]any{"role": role, "jwt": jwt}
	if err := v.Do(ctx, http.MethodPost, "auth/"+mount+"/login", body, &out); err != nil {
		return "", fmt.Errorf("login as role %s: %w", role, err)
	}
	return out.Auth.ClientToken, nil
}
