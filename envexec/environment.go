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

// slotsOf lists every reference of every variable, in environment order.
func slotsOf(vars []variable) []slot {
	var slots []slot
	for v, vr := range vars {
		for _, r := range vr.tmpl.Refs {
			slots = append(slots, slot{v: v, ref: r})
		}
	}
	return slots
}

// outcome of resolution for the environment: new values by environ index, and the
// entries to drop (missing secrets a pod chose to ignore); new arguments by argv index.
type resolved struct {
	values map[int]string
	unset  map[int]bool
	args   map[int]string
	// extra are the from-path variables, "NAME=VALUE", sorted by name.
	extra []string
}

// finish renders each variable and argument from its slots' results. With
// ignoreMissing, a variable whose only failures are missing secrets or keys is left
// unset (and a warning logged); an argument cannot be left out, so it fails. Every other
// failure is an error naming the variables, arguments and path, grouped per Vault call.
func finish(vars []variable, slots []slot, results []result, ignoreMissing bool, log *slog.Logger) (resolved, error) {
	res := resolved{values: map[int]string{}, unset: map[int]bool{}, args: map[int]string{}}
	perVar := make([][]string, len(vars))
	failed := make([][]int, len(vars))
	for i, sl := range slots {
		if results[i].err != nil {
			failed[sl.v] = append(failed[sl.v], i)
		}
		perVar[sl.v] = append(perVar[sl.v], results[i].value)
	}
	var bad []int
	for v, vr := range vars {
		switch {
		case len(failed[v]) == 0:
			value := vr.tmpl.Render(perVar[v])
			if strings.IndexByte(value, 0) >= 0 {
				return resolved{}, vr.fail(fmt.Errorf("%w: the value contains a NUL byte, which an environment variable or argument cannot hold", errSecret))
			}
			if vr.arg {
				res.args[vr.index] = value
			} else {
				res.values[vr.index] = value
			}
		case ignoreMissing && !vr.arg && allMissing(results, failed[v]):
			res.unset[vr.index] = true
			first := results[failed[v][0]]
			log.Warn("secret missing, variable left unset", "variable", vr.name, "path", first.path, "error", first.err.Error())
		default:
			bad = append(bad, failed[v]...)
		}
	}
	if len(bad) == 0 {
		return res, nil
	}
	slices.Sort(bad)
	return resolved{}, groupErrors(vars, slots, results, bad)
}

func allMissing(results []result, idx []int) bool {
	for _, i := range idx {
		if !errors.Is(results[i].err, errMissing) || errors.Is(results[i].err, errUnreachable) {
			return false
		}
	}
	return true
}

// groupErrors makes one refError per failing Vault call (or per slot when the failure is
// its own), naming each variable once, in the order the failures appear.
func groupErrors(vars []variable, slots []slot, results []result, bad []int) error {
	var errs []error
	byGroup := map[string]*refError{}
	for _, i := range bad {
		r, v := results[i], vars[slots[i].v]
		key := r.group
		if key == "" {
			key = fmt.Sprintf("slot %d", i)
		}
		if e, ok := byGroup[key]; ok {
			e.add(v)
			continue
		}
		e := &refError{path: r.path, err: r.err}
		e.add(v)
		byGroup[key] = e
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
