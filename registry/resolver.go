// Package registry reads an image's entrypoint and cmd from its registry, so pods that do
// not spell out their command can still be wrapped. Lookups are cached per credentials,
// bounded, collapsed when concurrent, and always run under the caller's deadline.
//
// Image names are chosen by whoever creates a pod, so the registry is the attacker's
// choice too: lookups reach only public addresses unless the platform named the host,
// speak HTTPS unless it listed the host as insecure, and describe failures in fixed words
// (host, HTTP status, what went wrong), never with the registry's own.
package registry

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/singleflight"
)

// ImageConfig is what the injector needs from an image: how the runtime would start it.
type ImageConfig struct {
	// Entrypoint is the image's ENTRYPOINT.
	Entrypoint []string `json:"entrypoint,omitempty"`
	// Cmd is the image's CMD, the default arguments.
	Cmd []string `json:"cmd,omitempty"`
}

// Options tune a Resolver; zero values get the defaults documented on each field.
type Options struct {
	// CacheSize bounds the number of cached answers of each kind. Default 1024.
	CacheSize int
	// TagTTL is how long a tag's digest is trusted before asking the registry again.
	// Default 5m. Digests never change, so configs are cached until evicted.
	TagTTL time.Duration
	// NegativeTTL is how long a failed lookup is remembered, so a broken registry is not
	// hammered by every pod of a ReplicaSet. Default 10s.
	NegativeTTL time.Duration
	// InsecureRegistries are registry hosts (host[:port]) spoken to over plain HTTP. The
	// platform chose them, so they may be at non-public addresses.
	InsecureRegistries []string
	// Mirrors maps a registry host to a mirror that is asked first; the registry itself
	// answers only if the mirror fails. Keys are normalised like docker config keys. Both
	// sides were chosen by the platform, so they may be at non-public addresses.
	Mirrors map[string]string
	// PrivateRegistries are registry hosts (host[:port]; a host alone matches any port)
	// that may resolve to loopback, private, link-local or other non-public addresses.
	// Any other host is refused there, checked on the address actually dialled.
	PrivateRegistries []string
	// RootCAs verify registries' TLS certificates; nil means the system's roots.
	RootCAs *x509.CertPool
	// Resolver looks up registry host names; nil means the system's. Tests set one to
	// make names resolve to the addresses they need.
	Resolver *net.Resolver
	// FetchTimeout bounds one shared fetch. It runs detached from any one caller, so a
	// caller with a short budget cannot fail the others waiting on the same image, and
	// its answer still fills the cache. Default 30s.
	FetchTimeout time.Duration
	// MaxFetches bounds the fetches in flight at once; a lookup that would start one
	// more fails at once as unavailable, and is not cached. Each fetch holds up to
	// MaxResponseBytes of an answer for up to FetchTimeout, from registries the pods
	// name: without a bound, pods naming many slow registries could hold the replica's
	// memory. Default 32.
	MaxFetches int
	// MaxFetchesPerTenant bounds the fetches in flight started for one tenant (the pod's
	// namespace, see WithTenant), so that one namespace naming slow registries cannot
	// hold every slot of MaxFetches and fail the other namespaces' lookups. Default a
	// quarter of MaxFetches, at least 1. When every slot is held, a namespace holding at
	// least two fewer than the one holding the most takes that one's oldest slot, whose
	// fetch stops and fails as unavailable: a few namespaces together cannot keep
	// another out, as long as fewer than MaxFetches namespaces have fetches in flight.
	MaxFetchesPerTenant int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Resolver looks up image configs. It is safe for concurrent use.
//
// Every cache entry is keyed by the credentials it was fetched with (see credentialsID):
// an answer fetched with one tenant's pull secret is never given to a caller with other
// credentials or none, and neither is a failure such as a 401.
type Resolver struct {
	opts      Options
	transport http.RoundTripper
	salt      []byte
	tags      *lru[string, v1.Hash]
	configs   *lru[string, ImageConfig]
	errs      *lru[string, error]
	flight    singleflight.Group
	// fetches are the slots of fetches in flight (Options.MaxFetches, MaxFetchesPerTenant).
	fetches *fetchSlots
	stats   func(Outcome, time.Duration)
}

// Outcome says how one Resolve call was answered; a closed set for metric labels.
type Outcome string

// How a lookup was answered.
const (
	OutcomeHit      Outcome = "hit"
	OutcomeFetched  Outcome = "fetched"
	OutcomeNegative Outcome = "negative-hit"
	OutcomeError    Outcome = "error"
)

// New returns a Resolver; observe, if not nil, is told the outcome and duration of every
// lookup.
func New(o Options, observe func(Outcome, time.Duration)) *Resolver {
	if o.CacheSize <= 0 {
		o.CacheSize = 1024
	}
	if o.TagTTL <= 0 {
		o.TagTTL = 5 * time.Minute
	}
	if o.NegativeTTL <= 0 {
		o.NegativeTTL = 10 * time.Second
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = 30 * time.Second
	}
	if o.MaxFetches <= 0 {
		o.MaxFetches = 32
	}
	if o.MaxFetchesPerTenant <= 0 {
		o.MaxFetchesPerTenant = max(1, o.MaxFetches/4)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	mirrors := make(map[string]string, len(o.Mirrors))
	for from, to := range o.Mirrors {
		mirrors[registryHost(from)] = to
	}
	o.Mirrors = mirrors
	if observe == nil {
		observe = func(Outcome, time.Duration) {}
	}
	return &Resolver{
		opts:      o,
		transport: newTransport(o),
		salt:      newSalt(),
		tags:      newLRU[string, v1.Hash](o.CacheSize),
		configs:   newLRU[string, ImageConfig](o.CacheSize),
		errs:      newLRU[string, error](o.CacheSize),
		fetches:   newFetchSlots(o.MaxFetches, o.MaxFetchesPerTenant),
		stats:     observe,
	}
}

// ErrNoPlatform means the image index has no manifest for the requested platform.
var ErrNoPlatform = errors.New("no manifest for the platform")

// Resolve returns the config of image for platform, authenticating with keys (which may be
// authn.DefaultKeychain-like or built from pull secrets; nil means anonymous). With a
// *Keychain, every credential it holds for the image is tried in turn, as the kubelet does.
func (r *Resolver) Resolve(ctx context.Context, image string, platform v1.Platform, keys authn.Keychain) (ImageConfig, error) {
	start := time.Now()
	cfg, outcome, err := r.resolve(ctx, image, platform, keys)
	r.stats(outcome, time.Since(start))
	return cfg, err
}

func (r *Resolver) resolve(ctx context.Context, image string, platform v1.Platform, keys authn.Keychain) (ImageConfig, Outcome, error) {
	ref, err := r.parse(image)
	if err != nil {
		return ImageConfig{}, OutcomeError, err
	}
	if keys == nil {
		keys = authn.NewMultiKeychain()
	}
	// Like the kubelet, try each matching credential in turn until one works; each attempt
	// has its own cache entries, keyed by what it sent.
	attempts := r.attempts(keys, ref)
	var cfg ImageConfig
	var outcome Outcome
	for i, keys := range attempts {
		cfg, outcome, err = r.resolveWith(ctx, image, ref, platform, keys)
		switch {
		case err == nil:
			return cfg, outcome, nil
		case ctx.Err() != nil || errors.Is(err, ErrNoPlatform) || i == len(attempts)-1:
			// Out of time, or an answer about the image itself that no other
			// credential changes.
			if i > 0 {
				err = fmt.Errorf("%w (%d matching credentials tried)", err, i+1)
			}
			return cfg, outcome, err
		}
	}
	return cfg, outcome, err
}

// attempts are the keychains a lookup of ref tries in turn: one per credential that keys
// (pull secrets) hold for the image's repository, or keys alone when it holds at most one
// or is another kind of keychain. A mirror always gets its first matching credential.
func (r *Resolver) attempts(keys authn.Keychain, ref name.Reference) []authn.Keychain {
	kc, ok := keys.(*Keychain)
	if !ok {
		return []authn.Keychain{keys}
	}
	found := kc.Lookup(ref.Context().Name())
	if len(found) < 2 {
		return []authn.Keychain{keys}
	}
	out := make([]authn.Keychain, len(found))
	for i, auth := range found {
		out[i] = pinned{registry: ref.Context().RegistryStr(), auth: auth, others: keys}
	}
	return out
}

// pinned answers one credential for one registry and defers to others for the rest.
type pinned struct {
	registry string
	auth     authn.AuthConfig
	others   authn.Keychain
}

// Resolve implements authn.Keychain.
func (p pinned) Resolve(res authn.Resource) (authn.Authenticator, error) {
	if res.RegistryStr() == p.registry {
		return authn.FromConfig(p.auth), nil
	}
	return p.others.Resolve(res)
}

// resolveWith answers a lookup of ref with one set of credentials: from the caches keyed
// by them, else with a fetch shared by callers holding the same.
func (r *Resolver) resolveWith(ctx context.Context, image string, ref name.Reference, platform v1.Platform, keys authn.Keychain) (ImageConfig, Outcome, error) {
	creds, err := r.credentialsID(keys, r.repos(ref)...)
	if err != nil {
		return ImageConfig{}, OutcomeError, fmt.Errorf("image %q: %w", image, err)
	}
	k := cacheKey{creds: creds, repo: ref.Context().Name(), plat: platform.String()}
	key := k.of(ref.Identifier())
	now := r.opts.Now()
	if err, ok := r.errs.get(key, now); ok {
		return ImageConfig{}, OutcomeNegative, err
	}
	if cfg, ok := r.cached(ref, k, now); ok {
		return cfg, OutcomeHit, nil
	}
	if ctx.Err() != nil {
		// No new detached fetch for a caller that cannot wait for it: a pod naming
		// thousands of images must not start thousands of fetches after its budget.
		return ImageConfig{}, OutcomeError, fmt.Errorf("image %q: registry not asked in time: %w", image, unavailableError{context.Cause(ctx)})
	}
	// Callers with the same key (and so the same credentials) share one fetch; each still
	// waits only as long as its own deadline allows.
	// The fetch is charged to the tenant of the caller that starts it, and shared only by
	// callers of the same tenant: otherwise one tenant out of its share of fetches would
	// fail another tenant's lookup that joined its call.
	tenant := tenantOf(ctx)
	ch := r.flight.DoChan(key+"|"+tenant, func() (any, error) {
		sctx, release, err := r.fetches.take(context.WithoutCancel(ctx), tenant)
		if err != nil {
			return nil, &LookupError{Registry: ref.Context().RegistryStr(), Unavailable: true, Reason: err.Error()}
		}
		defer release()
		fctx, cancel := context.WithTimeout(sctx, r.opts.FetchTimeout)
		defer cancel()
		cfg, err := r.fetch(fctx, ref, k, platform, keys)
		if err != nil && errors.Is(context.Cause(sctx), errPreempted) {
			return nil, &LookupError{Registry: ref.Context().RegistryStr(), Unavailable: true, Reason: errPreempted.Error()}
		}
		return cfg, err
	})
	select {
	case <-ctx.Done():
		return ImageConfig{}, OutcomeError, fmt.Errorf("image %q: registry did not answer in time: %w", image, unavailableError{context.Cause(ctx)})
	case res := <-ch:
		if res.Err != nil {
			return ImageConfig{}, OutcomeError, res.Err
		}
		return res.Val.(ImageConfig), OutcomeFetched, nil //nolint:forcetypeassert // fetch returns only ImageConfig
	}
}

// cacheKey names a cache entry: the credentials, the repository and the platform, plus a
// tag or digest.
type cacheKey struct{ creds, repo, plat string }

func (k cacheKey) of(identifier string) string {
	return k.creds + "|" + k.repo + "|" + identifier + "|" + k.plat
}

// repos are the repositories a lookup of ref may ask: at its mirror, if any, and its own.
func (r *Resolver) repos(ref name.Reference) []string {
	own := ref.Context()
	if mirror, ok := r.opts.Mirrors[registryHost(own.RegistryStr())]; ok {
		return []string{mirror + "/" + own.RepositoryStr(), own.Name()}
	}
	return []string{own.Name()}
}

func (r *Resolver) parse(image string) (name.Reference, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", image, err)
	}
	if slices.Contains(r.opts.InsecureRegistries, ref.Context().RegistryStr()) {
		ref, err = name.ParseReference(image, name.Insecure)
		if err != nil {
			return nil, fmt.Errorf("image %q: %w", image, err)
		}
	}
	return ref, nil
}

// cached answers from the caches alone: a digest reference needs only the config cache, a
// tag needs a fresh tag→digest entry as well.
func (r *Resolver) cached(ref name.Reference, k cacheKey, now time.Time) (ImageConfig, bool) {
	digest, isDigest := ref.(name.Digest)
	var d string
	switch {
	case isDigest:
		d = digest.DigestStr()
	default:
		h, ok := r.tags.get(k.of(ref.Identifier()), now)
		if !ok {
			return ImageConfig{}, false
		}
		d = h.String()
	}
	return r.configs.get(k.of(d), now)
}

func (r *Resolver) fetch(ctx context.Context, ref name.Reference, k cacheKey, platform v1.Platform, keys authn.Keychain) (ImageConfig, error) {
	cfg, err := r.fetchConfig(ctx, ref, k, platform, keys)
	if err != nil && ctx.Err() == nil {
		r.errs.put(k.of(ref.Identifier()), err, r.opts.Now().Add(r.opts.NegativeTTL))
	}
	return cfg, err
}

func (r *Resolver) fetchConfig(ctx context.Context, ref name.Reference, k cacheKey, platform v1.Platform, keys authn.Keychain) (ImageConfig, error) {
	opts := []remote.Option{
		remote.WithContext(ctx), remote.WithAuthFromKeychain(keys), remote.WithPlatform(platform),
		remote.WithTransport(r.transport), remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
	}
	desc, err := r.get(ref, opts)
	if err != nil {
		return ImageConfig{}, fmt.Errorf("image %q: read manifest: %w", ref.Name(), err)
	}
	now := r.opts.Now()
	r.tags.put(k.of(ref.Identifier()), desc.Digest, now.Add(r.opts.TagTTL))
	ckey := k.of(desc.Digest.String())
	if cfg, ok := r.configs.get(ckey, now); ok {
		return cfg, nil
	}
	img, err := desc.Image()
	switch {
	case errors.Is(err, remote.ErrSchema1):
		return ImageConfig{}, fmt.Errorf("image %q: schema 1 manifests are not supported", ref.Name())
	case err != nil && (isTransportFailure(err) || errors.Is(err, ErrTooLarge)):
		return ImageConfig{}, fmt.Errorf("image %q: read the platform's manifest: %w", ref.Name(), describe(ref.Context().RegistryStr(), err))
	case err != nil:
		return ImageConfig{}, fmt.Errorf("image %q: %w %s", ref.Name(), ErrNoPlatform, platform.String())
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return ImageConfig{}, fmt.Errorf("image %q: read config: %w", ref.Name(), describe(ref.Context().RegistryStr(), err))
	}
	if cf.OS != "" && (cf.OS != platform.OS || cf.Architecture != platform.Architecture) {
		// The config's own os/arch are the registry's words: not repeated.
		return ImageConfig{}, fmt.Errorf("image %q is built for another platform: %w %s", ref.Name(), ErrNoPlatform, platform.String())
	}
	cfg := ImageConfig{Entrypoint: cf.Config.Entrypoint, Cmd: cf.Config.Cmd}
	r.configs.put(ckey, cfg, time.Time{})
	return cfg, nil
}

// get reads the manifest from the registry's mirror if one is configured, else (or if the
// mirror fails) from the registry itself.
func (r *Resolver) get(ref name.Reference, opts []remote.Option) (*remote.Descriptor, error) {
	own := ref.Context().RegistryStr()
	mirror, ok := r.opts.Mirrors[registryHost(own)]
	if !ok {
		desc, err := remote.Get(ref, opts...)
		if err != nil {
			return nil, describe(own, err)
		}
		return desc, nil
	}
	var nameOpts []name.Option
	if slices.Contains(r.opts.InsecureRegistries, mirror) {
		nameOpts = append(nameOpts, name.Insecure)
	}
	var merr error
	mref, err := name.ParseReference(mirror+"/"+ref.Context().RepositoryStr()+refSuffix(ref), nameOpts...)
	if err != nil {
		merr = fmt.Errorf("mirror %s: not a usable mirror for this image", mirror)
	} else {
		desc, err := remote.Get(mref, opts...)
		if err == nil {
			return desc, nil
		}
		merr = describe(mirror, err)
	}
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s, then %w", merr.Error(), describe(own, err))
	}
	return desc, nil
}

func refSuffix(ref name.Reference) string {
	if d, ok := ref.(name.Digest); ok {
		return "@" + d.DigestStr()
	}
	return ":" + ref.Identifier()
}
