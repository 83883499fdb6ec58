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

// Keychain answers credentials for registries from pull secrets, in the order given: the
// first secret that names a registry wins, as with the kubelet.
type Keychain struct {
	entries []keyEntry
}

type keyEntry struct {
	host string
	auth authn.AuthConfig
}

var _ authn.Keychain = (*Keychain)(nil)

// ParseDockerConfig reads one pull secret: data is `.dockerconfigjson` (legacy says the
// data is the older `.dockercfg` map). Errors never quote the data: it holds passwords.
func (k *Keychain) ParseDockerConfig(data []byte, legacy bool) error {
	return k.ParseDockerConfigFor(data, legacy, nil)
}

// ParseDockerConfigFor reads one pull secret like ParseDockerConfig, keeping only its
// entries for the registries in only (host[:port]; a host alone matches any port) unless
// only is nil: a secret the platform shares with every pod must reach only the registries
// the platform chose for it.
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
		host := registryHost(server)
		if only != nil && !hostListed(only, host) {
			continue
		}
		k.entries = append(k.entries, keyEntry{host: host, auth: ac})
	}
	return nil
}

// Resolve implements authn.Keychain.
func (k *Keychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	want := res.RegistryStr()
	for _, e := range k.entries {
		if e.host == want {
			return authn.FromConfig(e.auth), nil
		}
	}
	return authn.Anonymous, nil
}

// registryHost normalises the keys people write in docker configs ("https://host/v1/",
// "host:5000", "docker.io") to the registry host that go-containerregistry reports.
func registryHost(server string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	s, _, _ = strings.Cut(s, "/")
	if s == "docker.io" || s == "index.docker.io" || s == "registry-1.docker.io" {
		return name.DefaultRegistry
	}
	return s
}
