package registry

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// newSalt keys the credential hashes of one Resolver, so cache keys say nothing about a
// password to anyone who sees them (a heap dump, a debugger) without the salt.
func newSalt() []byte {
	salt := make([]byte, 32)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails (it panics if it cannot read)
	return salt
}

// credentialsID names the credentials keys hold for repos (host/path, the image's and its
// mirror's): "" when it holds none for any of them (anonymous lookups share one cache, as
// everyone may see what they see), else a salted hash of what would be sent to each host.
// Two pull secrets with the same credentials share entries; a tenant without them never
// gets an answer fetched with them.
func (r *Resolver) credentialsID(keys authn.Keychain, repos ...string) (string, error) {
	mac := hmac.New(sha256.New, r.salt)
	anonymous := true
	for _, repo := range repos {
		target, err := name.NewRepository(repo, name.WeakValidation)
		if err != nil {
			host, _, _ := strings.Cut(repo, "/")
			return "", fmt.Errorf("registry %s: not a registry host", host)
		}
		host := target.RegistryStr()
		auth, err := keys.Resolve(target)
		if err != nil {
			return "", fmt.Errorf("credentials for registry %s: %w", host, err)
		}
		if auth == authn.Anonymous {
			continue
		}
		cfg, err := auth.Authorization()
		if err != nil {
			return "", fmt.Errorf("credentials for registry %s: %w", host, err)
		}
		anonymous = false
		for _, field := range []string{host, cfg.Username, cfg.Password, cfg.Auth, cfg.IdentityToken, cfg.RegistryToken} {
			_, _ = fmt.Fprintf(mac, "%d:%s", len(field), field) // length-prefixed: no two tuples collide
		}
	}
	if anonymous {
		return "", nil
	}
	return hex.EncodeToString(mac.Sum(nil)[:16]), nil
}
