package envexec

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/vault-injector/vault-injector/envexec/settings"
	"github.com/vault-injector/vault-injector/vaultref"
)

// outcome of resolution for the environment: new values by environ index, and the
// entries to drop (missing secrets a pod chose to ignore); new arguments by argv index.
type resolved struct {
	values map[int]string
	unset  map[int]bool
	args   map[int]string
	// files are the contents of the files, by index in ENVEXEC_FILES.
	files map[int]string
	// extra are the from-path variables, "NAME=VALUE", sorted by name.
	extra []string
}

// finish renders each variable and argument from its needs' answers. With
// ignoreMissing, a variable whose only failures are missing secrets or keys is left
// unset (and a warning logged); an argument cannot be left out, so it fails. Every other
// failure is an error naming the variables, arguments and path, grouped per Vault call.
func finish(vars []variable, needs []*need, ignoreMissing bool, log *slog.Logger) (resolved, error) {
	res := resolved{values: map[int]string{}, unset: map[int]bool{}, args: map[int]string{}, files: map[int]string{}}
	byUser := map[*variable][]*need{}
	for _, n := range needs {
		if n.user != nil {
			byUser[n.user] = append(byUser[n.user], n)
		}
	}
	var bad []*need
	filesTotal := 0
	for i := range vars {
		vr := &vars[i]
		own := byUser[vr]
		failed := failures(own)
		switch {
		case len(failed) == 0 && vr.file:
			content, err := renderFile(vr, values(own), &filesTotal)
			if err != nil {
				return resolved{}, err
			}
			res.files[vr.index] = content
		case len(failed) == 0:
			value := vr.tmpl.Render(values(own))
			if strings.IndexByte(value, 0) >= 0 {
				return resolved{}, vr.fail(fmt.Errorf("%w: the value contains a NUL byte, which an environment variable or argument cannot hold", errSecret))
			}
			if vr.arg {
				res.args[vr.index] = value
			} else {
				res.values[vr.index] = value
			}
		case ignoreMissing && !vr.arg && !vr.file && allMissing(failed):
			res.unset[vr.index] = true
			log.Warn("secret missing, variable left unset", "variable", vr.name, "path", failed[0].path, "error", failed[0].err.Error())
		default:
			bad = append(bad, failed...)
		}
	}
	if len(bad) == 0 {
		return res, nil
	}
	return resolved{}, groupErrors(bad)
}

// renderFile renders a file from its answers, bounded before rendering: a template of
// 16 KiB naming one large secret a thousand times would otherwise take its container's
// memory first. total adds up the files rendered so far.
func renderFile(vr *variable, vals []string, total *int) (string, error) {
	n := vr.tmpl.Len(vals)
	if *total += n; n > settings.MaxFileSize || *total > maxFilesTotal {
		return "", vr.fail(fmt.Errorf("%w: the file would be larger than %d bytes, or the files than %d together",
			errSecret, settings.MaxFileSize, maxFilesTotal))
	}
	return vr.tmpl.Render(vals), nil
}

// values are the answers of needs, in order.
func values(needs []*need) []string {
	out := make([]string, len(needs))
	for i, n := range needs {
		out[i] = n.value
	}
	return out
}

// failures are the needs that got an error.
func failures(needs []*need) []*need {
	var out []*need
	for _, n := range needs {
		if n.err != nil {
			out = append(out, n)
		}
	}
	return out
}

func allMissing(failed []*need) bool {
	for _, n := range failed {
		if !errors.Is(n.err, errMissing) || errors.Is(n.err, errUnreachable) {
			return false
		}
	}
	return true
}

// groupErrors makes one refError per failing Vault call (or per need when the failure is
// its own), naming each user once, in the order the failures appear.
func groupErrors(bad []*need) error {
	var errs []error
	byGroup := map[string]*refError{}
	for _, n := range bad {
		if e, ok := byGroup[n.group]; ok && n.group != "" {
			e.add(*n.user)
			continue
		}
		e := &refError{path: n.path, err: n.err}
		e.add(*n.user)
		if n.group != "" {
			byGroup[n.group] = e
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// buildEnv is the application's environment: environ with resolved values substituted,
// ignored variables dropped, and envexec's settings removed (except those the pod passes
// through). As the last check before exec, every entry that held a reference must have
// been substituted or dropped: a reference never reaches the application as text.
func buildEnv(environ []string, res resolved, passthrough []string) ([]string, error) {
	out := make([]string, 0, len(environ)+len(res.extra))
	explicit := make(map[string]bool, len(environ))
	for i, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		explicit[name] = true
		switch v, ok := res.values[i]; {
		case res.unset[i]:
		case ok:
			out = append(out, name+"="+v)
		case strings.HasPrefix(name, settings.EnvPrefix):
			if slices.Contains(passthrough, name) {
				out = append(out, kv)
			}
		case vaultref.HasRefs(value):
			return nil, fmt.Errorf("%w: variable %s still holds a reference after resolution", errReference, name)
		default:
			out = append(out, kv)
		}
	}
	for _, kv := range res.extra {
		if name, _, _ := strings.Cut(kv, "="); !explicit[name] {
			out = append(out, kv)
		}
	}
	return out, nil
}

// buildArgv is the application's command line with its resolved arguments substituted.
// Like buildEnv it checks, last before exec, that no argument still holds a reference.
func buildArgv(argv []string, res resolved) ([]string, error) {
	out := make([]string, len(argv))
	for i, a := range argv {
		switch v, ok := res.args[i]; {
		case ok:
			out[i] = v
		case vaultref.HasRefs(a):
			return nil, fmt.Errorf("%w: argument %s still holds a reference after resolution", errReference, argName(i))
		default:
			out[i] = a
		}
	}
	return out, nil
}
