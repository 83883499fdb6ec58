package envexec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/vault-injector/vault-injector/envexec/settings"
	"github.com/vault-injector/vault-injector/vaultref"
)

// maxParallel bounds concurrent Vault requests, so a pod with many references cannot
// flood Vault at start-up.
const maxParallel = 8

// slot is one reference of one variable.
type slot struct {
	// v indexes the variables slice (-1 for a from-path secret).
	v   int
	ref vaultref.Ref
	// whole asks for the secret's whole data (from-path) instead of one value.
	whole bool
}

// result is what resolving one slot gave: its value, or why not.
type result struct {
	value string
	// data is the whole secret, for whole slots.
	data map[string]any
	err  error
	// group is shared by all slots that failed in the same Vault call, so one message
	// names every variable it concerns; path names the Vault path in that message.
	group, path string
}

// op is one Vault call shared by every slot that needs it: a mount lookup, a read, a
// write or a transit batch.
type op[T any] struct {
	key   string
	path  string
	users []int
	val   T
	err   error
}

// group collects slot indices into ops by key, in order of first use.
func group[T any](idx []int, key func(i int) (k, path string)) []*op[T] {
	byKey := map[string]*op[T]{}
	var ops []*op[T]
	for _, i := range idx {
		k, path := key(i)
		o, ok := byKey[k]
		if !ok {
			o = &op[T]{key: k, path: path}
			byKey[k] = o
			ops = append(ops, o)
		}
		o.users = append(o.users, i)
	}
	return ops
}

// tasks turns ops into functions that run do and store its answer.
func tasks[T any](ops []*op[T], do func(*op[T]) (T, error)) []func() {
	out := make([]func(), len(ops))
	for i, o := range ops {
		out[i] = func() { o.val, o.err = do(o) }
	}
	return out
}

// runAll runs fns with at most maxParallel at once.
func runAll(fns []func()) {
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			fn()
		})
	}
	wg.Wait()
}

// resolver turns slots into values with one mount lookup per distinct read path, one
// read per distinct (API path, version), one write per distinct (path, body) and one
// transit batch, so "secret/app/db" and "secret/data/app/db" share a read and a
// certificate and its key come from the same pki issue.
type resolver struct {
	c *client
	s settings.Settings
	// leases records every leased secret envexec obtained, for daemon mode.
	mu     sync.Mutex
	leases []leased
}

// leased is a dynamic secret envexec holds a lease on.
type leased struct {
	path string
	sec  secret
}

func (rs *resolver) resolve(ctx context.Context, slots []slot) []result {
	out := make([]result, len(slots))
	var reads, writes, transits []int
	for i, sl := range slots {
		switch sl.ref.Kind {
		case vaultref.Login:
			out[i] = valueResult(sl.ref.Apply(rs.c.token))
		case vaultref.Transit:
			transits = append(transits, i)
		case vaultref.Write:
			writes = append(writes, i)
		default:
			reads = append(reads, i)
		}
	}
	mounts := group[mountInfo](reads, func(i int) (string, string) { return slots[i].ref.Path, slots[i].ref.Path })
	writeOps := group[secret](writes, func(i int) (string, string) {
		return "write " + slots[i].ref.Path + " " + compactBody(slots[i].ref.Body), slots[i].ref.Path
	})
	lookup := func(o *op[mountInfo]) (mountInfo, error) { return rs.c.mount(ctx, o.path) }
	first, rest := splitByFirstSegment(mounts)
	early := earlyReads(slots, reads)
	phase1 := tasks(first, lookup)
	phase1 = append(phase1, tasks(early, func(o *op[secret]) (secret, error) {
		return rs.c.read(ctx, o.path, slots[o.users[0]].ref.Version)
	})...)
	phase1 = append(phase1, tasks(writeOps, func(o *op[secret]) (secret, error) {
		return rs.write(ctx, o.path, slots[o.users[0]].ref.Body)
	})...)
	if len(transits) > 0 {
		phase1 = append(phase1, func() { rs.decrypt(ctx, slots, transits, out) })
	}
	runAll(phase1)
	runAll(tasks(shareMounts(first, rest), lookup))
	for _, o := range writeOps {
		fill(out, slots, o)
	}
	rs.reads(ctx, slots, reads, mounts, early, out)
	return out
}

// readKey names one read: an API path at a version.
func readKey(api string, version int) string {
	return "read " + api + "#" + strconv.Itoa(version)
}

// earlyReads are the reads that can start with the mount lookups instead of after them:
// those of paths written "<mount>/data/<rest>", the form KV v2 users write. On a KV v2
// mount at "<mount>/", and on any KV v1 or other engine, the API path is the path as
// written, so the early read is the very request the lookup would lead to, one round
// trip sooner. reads uses its answer only when the lookup confirms that. Otherwise the
// answer is dropped, never logged or returned: when the lookup fails or refuses a version
// pin, envexec stops anyway (a dynamic secret read early then expires with its lease,
// like any read that succeeded before a failure); when the mount is at "<mount>/data/"
// (a KV mount: no lease), the right path is read next, one GET wasted.
func earlyReads(slots []slot, reads []int) []*op[secret] {
	var idx []int
	for _, i := range reads {
		if seg := strings.SplitN(slots[i].ref.Path, "/", 3); len(seg) == 3 && seg[0] != "" && seg[1] == "data" && seg[2] != "" {
			idx = append(idx, i)
		}
	}
	return group[secret](idx, func(i int) (string, string) {
		return readKey(slots[i].ref.Path, slots[i].ref.Version), slots[i].ref.Path
	})
}

