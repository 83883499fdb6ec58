package envexec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vault-injector/vault-injector/envexec/settings"
	"github.com/vault-injector/vault-injector/vaultref"
)

// variable is one environment entry, one argument of the application, or one file,
// whose value holds references.
type variable struct {
	// index is the entry's position in environ (or in argv for an argument), so
	// duplicates and order survive.
	index int
	// name is the variable's name, "argv[N]" for an argument, or a file's path.
	name string
	// arg is true for an argument of the application: it cannot be left out (that would
	// shift the others), so a missing secret fails even with ENVEXEC_IGNORE_MISSING.
	arg bool
	// file is true for a file (ENVEXEC_FILES); index is then its position there. A file
	// cannot be left out either.
	file bool
	tmpl vaultref.Template
}

// findVariables scans every entry of environ with vaultref's scanner (the one the webhook
// uses) and reports all malformed references at once. envexec's own ENVEXEC_* settings
// are never scanned.
func findVariables(environ []string) ([]variable, error) {
	var vars []variable
	var errs []error
	for i, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || strings.HasPrefix(name, settings.EnvPrefix) || !vaultref.HasRefs(value) {
			continue
		}
		v, err := scanVariable(variable{index: i, name: name}, value)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		vars = append(vars, v)
	}
	return vars, errors.Join(errs...)
}

// findArguments scans the application's command line (argv[0] is the command) the same
// way: the webhook wraps a container whose command or args hold references, and the
// kubelet hands them over as written (its $(VAR) expansion is another syntax).
func findArguments(argv []string) ([]variable, error) {
	var args []variable
	var errs []error
	for i, a := range argv {
		if !vaultref.HasRefs(a) {
			continue
		}
		v, err := scanVariable(variable{index: i, name: argName(i), arg: true}, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		args = append(args, v)
	}
	return args, errors.Join(errs...)
}

func argName(i int) string {
	return "argv[" + strconv.Itoa(i) + "]"
}

func scanVariable(v variable, value string) (variable, error) {
	t, err := vaultref.Scan(value)
	if err != nil {
		return variable{}, v.fail(fmt.Errorf("%w: %w", errReference, err))
	}
	v.tmpl = t
	return v, nil
}

// fail ties err to this variable or argument.
func (v variable) fail(err error) *refError {
	e := &refError{err: err}
	e.add(v)
	return e
}

// checkPolicy refuses, before Vault is contacted, references the pod has not enabled:
// vault:login without ENVEXEC_ALLOW_LOGIN, transit ciphertexts without a transit key.
func checkPolicy(vars []variable, s settings.Settings) error {
	var errs []error
	for _, v := range vars {
		for _, r := range v.tmpl.Refs {
			var reason string
			switch {
			case r.Kind == vaultref.Login && !s.AllowLogin:
				reason = "vault:login gives the application the Vault token, which this pod does not allow (" + settings.EnvAllowLogin + " is not true)"
			case r.Kind == vaultref.Transit && s.TransitKey == "":
				reason = "a transit ciphertext needs a transit key, and " + settings.EnvTransitKey + " is not set"
			default:
				continue
			}
			errs = append(errs, v.fail(fmt.Errorf("%w: %s", errReference, reason)))
			break
		}
	}
	return errors.Join(errs...)
}
