package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// KVCanaries returns the canaries held by every KV v2 secret under folder of the
// "secret/" mount (recursively), as the root token reads them: the values a spec stored
// for its pods, which must appear nowhere but in the applications.
func (v VaultClient) KVCanaries(ctx context.Context, folder string) ([]string, error) {
	folder = strings.Trim(folder, "/") + "/"
	var list struct {
		Data struct {
			Keys []string `json:"keys"`
		} `json:"data"`
	}
	err := v.Do(ctx, "LIST", "secret/metadata/"+folder, nil, &list)
	if err != nil && strings.Contains(err.Error(), ": 404 ") {
		return nil, nil // Vault answers an empty folder with 404: nothing stored there
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range list.Data.Keys {
		if strings.HasSuffix(k, "/") {
			sub, err := v.KVCanaries(ctx, folder+k)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			continue
		}
		var secret struct {
			Data struct {
				Data json.RawMessage `json:"data"`
			} `json:"data"`
		}
		if err := v.Do(ctx, http.MethodGet, "secret/data/"+folder+k, nil, &secret); err != nil {
			return nil, fmt.Errorf("read the canaries of %s: %w", folder+k, err)
		}
		out = append(out, CanariesIn(secret.Data.Data)...)
	}
	return out, nil
}
