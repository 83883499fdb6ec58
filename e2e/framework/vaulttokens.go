package framework

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// RoleTokens returns the accessors of the live tokens that a login to the Kubernetes
// auth method at mount as role created (meta.role, as Vault records it), as the root
// token sees them. A token revoked while it looks is not counted.
func (v VaultClient) RoleTokens(ctx context.Context, mount, role string) ([]string, error) {
	var list struct {
		Data struct {
			Keys []string `json:"keys"`
		} `json:"data"`
	}
	if err := v.Do(ctx, "LIST", "auth/token/accessors", nil, &list); err != nil {
		return nil, err
	}
	var out []string
	for _, accessor := range list.Data.Keys {
		var info struct {
			Data struct {
				Path string            `json:"path"`
				Meta map[string]string `json:"meta"`
			} `json:"data"`
		}
		err := v.Do(ctx, http.MethodPost, "auth/token/lookup-accessor", map[string]string{"accessor": accessor}, &info)
		if err != nil {
			if strings.Contains(err.Error(), "400 Bad Request") {
				continue // revoked since the list: Vault says "invalid accessor"
			}
			return nil, fmt.Errorf("look up a token accessor: %w", err)
		}
		if info.Data.Path == "auth/"+mount+"/login" && info.Data.Meta["role"] == role {
			out = append(out, accessor)
		}
	}
	return out, nil
}

// Revoke revokes a token, as its holder would.
func (v VaultClient) Revoke(ctx context.Context, token string) error {
	return v.Do(ctx, http.MethodPost, "auth/token/revoke", map[string]string{"token": token}, nil)
}
