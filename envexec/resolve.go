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

// need is one value a user waits for from Vault: one reference of a variable, argument
// or file, or (whole) the data of a from-path secret. It carries its own answer, so no
// slice runs parallel to the needs.
type need struct {
	// user is the variable, argument or file the reference belongs to; nil for a
	// from-path secret.
	user *variable
	// from is the from-path entry a whole need reads.
	from vaultref.PathRef
	ref  vaultref.Ref
	// whole asks for the secret's whole data (from-path) instead of one value.
	whole bool
	result
}

// result is what resolving one need gave: its value, or why not.
type result struct {
	value string
	// data is the whole secret, for whole needs.
	data map[string]any
	err  error
	// group is shared by all needs that failed in the same Vault call, so one message
	// names every user it concerns; path names the Vault path in that message.
	group, path string
}

// needsOf lists every reference of every user, in order, then one whole need per
// from-path secret.
func needsOf(users []variable, fromPath []vaultref.PathRef) []*need {
	var needs []*need
	for u := range users {
		for _, r := range users[u].tmpl.Refs {
			needs = append(needs, &need{user: &users[u], ref: r})
		}
	}
	for _, p := range fromPath {
		needs = append(needs, &need{from: p, whole: true, ref: vaultref.Ref{Path: p.Path, Version: p.Version}})
	}
	return needs
}

// call is one Vault request and the needs it answers: a mount lookup, a read, a write or
// one ciphertext of the transit batch.
type call[T any] struct {
	key   string
	path  string
	users []*need
	val   T
	err   error
}

// gather groups needs into calls by key, in order of first use.
func gather[T any](needs []*need, key func(n *need) (k, path string)) []*call[T] {
	byKey := map[string]*call[T]{}
	var calls []*call[T]
	for _, n := range needs {
		k, path := key(n)
		c, ok := byKey[k]
		if !ok {
			c = &call[T]{key: k, path: path}
			byKey[k] = c
			calls = append(calls, c)
		}
		c.users = append(c.users, n)
	}
	return calls
}

