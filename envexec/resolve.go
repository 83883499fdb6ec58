package envexec

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/vault-injector/vault-injector/vaultref"
)

// maxParallel bounds concurrent Vault requests, so a pod with many references cannot
// flood Vault at start-up.
const maxParallel = 8

// reference is one environment entry whose value is a vault: reference.
type reference struct {
	// index is the entry's position in environ, so duplicates and order survive.
	index    int
	variable string
	ref      vaultref.Ref
}

// findReferences parses every reference in environ and reports all malformed ones at
// once. envexec's own ENVEXEC_* settings are never references.
func findReferences(environ []string) ([]reference, error) {
	var refs []reference
	var errs []error
	for i, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || strings.HasPrefix(name, EnvPrefix) || !vaultref.IsRef(value) {
			continue
		}
		r, err := vaultref.Parse(value)
		if err != nil {
			errs = append(errs, &refError{variables: []string{name}, err: fmt.Errorf("%w: %w", errReference, err)})
			continue
		}
		refs = append(refs, reference{index: i, variable: name, ref: r})
	}
	return refs, errors.Join(errs...)
}

// secretID is one read: an API path, an optional version pin, and whether the answer
// is a KV v2 envelope ({"data": {...}, "metadata": {...}}).
type secretID struct {
	apiPath string
	version int
	kv2     bool
}

func compareIDs(a, b secretID) int {
	return cmp.Or(strings.Compare(a.apiPath, b.apiPath), cmp.Compare(a.version, b.version))
}

// resolver turns references into values with one mount lookup per distinct path and
// one read per distinct secretID, so "secret/app/db" and "secret/data/app/db" share a read.
type resolver struct {
	c *client
}

// resolve returns the value of each reference, keyed by its environ index.
func (rs *resolver) resolve(ctx context.Context, refs []reference) (map[int]string, error) {
	mounts, err := rs.mounts(ctx, refs)
	if err != nil {
		return nil, err
	}
	ids := make(map[int]secretID, len(refs))
	var errs []error
	for _, r := range refs {
		p, err := apiPath(mounts[r.ref.Path], r.ref.Path, r.ref.Version)
		if err != nil {
			errs = append(errs, &refError{variables: []string{r.variable}, path: r.ref.Path, err: err})
			continue
		}
		ids[r.index] = secretID{apiPath: p, version: r.ref.Version, kv2: mounts[r.ref.Path].kvV2()}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	secrets, err := rs.read(ctx, refs, ids)
	if err != nil {
		return nil, err
	}
	values := make(map[int]string, len(refs))
	for _, r := range refs {
		v, err := lookupKey(secrets[ids[r.index]], r.ref.Key)
		if err != nil {
			errs = append(errs, &refError{variables: []string{r.variable}, path: r.ref.Path, err: err})
			continue
		}
		values[r.index] = v
	}
	return values, errors.Join(errs...)
}

// mounts looks up the engine behind each distinct reference path, in parallel.
func (rs *resolver) mounts(ctx context.Context, refs []reference) (map[string]mountInfo, error) {
	users := map[string][]string{}
	for _, r := range refs {
		users[r.ref.Path] = append(users[r.ref.Path], r.variable)
	}
	paths := slices.Sorted(maps.Keys(users))
	out := make(map[string]mountInfo, len(paths))
	var mu sync.Mutex
	errs := forEach(paths, func(p string) error {
		m, err := rs.c.mount(ctx, p)
		if err != nil {
			return &refError{variables: users[p], path: p, err: classify(err)}
		}
		mu.Lock()
		defer mu.Unlock()
		out[p] = m
		return nil
	})
	return out, errors.Join(errs...)
}

// read fetches each distinct secretID once, in parallel.
func (rs *resolver) read(ctx context.Context, refs []reference, ids map[int]secretID) (map[secretID]map[string]any, error) {
	users := map[secretID][]string{}
	written := map[secretID]string{} // the path as the first user wrote it, for messages
	for _, r := range refs {
		id := ids[r.index]
		users[id] = append(users[id], r.variable)
		if _, ok := written[id]; !ok {
			written[id] = r.ref.Path
		}
	}
	keys := slices.SortedFunc(maps.Keys(users), compareIDs)
	out := make(map[secretID]map[string]any, len(keys))
	var mu sync.Mutex
	errs := forEach(keys, func(id secretID) error {
		data, err := rs.c.read(ctx, id.apiPath, id.version)
		if err == nil && id.kv2 {
			data, err = unwrapKV2(data)
		}
		if err != nil {
			return &refError{variables: users[id], path: written[id], err: classify(err)}
		}
		mu.Lock()
		defer mu.Unlock()
		out[id] = data
		return nil
	})
	return out, errors.Join(errs...)
}

// classify marks a permanent Vault failure as errSecret; errUnreachable stays as is.
func classify(err error) error {
	if errors.Is(err, errUnreachable) || errors.Is(err, errSecret) || errors.Is(err, errReference) {
		return err
	}
	return fmt.Errorf("%w: %w", errSecret, err)
}

// forEach runs fn on every item with at most maxParallel at once and returns the
// errors in item order.
func forEach[T any](items []T, fn func(T) error) []error {
	errs := make([]error, len(items))
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = fn(it)
		})
	}
	wg.Wait()
	return errs
}

// apiPath turns a reference path into the path to GET, as the Vault CLI does: on a
// KV v2 mount the API path is <mount>data/<rest>, and a path that already has "data/"
// right after the mount is kept as written.
func apiPath(m mountInfo, path string, version int) (string, error) {
	if !m.kvV2() {
		if version > 0 {
			return "", fmt.Errorf("%w: version pin #%d needs a kv v2 mount, but this is %s", errReference, version, m)
		}
		return path, nil
	}
	rest, ok := strings.CutPrefix(path, m.path)
	if !ok || rest == "" || rest == "data" || rest == "data/" {
		return "", fmt.Errorf("%w: path names %s, not a secret in it", errReference, m)
	}
	if strings.HasPrefix(rest, "data/") {
		return path, nil
	}
	return m.path + "data/" + rest, nil
}

// unwrapKV2 opens the KV v2 envelope; a null "data" is a deleted or destroyed version.
func unwrapKV2(data map[string]any) (map[string]any, error) {
	inner, ok := data["data"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: this version of the secret is deleted or destroyed", errSecret)
	}
	return inner, nil
}

// lookupKey extracts key from a secret's data and renders it as env text.
func lookupKey(data map[string]any, key string) (string, error) {
	v, ok := data[key]
	if !ok {
		return "", fmt.Errorf("%w: key %q not found (the secret has %s)", errSecret, key, keyList(data))
	}
	return render(v)
}

func keyList(data map[string]any) string {
	if len(data) == 0 {
		return "no keys"
	}
	keys := slices.Sorted(maps.Keys(data))
	if len(keys) > 10 {
		keys = append(keys[:10], "...")
	}
	return plural("key", len(data)) + " " + strings.Join(keys, ", ")
}

// render turns a value into env text: strings as they are, anything else as JSON
// (numbers exactly as Vault sent them, no HTML escaping).
func render(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("rendering a %T value as JSON: %w", v, err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
