package envexec

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/vault-injector/vault-injector/envexec/settings"
	"github.com/vault-injector/vault-injector/vaultref"
)

// fromPathVariables turns every key of each from-path secret (the whole needs) into "NAME=VALUE", sorted by
// name. A later path wins over an earlier one; the caller lets explicit variables win
// over all of them. A missing secret is an error unless ignoreMissing.
func fromPathVariables(needs []*need, ignoreMissing bool, log *slog.Logger) ([]string, error) {
	values := map[string]string{}
	var errs []error
	for _, r := range needs {
		if !r.whole {
			continue
		}
		p := r.from
		if r.err != nil {
			if ignoreMissing && allMissing([]*need{r}) {
				log.Warn("secret missing, from-path entry skipped", "path", p.String(), "error", r.err.Error())
				continue
			}
			errs = append(errs, &refError{variables: []string{settings.EnvFromPath}, path: p.String(), err: r.err})
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(r.data)) {
			v, err := vaultref.Text(r.data[key])
			if err == nil {
				err = checkFromPathEntry(key, v)
			}
			if err != nil {
				errs = append(errs, &refError{variables: []string{settings.EnvFromPath}, path: p.String(), err: err})
				continue
			}
			values[key] = v
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(values))
	for _, name := range slices.Sorted(maps.Keys(values)) {
		out = append(out, name+"="+values[name])
	}
	return out, nil
}

// checkFromPathEntry refuses keys that cannot be variable names (or would pose as
// envexec's settings) and values an environment cannot hold. It names keys, never values.
func checkFromPathEntry(key, value string) error {
	switch {
	case key == "" || strings.ContainsAny(key, "=\x00"):
		return fmt.Errorf("%w: key %q cannot be an environment variable name", errSecret, key)
	case strings.HasPrefix(key, settings.EnvPrefix):
		return fmt.Errorf("%w: key %q uses the reserved prefix %s", errSecret, key, settings.EnvPrefix)
	case strings.IndexByte(value, 0) >= 0:
		return fmt.Errorf("%w: the value of key %q contains a NUL byte, which an environment variable cannot hold", errSecret, key)
	}
	return nil
}
