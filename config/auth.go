package config

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// podAuthMethods are the auth methods a pod may choose; all that envexec supports.
var podAuthMethods = []settings.AuthMethod{settings.AuthKubernetes, settings.AuthJWT, settings.AuthAppRole, settings.AuthToken}

// audienceRE is what a token audience may look like: a name or URL, without spaces or
// commas (the flag's separator).
var audienceRE = regexp.MustCompile(`^[A-Za-z0-9._~:/?#@!$&'()*+;=%-]{1,253}$`)

// setAudienceList reads --allowed-token-audiences.
func setAudienceList(dst *[]string, v string) error {
	var items []string
	if err := setList(&items, v); err != nil {
		return err
	}
	for _, item := range items {
		if !audienceRE.MatchString(item) {
			return fmt.Errorf("%q is not a token audience (1-253 characters, no spaces or commas)", item)
		}
	}
	*dst = items
	return nil
}

// setPodTokenAudience enforces the platform's list: the audience decides who accepts the
// token, and the pod must not obtain one the apiserver or another service trusts.
func setPodTokenAudience(p *Pod, v string, w *Webhook) error {
	if v != w.Defaults.TokenAudience && !slices.Contains(w.AllowedTokenAudiences, v) {
		return fmt.Errorf("%q is not the webhook's --token-audience nor in its --allowed-token-audiences; ask the platform team to allow it", v)
	}
	p.TokenAudience = v
	return nil
}

// authRelationErrors checks the annotations that only make sense together: approle with
// its Secret, token with its Secret, and the service account token's settings only with a
// method that sends it. An approle login without an auth-path goes to Vault's default
// mount, approle.
func authRelationErrors(p *Pod, annotations map[string]string, bankVaults bool) []error {
	given := func(name string) (string, bool) {
		key, _, ok, _ := find(name, false).lookup(annotations, bankVaults)
		return key, ok
	}
	method := p.AuthMethod()
	methodKey, _ := given("auth-method")
	var errs []error
	needs := func(m settings.AuthMethod, secret, name, keys string) {
		key, ok := given(name)
		switch {
		case method == m && secret == "":
			errs = append(errs, fmt.Errorf("annotation %q: %q needs %s%s, naming a Secret of the pod's namespace with %s",
				methodKey, m, AnnotationPrefix, name, keys))
		case method != m && ok:
			errs = append(errs, fmt.Errorf("annotation %q applies only with %sauth-method %q (the pod logs in with %q)",
				key, AnnotationPrefix, m, method))
		}
	}
	needs(settings.AuthAppRole, p.AppRoleSecret, "approle-secret", "role_id (and secret_id)")
	needs(settings.AuthToken, p.TokenSecret, "token-secret", "token")
	if p.UsesServiceAccountToken() {
		return errs
	}
	for _, name := range []string{"role", "token-audience"} {
		if key, ok := given(name); ok {
			errs = append(errs, fmt.Errorf("annotation %q applies only to the kubernetes and jwt auth methods (the pod logs in with %q)", key, method))
		}
	}
	_, pathGiven := given("auth-path")
	switch {
	case method == settings.AuthToken && pathGiven:
		key, _ := given("auth-path")
		errs = append(errs, fmt.Errorf("annotation %q: a Vault token needs no login, so no auth path", key))
	case method == settings.AuthAppRole && !pathGiven:
		p.AuthPath = string(settings.AuthAppRole)
	}
	return errs
}
