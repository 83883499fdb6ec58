package framework

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
)

// Mount paths of the secrets engines StartVault enables next to the dev server's KV v2
// at secret/. They are envexec's defaults (transit) or what docs/references.md uses
// (pki), so pods need no annotation for them.
const (
	PKIMount     = "pki"
	TransitMount = "transit"
)

// EnableEngines mounts the PKI engine with a root CA (for dynamic-secret writes such as
// pki/issue/ROLE) and the transit engine (for vault:v1: ciphertexts). Roles and keys are
// per tenant: see Tenant.AddPKIRole and Tenant.AddTransitKey.
func (v VaultClient) EnableEngines(ctx context.Context) error {
	steps := []struct {
		path string
		body map[string]any
	}{
		{"sys/mounts/" + PKIMount, map[string]any{"type": "pki", "config": map[string]any{"max_lease_ttl": "24h"}}},
		{PKIMount + "/root/generate/internal", map[string]any{"common_name": "vault-injector e2e root", "ttl": "24h", "key_type": "ec"}},
		{"sys/mounts/" + TransitMount, map[string]any{"type": "transit"}},
	}
	for _, s := range steps {
		if err := v.Do(ctx, http.MethodPost, s.path, s.body, nil); err != nil {
			return fmt.Errorf("enable secrets engines: %w", err)
		}
	}
	return nil
}

// PolicyRule grants capabilities on a path (globs allowed) in an ACL policy.
type PolicyRule struct {
	Path         string
	Capabilities []string
}

// Read allows reading the given API paths.
func Read(paths ...string) []PolicyRule {
	rules := make([]PolicyRule, len(paths))
	for i, p := range paths {
		rules[i] = PolicyRule{Path: p, Capabilities: []string{"read"}}
	}
	return rules
}

// PutPolicy writes (or replaces) an ACL policy made of rules.
func (v VaultClient) PutPolicy(ctx context.Context, name string, rules ...PolicyRule) error {
	var hcl strings.Builder
	for _, r := range rules {
		fmt.Fprintf(&hcl, "path %q {\n  capabilities = [\"%s\"]\n}\n", r.Path, strings.Join(r.Capabilities, `", "`))
	}
	if err := v.Do(ctx, http.MethodPut, "sys/policies/acl/"+name, map[string]any{"policy": hcl.String()}, nil); err != nil {
		return fmt.Errorf("write policy %s: %w", name, err)
	}
	return nil
}

// Encrypt returns the transit ciphertext ("vault:v1:...") of plaintext under key.
func (v VaultClient) Encrypt(ctx context.Context, key, plaintext string) (string, error) {
	var out struct {
		Data struct {
			Ciphertext string `json:"ciphertext"`
		} `json:"data"`
	}
	body := map[string]any{"plaintext": base64.StdEncoding.EncodeToString([]byte(plaintext))}
	if err := v.Do(ctx, http.MethodPost, TransitMount+"/encrypt/"+key, body, &out); err != nil {
		return "", fmt.Errorf("encrypt with transit key %s: %w", key, err)
	}
	return out.Data.Ciphertext, nil
}
