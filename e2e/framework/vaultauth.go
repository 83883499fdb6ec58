package framework

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
)

// AppRoleAuthMount is where the tests enable AppRole auth: Vault's default mount, the one
// the webhook's approle login uses without an auth-path annotation.
const AppRoleAuthMount = "approle"

// NodeJWTAuthMount is where the tests enable a jwt auth method that trusts the node
// cluster's ServiceAccount tokens, beside NodeAuthMount.
const NodeJWTAuthMount = "jwt-node"

// JWTAudience is the audience the jwt auth roles require: not the webhook's default
// (TokenAudience), so a pod reaches them only with the token-audience annotation, which
// the node's chart allows (envexec.allowedTokenAudiences).
const JWTAudience = "https://vault.e2e.example"

// EnableAppRoleAuth enables the AppRole auth method at AppRoleAuthMount.
func (v VaultClient) EnableAppRoleAuth(ctx context.Context) error {
	if err := v.Do(ctx, http.MethodPost, "sys/auth/"+AppRoleAuthMount, map[string]any{"type": "approle"}, nil); err != nil {
		return fmt.Errorf("enable approle auth: %w", err)
	}
	return nil
}

// PutAppRole creates an AppRole with policies and returns its role ID and a new secret
// ID: what a platform team hands a tenant to store in a Secret.
func (v VaultClient) PutAppRole(ctx context.Context, name string, policies ...string) (roleID, secretID string, err error) {
	role := "auth/" + AppRoleAuthMount + "/role/" + name
	if err := v.Do(ctx, http.MethodPost, role, map[string]any{"token_policies": policies, "token_ttl": "10m"}, nil); err != nil {
		return "", "", fmt.Errorf("write approle %s: %w", name, err)
	}
	var id struct {
		Data struct {
			RoleID string `json:"role_id"`
		} `json:"data"`
	}
	if err := v.Do(ctx, http.MethodGet, role+"/role-id", nil, &id); err != nil {
		return "", "", fmt.Errorf("read role id of approle %s: %w", name, err)
	}
	var secret struct {
		Data struct {
			SecretID string `json:"secret_id"`
		} `json:"data"`
	}
	if err := v.Do(ctx, http.MethodPost, role+"/secret-id", nil, &secret); err != nil {
		return "", "", fmt.Errorf("generate secret id of approle %s: %w", name, err)
	}
	return id.Data.RoleID, secret.Data.SecretID, nil
}

// CreateToken creates a Vault token with policies, as a platform team would for a
// tenant that uses token auth.
func (v VaultClient) CreateToken(ctx context.Context, policies ...string) (string, error) {
	var out struct {
		Auth struct {
			ClientToken string `json:"client_token"`
		} `json:"auth"`
	}
	// The default policy lets envexec check the token (lookup-self).
	body := map[string]any{"policies": policies, "ttl": "10m"}
	if err := v.Do(ctx, http.MethodPost, "auth/token/create", body, &out); err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	return out.Auth.ClientToken, nil
}

// EnableJWTAuth enables a jwt auth method at mount (NodeJWTAuthMount) that verifies tokens with the apiserver's service
// account signing keys (its OIDC JWKS, read as the admin and given to Vault as PEM keys)
// and requires the apiserver's issuer.
func (v VaultClient) EnableJWTAuth(ctx context.Context, mount string, api APIEndpoint) error {
	issuer, keys, err := serviceAccountKeys(ctx, api)
	if err != nil {
		return err
	}
	if err := v.Do(ctx, http.MethodPost, "sys/auth/"+mount, map[string]any{"type": "jwt"}, nil); err != nil {
		return fmt.Errorf("enable jwt auth: %w", err)
	}
	cfg := map[string]any{"jwt_validation_pubkeys": keys, "bound_issuer": issuer}
	if err := v.Do(ctx, http.MethodPost, "auth/"+mount+"/config", cfg, nil); err != nil {
		return fmt.Errorf("configure jwt auth: %w", err)
	}
	return nil
}

// PutJWTRole creates a role of the jwt auth method at mount for one ServiceAccount's
// tokens made for JWTAudience.
func (v VaultClient) PutJWTRole(ctx context.Context, mount, name, namespace, serviceAccount string, policies ...string) error {
	body := map[string]any{
		"role_type":       "jwt",
		"bound_audiences": []string{JWTAudience},
		"user_claim":      "sub",
		"bound_subject":   "system:serviceaccount:" + namespace + ":" + serviceAccount,
		"token_policies":  policies,
		"token_ttl":       "10m",
	}
	if err := v.Do(ctx, http.MethodPost, "auth/"+mount+"/role/"+name, body, nil); err != nil {
		return fmt.Errorf("write jwt role %s: %w", name, err)
	}
	return nil
}

// serviceAccountKeys reads the apiserver's issuer and its signing keys as PEM.
func serviceAccountKeys(ctx context.Context, api APIEndpoint) (string, []string, error) {
	c, err := NewCluster(api)
	if err != nil {
		return "", nil, err
	}
	rest := c.Clientset.CoreV1().RESTClient()
	var discovery struct {
		Issuer string `json:"issuer"`
	}
	raw, err := rest.Get().AbsPath("/.well-known/openid-configuration").DoRaw(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("read the apiserver's OIDC discovery: %w", err)
	}
	if err := json.Unmarshal(raw, &discovery); err != nil {
		return "", nil, fmt.Errorf("decode the apiserver's OIDC discovery: %w", err)
	}
	raw, err = rest.Get().AbsPath("/openid/v1/jwks").DoRaw(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("read the apiserver's JWKS: %w", err)
	}
	var jwks struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(raw, &jwks); err != nil {
		return "", nil, fmt.Errorf("decode the apiserver's JWKS: %w", err)
	}
	var keys []string
	for _, k := range jwks.Keys {
		key, err := jwkPEM(k)
		if err != nil {
			return "", nil, err
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return "", nil, errors.New("the apiserver's JWKS holds no key")
	}
	return discovery.Issuer, keys, nil
}

// jwkPEM turns a JSON Web Key (RSA, or EC on P-256 as the apiserver's ES256 keys are)
// into a PEM public key, the form Vault's jwt auth takes.
func jwkPEM(k jwk) (string, error) {
	var pub any
	switch {
	case k.Kty == "RSA":
		n, e, err := decodeB64(k.N, k.E)
		if err != nil {
			return "", err
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	case k.Kty == "EC" && k.Crv == "P-256":
		x, y, err := decodeB64(k.X, k.Y)
		if err != nil || len(x) != 32 || len(y) != 32 {
			return "", fmt.Errorf("JWKS P-256 key: coordinates of %d and %d bytes: %w", len(x), len(y), err)
		}
		ec, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y))
		if err != nil {
			return "", fmt.Errorf("JWKS P-256 key: %w", err)
		}
		pub = ec
	default:
		return "", fmt.Errorf("JWKS key type %q (%q): not RSA or P-256", k.Kty, k.Crv)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encode JWKS key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// jwk is the part of a JSON Web Key a public key is made of.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

func decodeB64(a, b string) ([]byte, []byte, error) {
	ab, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil {
		return nil, nil, fmt.Errorf("JWKS key: %w", err)
	}
	bb, err := base64.RawURLEncoding.DecodeString(b)
	if err != nil {
		return nil, nil, fmt.Errorf("JWKS key: %w", err)
	}
	return ab, bb, nil
}