// tasks turns calls into functions that run do and store its answer.
func tasks[T any](calls []*call[T], do func(*call[T]) (T, error)) []func() {
	out := make([]func(), len(calls))
	for i, c := range calls {
		out[i] = func() { c.val, c.err = do(c) }
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

// plan is the Vault calls one resolution makes, each distinct request once: one mount
// lookup per read path, one read per (API path, version) (planned once the mounts are
// known), one write per (path, body) and one transit batch, so "secret/app/db" and
// "secret/data/app/db" share a read and a certificate and its key come from the same pki
// issue.
type plan struct {
	// local are vault:login references, answered with envexec's token.
	local   []*need
	mounts  []*call[mountInfo]
	early   []*call[secret]
	writes  []*call[secret]
	transit []*call[string]
}

// planFor sorts needs into calls.
func planFor(needs []*need) plan {
	var p plan
	var reads, transits, writes []*need
	for _, n := range needs {
		switch n.ref.Kind {
		case vaultref.Login:
			p.local = append(p.local, n)
		case vaultref.Transit:
			transits = append(transits, n)
		case vaultref.Write:
			writes = append(writes, n)
		default:
			reads = append(reads, n)
		}
	}
	p.mounts = gather[mountInfo](reads, func(n *need) (string, string) { return n.ref.Path, n.ref.Path })
	p.early = earlyReads(reads)
	p.writes = gather[secret](writes, func(n *need) (string, string) {
		return "write " + n.ref.Path + " " + compactBody(n.ref.Body), n.ref.Path
	})
	p.transit = gather[string](transits, func(n *need) (string, string) { return n.ref.Ciphertext, "" })
	return p
}

// resolver runs plans with a logged-in client.
type resolver struct {
	c *client
	s settings.Settings
	// leases records every leased secret envexec obtained, for daemon mode.
	mu     sync.Mutex
	leases []leased
	// kv records every KV v2 read, for daemon mode to watch its version.
	kv []kvRead
}

// leased is a dynamic secret envexec holds a lease on.
type leased struct {
	path string
	sec  secret
}

// kvRead is one KV v2 secret read at its current version (not pinned): daemon mode
// compares its metadata's current version to the one read.
type kvRead struct {
	mount, api string
	version    int
	// noMetadata: the policy refused reading the metadata; daemon mode reads the secret.
	noMetadata bool
}

// resolve answers every need: the mount lookups, early reads, writes and the transit
// batch in one round, then the lookups that could not share a mount, then the reads.
func (rs *resolver) resolve(ctx context.Context, needs []*need) {
	p := planFor(needs)
	for _, n := range p.local {
		n.result = valueResult(n.ref.Apply(rs.c.token))
	}
	lookup := func(c *call[mountInfo]) (mountInfo, error) { return rs.c.mount(ctx, c.path) }
	first, rest := splitByFirstSegment(p.mounts)
	round := tasks(first, lookup)
	round = append(round, tasks(p.early, func(c *call[secret]) (secret, error) {
		return rs.c.read(ctx, c.path, c.users[0].ref.Version)
	})...)
	round = append(round, tasks(p.writes, func(c *call[secret]) (secret, error) {
		return rs.write(ctx, c.path, c.users[0].ref.Body)
	})...)
	if len(p.transit) > 0 {
		round = append(round, func() { rs.decrypt(ctx, p.transit) })
	}
	runAll(round)
	runAll(tasks(shareMounts(first, rest), lookup))
	for _, c := range p.writes {
		rs.fill(c)
	}
	rs.reads(ctx, p.mounts, p.early)
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
func earlyReads(reads []*need) []*call[secret] {
	var early []*need
	for _, n := range reads {
		if seg := strings.SplitN(n.ref.Path, "/", 3); len(seg) == 3 && seg[0] != "" && seg[1] == "data" && seg[2] != "" {
			early = append(early, n)
		}
	}
	return gather[secret](early, func(n *need) (string, string) {
		return readKey(n.ref.Path, n.ref.Version), n.ref.Path
	})
}

// target is where a read goes once its mount is known.
type target struct {
	mount mountInfo
	api   string
}

// reads maps each read need to its API path through its mount, then reads each distinct
// secret once, reusing early reads of the same API path.
func (rs *resolver) reads(ctx context.Context, mounts []*call[mountInfo], early []*call[secret]) {
	targets := map[*need]target{}
	var ready []*need
	for _, m := range mounts {
		for _, n := range m.users {
			if m.err != nil {
				n.result = result{err: classify(m.err), group: "mount " + m.key, path: m.key}
				continue
			}
			api, err := apiPath(m.val, n.ref.Path, n.ref.Version)
			if err != nil {
				n.result = result{err: err, path: n.ref.Path}
				continue
			}
			targets[n] = target{mount: m.val, api: api}
			ready = append(ready, n)
		}
	}
	calls := gather[secret](ready, func(n *need) (string, string) {
		return readKey(targets[n].api, n.ref.Version), n.ref.Path
	})
	done := map[string]*call[secret]{}
	for _, e := range early {
		done[e.key] = e
	}
	runAll(tasks(calls, func(c *call[secret]) (secret, error) {
		n := c.users[0]
		t := targets[n]
		if e, ok := done[c.key]; ok {
			return rs.opened(e.val, e.err, t, n.ref.Version)
		}
		sec, err := rs.c.read(ctx, t.api, n.ref.Version)
		return rs.opened(sec, err, t, n.ref.Version)
	}))
	for _, c := range calls {
		rs.fill(c)
	}
}

// opened is what a read of t gave, out of its KV v2 envelope, its lease or KV version
// kept for daemon mode.
func (rs *resolver) opened(sec secret, err error, t target, pinned int) (secret, error) {
	if err != nil {
		return secret{}, err
	}
	if t.mount.kvV2() {
		version := kvVersion(sec.data)
		if sec.data, err = unwrapKV2(sec.data); err != nil {
			return secret{}, err
		}
		if pinned == 0 {
			rs.mu.Lock()
			rs.kv = append(rs.kv, kvRead{mount: t.mount.path, api: t.api, version: version})
			rs.mu.Unlock()
		}
	}
	rs.keep(t.api, sec)
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

// fill gives every user of a read or write its value, or the call's error. An answer
// that holds envexec's own token is refused whole unless the pod allows login: vault:login
// is not the only way to the token (a read of auth/token/lookup-self answers with it,
// and Vault's default policy allows that read), and checking the answer as Vault sent it
// leaves no transform (b64enc, json) to hide it behind.
func (rs *resolver) fill(c *call[secret]) {
	if c.err == nil && !rs.s.AllowLogin && holdsToken(c.val.data, rs.c.token) {
		c.err = fmt.Errorf("%w: Vault's answer holds envexec's own Vault token (as auth/token/lookup-self does), which this pod does not allow (%s is not true)",
			errReference, settings.EnvAllowLogin)
	}
	for _, n := range c.users {
		switch {
		case c.err != nil:
			n.result = result{err: classify(c.err), group: c.key, path: c.path}
		case n.whole:
			n.result = result{data: c.val.data, path: c.path}
		default:
			n.result = valueResult(n.ref.Value(c.val.data))
			n.path = c.path
		}
	}
}

// decrypt sends every distinct ciphertext in one transit batch.
func (rs *resolver) decrypt(ctx context.Context, calls []*call[string]) {
	path := rs.s.TransitPath + "/decrypt/" + rs.s.TransitKey
	cts := make([]string, len(calls))
	for j, c := range calls {
		cts[j] = c.key
	}
	plain, errs, err := rs.c.decrypt(ctx, rs.s.TransitPath, rs.s.TransitKey, cts)
	for j, c := range calls {
		for _, n := range c.users {
			switch {
			case err != nil:
				n.result = result{err: classify(err), group: "transit", path: path}
			case errs[j] != nil:
				n.result = result{err: classify(errs[j]), group: "transit " + c.key, path: path}
			default:
				n.result = valueResult(n.ref.Apply(plain[j]))
				n.path = path
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

// holdsToken tells whether any string in v, a decoded JSON answer, holds token. A token
// too short to be Vault's (a dev server's "root") must be a whole string, so that no
// secret that merely contains the word is refused.
func holdsToken(v any, token string) bool {
	switch v := v.(type) {
	case string:
		return token != "" && (v == token || (len(token) >= 16 && strings.Contains(v, token)))
	case map[string]any:
		for _, e := range v {
			if holdsToken(e, token) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if holdsToken(e, token) {
				return true
			}
		}
	}
	return false
}
