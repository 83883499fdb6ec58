package envexec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vault-injector/vault-injector/vaultref"
)

// variable is one environment entry whose value holds references.
type variable struct {
	// index is the entry's position in environ, so duplicates and order survive.
	index int
	name  string
	tmpl  vaultref.Template
}

// findVariables scans every entry of environ with vaultref's scanner (the one the webhook
// uses) and reports all malformed references at once. envexec's own ENVEXEC_* settings
// are never scanned.
func findVariables(environ []string) ([]variable, error) {
	var vars []variable
	var errs []error
	for i, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || strings.HasPrefix(name, EnvPrefix) || !vaultref.HasRefs(value) {
			continue
		}
		t, err := vaultref.Scan(value)
		if err != nil {
			errs = append(errs, &refError{variables: []string{name}, err: fmt.Errorf("%w: %w", errReference, err)})
			continue
		}
		vars = append(vars, variable{index: i, name: name, tmpl: t})
	}
	return vars, errors.Join(errs...)
}

// checkPolicy refuses, before Vault is contacted, references the pod has not enabled:
// vault:login without ENVEXEC_ALLOW_LOGIN, transit ciphertexts without a transit key.
func checkPolicy(vars []variable, s Settings) error {
	var errs []error
	for _, v := range vars {
		for _, r := range v.tmpl.Refs {
			var reason string
			switch {
			case r.Kind == vaultref.Login && !s.AllowLogin:
				reason = "vault:login gives the application the Vault token, which this pod does not allow (" + EnvAllowLogin + " is not true)"
			case r.Kind == vaultref.Transit && s.TransitKey == "":
				reason = "a transit ciphertext needs a transit key, and " + EnvTransitKey + " is not set"
			default:
				continue
			}
			errs = append(errs, &refError{variables: []string{v.name}, err: fmt.Errorf("%w: %s", errReference, reason)})
			break
		}
	}
	return errors.Join(errs...)
}