// reads maps each read slot to its API path through its mount, then reads each distinct
// secret once, reusing early reads of the same API path.
func (rs *resolver) reads(ctx context.Context, slots []slot, reads []int, mounts []*op[mountInfo], early []*op[secret], out []result) {
	mountOf := map[string]*op[mountInfo]{}
	for _, m := range mounts {
		mountOf[m.key] = m
	}
	type target struct {
		api string
		kv2 bool
	}
	targets := map[int]target{}
	var ready []int
	for _, i := range reads {
		r := slots[i].ref
		m := mountOf[r.Path]
		if m.err != nil {
			out[i] = result{err: classify(m.err), group: "mount " + r.Path, path: r.Path}
			continue
		}
		api, err := apiPath(m.val, r.Path, r.Version)
		if err != nil {
			out[i] = result{err: err, path: r.Path}
			continue
		}
		targets[i] = target{api: api, kv2: m.val.kvV2()}
		ready = append(ready, i)
	}
	ops := group[secret](ready, func(i int) (string, string) {
		return readKey(targets[i].api, slots[i].ref.Version), slots[i].ref.Path
	})
	done := map[string]*op[secret]{}
	for _, e := range early {
		done[e.key] = e
	}
	runAll(tasks(ops, func(o *op[secret]) (secret, error) {
		i := o.users[0]
		if e, ok := done[o.key]; ok {
			return rs.opened(e.val, e.err, targets[i].api, targets[i].kv2)
		}
		sec, err := rs.c.read(ctx, targets[i].api, slots[i].ref.Version)
		return rs.opened(sec, err, targets[i].api, targets[i].kv2)
	}))
	for _, o := range ops {
		fill(out, slots, o)
	}
}

// opened is what a read of api gave, out of its KV v2 envelope, its lease kept.
func (rs *resolver) opened(sec secret, err error, api string, kv2 bool) (secret, error) {
	if err != nil {
		return secret{}, err
	}
	if kv2 {
		if sec.data, err = unwrapKV2(sec.data); err != nil {
			return secret{}, err
		}
	}
	rs.keep(api, sec)
	return sec, nil
}

func (rs *resolver) write(ctx context.Context, path, body string) (secret, error) {
	if body == "" {
		body = "{}"
	}
	sec, err := rs.c.write(ctx, path, json.RawMessage(body))
	if err != nil {
		return secret{}, err
	}
	rs.keep(path, sec)
	return sec, nil
}

// keep remembers a leased secret for daemon mode.
func (rs *resolver) keep(path string, sec secret) {
	if sec.leaseID == "" || sec.leaseDuration <= 0 {
		return // no lease (a KV v1 "ttl" is only a refresh hint)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.leases = append(rs.leases, leased{path: path, sec: sec})
}

// fill gives every user of a read or write its value, or the call's error.
func fill(out []result, slots []slot, o *op[secret]) {
	for _, i := range o.users {
		if o.err != nil {
			out[i] = result{err: classify(o.err), group: o.key, path: o.path}
			continue
		}
		if slots[i].whole {
			out[i] = result{data: o.val.data, path: o.path}
			continue
		}
		r := valueResult(slots[i].ref.Value(o.val.data))
		r.path = o.path
		out[i] = r
	}
}

// decrypt sends every distinct ciphertext in one transit batch.
func (rs *resolver) decrypt(ctx context.Context, slots []slot, idx []int, out []result) {
	path := rs.s.TransitPath + "/decrypt/" + rs.s.TransitKey
	ops := group[string](idx, func(i int) (string, string) { return slots[i].ref.Ciphertext, path })
	cts := make([]string, len(ops))
	for j, o := range ops {
		cts[j] = o.key
	}
	plain, errs, err := rs.c.decrypt(ctx, rs.s.TransitPath, rs.s.TransitKey, cts)
	for j, o := range ops {
		for _, i := range o.users {
			switch {
			case err != nil:
				out[i] = result{err: classify(err), group: "transit", path: path}
			case errs[j] != nil:
				out[i] = result{err: classify(errs[j]), group: "transit " + o.key, path: path}
			default:
				out[i] = valueResult(slots[i].ref.Apply(plain[j]))
				out[i].path = path
			}
		}
	}
}

// valueResult turns a vaultref evaluation into a result; a missing key is "missing" (a
// pod may ignore it), any other failure to evaluate is a secret error.
func valueResult(v string, err error) result {
	var mk *vaultref.MissingKeyError
	switch {
	case err == nil:
		return result{value: v}
	case errors.As(err, &mk):
		return result{err: fmt.Errorf("%w: %w", errMissing, err)}
	default:
		return result{err: fmt.Errorf("%w: %w", errSecret, err)}
	}
}

// compactBody is a write's identity: the same JSON object, however it is spaced, is the
// same write.
func compactBody(body string) string {
	if body == "" {
		return "{}"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(body)); err != nil {
		return body
	}
	return b.String()
}

// classify marks a permanent Vault failure: a 404 is a missing secret (which a pod may
// ignore), anything else a secret error; errUnreachable stays as it is.
func classify(err error) error {
	var se *statusError
	if errors.As(err, &se) && se.code == 403 && strings.Contains(strings.Join(se.msgs, " "), "invalid token") {
		// Vault forgot the token between login and read: its TTL is shorter than the
		// start-up. Saying "permission denied" would send the user to the wrong policy.
		return fmt.Errorf("%w: the token from the login expired before the reads were done; "+
			"give the role a token_ttl longer than the start-up: %w", errLogin, err)
	}
	if errors.Is(err, errUnreachable) || errors.Is(err, errSecret) || errors.Is(err, errMissing) || errors.Is(err, errReference) {
		return err
	}
	if errors.As(err, &se) && se.code == 404 {
		return fmt.Errorf("%w: %w", errMissing, err)
	}
	return fmt.Errorf("%w: %w", errSecret, err)
}
