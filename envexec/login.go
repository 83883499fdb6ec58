package envexec

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// authenticate obtains envexec's Vault token with the configured method. Every failure
// wraps errLogin (exit 4), or errUnreachable when Vault did not answer in time.
func (c *client) authenticate(ctx context.Context, s settings.Settings) error {
	switch s.AuthMethod {
	case settings.AuthToken:
		token, err := readCredential(s.VaultTokenFile, "Vault token file")
		if err != nil {
			return err
		}
		c.token = token
		c.redact(token)
		return c.lookupSelf(ctx)
	case settings.AuthAppRole:
		roleID, err := readCredential(s.RoleIDFile, "role ID file")
		if err != nil {
			return err
		}
		body := map[string]string{"role_id": roleID}
		secretID, err := readSecretID(s.SecretIDFile)
		if err != nil {
			return err
		}
		if secretID != "" {
			body["secret_id"] = secretID
		}
		c.redact(roleID, secretID)
		return c.login(ctx, s.AuthPath, body, "with approle at auth/"+s.AuthPath)
	default:
		jwt, err := readCredential(s.TokenFile, "token file")
		if err != nil {
			return err
		}
		c.redact(jwt)
		body := map[string]string{"role": s.Role, "jwt": jwt}
		return c.login(ctx, s.AuthPath, body, fmt.Sprintf("as role %q at auth/%s", s.Role, s.AuthPath))
	}
}

// readCredential reads a login credential; a missing file usually means the pod does not
// mount it (for the default token file: automountServiceAccountToken is off).
func readCredential(file, what string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%w: reading the %s: %w", errLogin, what, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%w: %s %s is empty", errLogin, what, file)
	}
	return v, nil
}

// readSecretID reads the AppRole secret ID, or "" when there is none: no file is named,
// or the named file does not exist. The webhook mounts a Secret's secret_id as an optional
// item, since roles with bind_secret_id=false have none; a role that needs one then
// refuses the login with Vault's own "missing secret_id".
func readSecretID(file string) (string, error) {
	if file == "" {
		return "", nil
	}
	if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return readCredential(file, "secret ID file")
}

// authResponse is the auth block of a login answer.
type authResponse struct {
	Auth *struct {
		ClientToken   string `json:"client_token"`
		LeaseDuration int64  `json:"lease_duration"`
		Renewable     bool   `json:"renewable"`
	} `json:"auth"`
}

// login POSTs body to auth/{authPath}/login; who describes the identity in messages.
func (c *client) login(ctx context.Context, authPath string, body map[string]string, who string) error {
	var out authResponse
	err := c.call(ctx, request{method: http.MethodPost, path: "auth/" + authPath + "/login", body: body}, &out)
	switch {
	case errors.Is(err, errUnreachable):
		return fmt.Errorf("vault login %s: %w", who, err)
	case err != nil:
		return fmt.Errorf("%w %s: %w", errLogin, who, err)
	case out.Auth == nil || out.Auth.ClientToken == "":
		return fmt.Errorf("%w %s: response has no client token", errLogin, who)
	}
	c.setToken(out)
	return nil
}

func (c *client) setToken(out authResponse) {
	c.token = out.Auth.ClientToken
	c.tokenTTL = time.Duration(out.Auth.LeaseDuration) * time.Second
	c.tokenRenewable = out.Auth.Renewable
	c.redact(c.token)
}

// lookupSelf checks a given token and learns its TTL, so a bad token fails as a login
// failure (exit 4) rather than as a denied read.
func (c *client) lookupSelf(ctx context.Context) error {
	var out struct {
		Data struct {
			TTL       int64 `json:"ttl"`
			Renewable bool  `json:"renewable"`
		} `json:"data"`
	}
	err := c.call(ctx, request{method: http.MethodGet, path: "auth/token/lookup-self"}, &out)
	switch {
	case errors.Is(err, errUnreachable):
		return fmt.Errorf("checking the Vault token: %w", err)
	case err != nil:
		return fmt.Errorf("%w: checking the Vault token from %s: %w", errLogin, settings.EnvVaultTokenFile, err)
	}
	c.tokenTTL = time.Duration(out.Data.TTL) * time.Second
	c.tokenRenewable = out.Data.Renewable
	return nil
}

// revokeTimeout bounds revoking the token before exec: the application waits for it.
const revokeTimeout = 5 * time.Second

// revokeSelf revokes envexec's token (POST auth/token/revoke-self), so a token nobody
// needs any more does not outlive the start-up by its TTL.
func (c *client) revokeSelf(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, revokeTimeout)
	defer cancel()
	if err := c.call(ctx, request{method: http.MethodPost, path: "auth/token/revoke-self"}, nil); err != nil {
		return fmt.Errorf("revoking the vault token: %w", err)
	}
	return nil
}

// redact adds credentials to scrub from Vault's error messages (empty ones mean nothing).
func (c *client) redact(values ...string) {
	for _, v := range values {
		if v != "" && !slices.Contains(c.sensitive, v) {
			c.sensitive = append(c.sensitive, v)
		}
	}
}
