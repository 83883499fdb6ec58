package webhook

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vault-injector/vault-injector/injector"
	"github.com/vault-injector/vault-injector/internal/kube"
	"github.com/vault-injector/vault-injector/registry"
)

// ImageResolver reads image configs; *registry.Resolver in production.
type ImageResolver interface {
	Resolve(ctx context.Context, image string, platform v1.Platform, keys authn.Keychain) (registry.ImageConfig, error)
}

// FactFinder does all of the admission path's I/O before the pure mutation: it reads the
// configs of images whose command the pod does not give, with the pod's pull secrets.
type FactFinder struct {
	// Images reads image configs.
	Images ImageResolver
	// Kube reads pull secrets and service accounts; nil means anonymous registry access.
	Kube kube.Reader
	// Budget bounds all lookups of one request.
	Budget time.Duration
	// DefaultPlatform applies when the pod's scheduling constraints name no platform.
	DefaultPlatform v1.Platform
	// DefaultPullSecret, if set, is tried after the pod's own pull secrets, for the
	// registries in DefaultPullSecretRegistries only.
	DefaultPullSecret *types.NamespacedName
	// DefaultPullSecretRegistries are the registries (host[:port]; a host alone matches
	// any port) the default pull secret's credentials may be sent to. Its entries for
	// other registries are dropped, so a tenant cannot have the platform's credentials
	// sent to a registry of the tenant's choosing; empty means none.
	DefaultPullSecretRegistries []string
}

// maxParallelLookups bounds the registry requests one admission request makes at once: a
// pod with thousands of containers must not turn the webhook into a load generator.
const maxParallelLookups = 8

// errLookup marks a failed image lookup, answered with the image and the cause: denied if
// the image is at fault, errored if its registry was unavailable (see registryUnavailable).
var errLookup = errors.New("cannot read the image's entrypoint from its registry")

// registryUnavailable tells whether every failed lookup in err failed for want of its
// registry (unreachable, too slow, failing): then the request is an error, not the pod's
// fault. One image that is the pod's fault (no such image, refused credentials, a
// non-public address) makes it a denial: asking again cannot admit the pod, and the
// user must fix it.
func registryUnavailable(err error) bool {
	for _, p := range problems(err, nil) {
		if !errors.Is(p, registry.ErrUnavailable) {
			return false
		}
	}
	return true
}

// lookupError is one image whose config could not be read, for the containers running it.
// Its cause comes from the registry package, which describes failures in its own words.
type lookupError struct {
	containers, image, platform string
	err                         error
}

func (e *lookupError) Error() string {
	return fmt.Sprintf("%s: %v (image %q, platform %s): %v", e.containers, errLookup, e.image, e.platform, e.err)
}

func (e *lookupError) Is(target error) bool { return target == errLookup }

func (e *lookupError) Unwrap() error { return e.err }

// Find reads the configs of the images the plan names, within one budget, plus warnings
// for the user (missing pull secrets). Pull secrets and the service account are read in
// namespace only, which the caller takes from the admission request (the apiserver's
// word), never from the pod.
// It never reads Secrets or ConfigMaps that containers take variables from: envexec
// resolves references in its environment at start, whatever their source, so the webhook
// has no need of values it must not hold.
func (f *FactFinder) Find(ctx context.Context, namespace string, pod *corev1.Pod, lookups []injector.ImageLookup) (injector.Facts, []string, error) {
	var facts injector.Facts
	if f == nil || len(lookups) == 0 {
		return facts, nil, nil
	}
	// One budget for all of this request's I/O, apiserver reads and registry lookups
	// alike, so a hung dependency gives our message well before the webhook's timeout.
	ctx, cancel := context.WithTimeoutCause(ctx, f.Budget,
		fmt.Errorf("reading pull secrets and image configs took longer than %s", f.Budget))
	defer cancel()
	keys, warnings, err := f.keychain(ctx, namespace, pod)
	if err != nil {
		return facts, warnings, err
	}
	platform := podPlatform(pod, f.DefaultPlatform)
	ctx = registry.WithTenant(ctx, namespace) // a fair share of the registry's fetches

	facts.Images = make(map[string]injector.ImageConfig, len(lookups))
	errs := make([]error, len(lookups))
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxParallelLookups)
	for i, l := range lookups {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			cfg, err := f.Images.Resolve(ctx, l.Image, platform, keys)
			if err != nil {
				errs[i] = &lookupError{containers: containerNames(l.Containers), image: l.Image, platform: platform.String(), err: err}
				return
			}
			mu.Lock()
			facts.Images[l.Image] = injector.ImageConfig{Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd}
			mu.Unlock()
		})
	}
	wg.Wait()
	return facts, warnings, errors.Join(errs...)
}

