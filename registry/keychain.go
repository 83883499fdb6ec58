package registry

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// dockerConfig is the shape of a kubernetes.io/dockerconfigjson secret's data.
type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// Keychain answers credentials for repositories from pull secrets the way the kubelet
// matches them (see Lookup): secrets in the order given, and within one secret the most
// specific entry first.
type Keychain struct {
	entries []keyEntry
}

// keyEntry is one docker config entry: the pattern its key names and what it sends.
type keyEntry struct {
	key  pattern
	only []string // if not nil, the registries (host[:port]) the entry may be offered to
	auth authn.AuthConfig
}

var _ authn.Keychain = (*Keychain)(nil)

// ParseDockerConfig reads one pull secret: data is `.dockerconfigjson` (legacy says the
// data is the older `.dockercfg` map). Errors never quote the data: it holds passwords.
func (k *Keychain) ParseDockerConfig(data []byte, legacy bool) error {
	return k.ParseDockerConfigFor(data, legacy, nil)
}

// ParseDockerConfigFor reads one pull secret like ParseDockerConfig, offering its entries
// only to the registries in only (host[:port]; a host alone matches any port) unless only
// is nil: a secret the platform shares with every pod must reach only the registries the
// platform chose for it, whatever wildcards its keys hold.
func (k *Keychain) ParseDockerConfigFor(data []byte, legacy bool, only []string) error {
	var auths map[string]dockerAuth
	if legacy {
		if err := json.Unmarshal(data, &auths); err != nil {
			return errors.New("malformed .dockercfg")
		}
	} else {
		var cfg dockerConfig
		if err := json.Unmarshal(data, &cfg); err != nil {
			return errors.New("malformed .dockerconfigjson")
		}
		auths = cfg.Auths
	}
	added := make([]keyEntry, 0, len(auths))
	for _, server := range slices.Sorted(maps.Keys(auths)) {
		a := auths[server]
		ac := authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken}
		if a.Auth != "" && ac.Username == "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			user, pass, ok := strings.Cut(string(raw), ":")
			if err != nil || !ok {
				return fmt.Errorf("malformed auth entry for %q", server)
			}
			ac.Username, ac.Password = user, pass
		}
		key, ok := parseKey(server)
		if !ok {
			continue // the kubelet skips keys it cannot parse, too
		}
		added = append(added, keyEntry{key: key, only: only, auth: ac})
	}
	// Reverse order of the normalised keys, as the kubelet's keyring: a longer path before
	// its prefix, a literal label before a wildcard.
	slices.SortStableFunc(added, func(a, b keyEntry) int { return strings.Compare(b.key.String(), a.key.String()) })
	k.entries = append(k.entries, added...)
	return nil
}

// Lookup returns the credentials for repository (host[:port]/path, as
// name.Repository.Name spells it) in the order the kubelet tries them: every matching entry
// of the first secret, most specific first, then the next secret's. An entry matches when
// its host has as many labels and each matches (`*` and other path.Match globs within one
// label), its port equals the image's (no port matches only an image without one), and its
// path, if any, is the repository's path or a parent of it (whole segments).
func (k *Keychain) Lookup(repository string) []authn.AuthConfig {
	target, ok := parseRepository(repository)
	if !ok {
		return nil
	}
	var out []authn.AuthConfig
	for _, e := range k.entries {
		if !e.key.matches(target) || (e.only != nil && !hostListed(e.only, target.hostPort())) {
			continue
		}
		if !slices.Contains(out, e.auth) {
			out = append(out, e.auth)
		}
	}
	return out
}

// Resolve implements authn.Keychain: the first credentials Lookup gives for res (a
// repository, or a registry alone, which only entries without a path match).
func (k *Keychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	if found := k.Lookup(res.String()); len(found) > 0 {
		return authn.FromConfig(found[0]), nil
	}
	return authn.Anonymous, nil
}

// registryHost normalises the keys people write in docker configs ("https://host/v1/",
// "host:5000", "docker.io") to the registry host that go-containerregistry reports.
func registryHost(server string) string {
	s := stripScheme(server)
	s, _, _ = strings.Cut(s, "/")
	if s == "docker.io" || s == "index.docker.io" || s == "registry-1.docker.io" {
		return name.DefaultRegistry
	}
	return s
}

func stripScheme(s string) string {
	for _, scheme := range []string{"https://", "http://"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			return s[len(scheme):]
		}
	}
	return s
}