// containerNames names, for a message, the containers that need one image.
func containerNames(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	if len(quoted) == 1 {
		return "container " + quoted[0]
	}
	return "containers " + strings.Join(quoted, ", ")
}

// keychain gathers pull secrets in the kubelet's order: the pod's, its service account's,
// then the webhook-wide default (for its registries only). All but the default are read
// in namespace. A missing secret is a warning, as it is for the kubelet.
func (f *FactFinder) keychain(ctx context.Context, namespace string, pod *corev1.Pod) (authn.Keychain, []string, error) {
	kc := &registry.Keychain{}
	if f.Kube == nil {
		return kc, nil, nil
	}
	names := make([]types.NamespacedName, 0, len(pod.Spec.ImagePullSecrets)+1)
	for _, s := range pod.Spec.ImagePullSecrets {
		names = append(names, types.NamespacedName{Namespace: namespace, Name: s.Name})
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	var account corev1.ServiceAccount
	switch err := f.Kube.Get(ctx, types.NamespacedName{Namespace: namespace, Name: sa}, &account); {
	case apierrors.IsNotFound(err), errors.Is(err, kube.ErrInvalidName):
	case err != nil:
		return nil, nil, fmt.Errorf("read service account %s/%s for its pull secrets: %w", namespace, sa, err)
	default:
		for _, s := range account.ImagePullSecrets {
			names = append(names, types.NamespacedName{Namespace: namespace, Name: s.Name})
		}
	}
	var warnings []string
	add := func(n types.NamespacedName, only []string) error {
		warning, err := f.addSecret(ctx, kc, n, only)
		if warning != "" {
			warnings = append(warnings, warning)
		}
		return err
	}
	for _, n := range names {
		if err := add(n, nil); err != nil {
			return nil, warnings, err
		}
	}
	if f.DefaultPullSecret != nil && len(f.DefaultPullSecretRegistries) > 0 {
		if err := add(*f.DefaultPullSecret, f.DefaultPullSecretRegistries); err != nil {
			return nil, warnings, err
		}
	}
	return kc, warnings, nil
}

// addSecret adds one pull secret's credentials to kc; only, if not nil, limits them to those
// registries.
func (f *FactFinder) addSecret(ctx context.Context, kc *registry.Keychain, n types.NamespacedName, only []string) (string, error) {
	var s corev1.Secret
	if err := f.Kube.Get(ctx, n, &s); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return fmt.Sprintf("pull secret %s not found; looking up the image without it", n), nil
		case errors.Is(err, kube.ErrInvalidName):
			return fmt.Sprintf("pull secret name %.64q is not an object name; looking up the image without it", n.Name), nil
		}
		return "", fmt.Errorf("read pull secret %s: %w", n, err)
	}
	var err error
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		err = kc.ParseDockerConfigFor(s.Data[corev1.DockerConfigJsonKey], false, only)
	case corev1.SecretTypeDockercfg:
		err = kc.ParseDockerConfigFor(s.Data[corev1.DockerConfigKey], true, only)
	default:
		return fmt.Sprintf("secret %s is of type %s, not a pull secret; ignored", n, s.Type), nil
	}
	if err != nil {
		return fmt.Sprintf("pull secret %s: %v; ignored", n, err), nil
	}
	return "", nil
}

// podPlatform reads the platform the pod will run on from its node selector, or from a
// required node affinity that pins exactly one value; otherwise the default.
func podPlatform(pod *corev1.Pod, def v1.Platform) v1.Platform {
	p := def
	if v := pinned(pod, corev1.LabelOSStable); v != "" {
		p.OS = v
	}
	if v := pinned(pod, corev1.LabelArchStable); v != "" {
		p.Architecture = v
		if v != def.Architecture {
			p.Variant = ""
		}
	}
	return p
}

func pinned(pod *corev1.Pod, label string) string {
	if v := pod.Spec.NodeSelector[label]; v != "" {
		return v
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	var values []string
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, e := range term.MatchExpressions {
			if e.Key == label && e.Operator == corev1.NodeSelectorOpIn {
				values = append(values, e.Values...)
			}
		}
	}
	if len(values) == 1 {
		return values[0]
	}
	return ""
}
