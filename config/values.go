package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// LogLevel is a level envexec understands; a typed string so a typo cannot slip through.
type LogLevel string

// The log levels envexec accepts.
const (
	LogDebug LogLevel = "debug"
	LogInfo  LogLevel = "info"
	LogWarn  LogLevel = "warn"
	LogError LogLevel = "error"
)

// MaxTimeout caps envexec's start-up deadline; longer waits hide a broken Vault.
const MaxTimeout = 10 * time.Minute

var authPathRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)

func setNonEmpty(dst *string, v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("must not be empty")
	}
	*dst = v
	return nil
}

func setPort(dst *int, v string) error {
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q is not a port number (1-65535)", v)
	}
	*dst = p
	return nil
}

func setAbsPath(dst *string, v string) error {
	if !path.IsAbs(v) || path.Clean(v) != v {
		return fmt.Errorf("%q is not a clean absolute path", v)
	}
	*dst = v
	return nil
}

func setVaultAddr(dst *string, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL with a host", v)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not carry credentials, a query or a fragment", v)
	}
	if err := envexecAccepts(settings.EnvVaultAddr, v); err != nil {
		return err
	}
	*dst = v
	return nil
}

// setVaultCAFile reads the platform's CA bundle for Vault at start-up (NewVaultCA).
func setVaultCAFile(w *Webhook, v string) error {
	w.VaultCA = nil
	if v == "" {
		return nil
	}
	ca, err := NewVaultCA(v)
	if err != nil {
		return err
	}
	w.VaultCA = ca
	return nil
}

// dnsSubdomainRE is Kubernetes' RFC 1123 subdomain, the form of a Secret's name.
var dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func setSecretName(dst *string, v string) error {
	if len(v) > 253 || !dnsSubdomainRE.MatchString(v) {
		return fmt.Errorf("%q is not a Secret name (a lower-case DNS subdomain of at most 253 characters)", v)
	}
	*dst = v
	return nil
}

// envexecAccepts is the settings contract: a value the webhook writes as an envexec
// setting must also pass envexec's own parser, so envexec never refuses at start what
// was admitted. The webhook's rules may only be stricter.
func envexecAccepts(setting, v string) error {
	return settings.CheckSetting(setting, v)
}

func setAuthPath(dst *string, v string) error {
	if !authPathRE.MatchString(v) || slices.Contains(strings.Split(v, "/"), "..") || slices.Contains(strings.Split(v, "/"), ".") {
		return fmt.Errorf("%q is not a Vault mount path (letters, digits, '.', '_', '-', separated by '/'; no '.' or '..' segments)", v)
	}
	if err := envexecAccepts(settings.EnvAuthPath, v); err != nil {
		return err
	}
	*dst = v
	return nil
}

func setTimeout(dst *time.Duration, v string) error {
	var d time.Duration
	if err := setDuration(&d, v, MaxTimeout); err != nil {
		return err
	}
	// The injector writes the duration in Go's form, which is what envexec must read.
	if err := envexecAccepts(settings.EnvTimeout, d.String()); err != nil {
		return err
	}
	*dst = d
	return nil
}

// setWatch reads a watch interval of at least floor (and settings.MinWatch), as envexec
// will read it; "0s" means off, for the platform only.
func setWatch(dst *time.Duration, v string, floor time.Duration) error {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a duration", v)
	case d == 0 && floor == 0:
	case d < max(floor, settings.MinWatch):
		return fmt.Errorf("%q is shorter than %s: a pod may lengthen the platform's interval, not shorten it", v, max(floor, settings.MinWatch))
	}
	*dst = d
	return nil
}

func setDuration(dst *time.Duration, v string, maxDur time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > maxDur {
		return fmt.Errorf("%q is not a duration between 0s and %s (e.g. 30s)", v, maxDur)
	}
	*dst = d
	return nil
}

// setDelay reads a duration from 0s to maxDur.
func setDelay(dst *time.Duration, v string, maxDur time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > maxDur {
		return fmt.Errorf("%q is not a duration from 0s to %s (e.g. 5s)", v, maxDur)
	}
	*dst = d
	return nil
}

func setPositive(dst *int, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return fmt.Errorf("%q is not a positive integer", v)
	}
	*dst = n
	return nil
}

var (
	platformRE = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$`)
	dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
)

func setPlatform(dst *string, v string) error {
	if !platformRE.MatchString(v) {
		return fmt.Errorf("%q is not a platform such as linux/amd64 or linux/arm64/v8", v)
	}
	*dst = v
	return nil
}

func setList(dst *[]string, v string) error {
	*dst = nil
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*dst = append(*dst, item)
		}
	}
	return nil
}

// setSANs reads a list of IP addresses and DNS names (a leading "*." allowed), as a
// certificate's subject alternative names.
func setSANs(dst *[]string, v string) error {
	var items []string
	if err := setList(&items, v); err != nil {
		return err
	}
	for _, item := range items {
		name := strings.TrimPrefix(item, "*.")
		if net.ParseIP(item) == nil && (len(name) > 253 || !dnsLabelRE.MatchString(name) || strings.Contains(name, "..")) {
			return fmt.Errorf("%q is neither an IP address nor a lower-case DNS name", item)
		}
	}
	*dst = items
	return nil
}

func setNamespacedName(dst *string, v string) error {
	if v == "" {
		*dst = ""
		return nil
	}
	ns, name, ok := strings.Cut(v, "/")
	if !ok || !dnsLabelRE.MatchString(ns) || !dnsLabelRE.MatchString(name) {
		return fmt.Errorf("%q is not namespace/name", v)
	}
	*dst = v
	return nil
}

func setLogLevel(dst *LogLevel, v string) error {
	switch l := LogLevel(v); l {
	case LogDebug, LogInfo, LogWarn, LogError:
		*dst = l
		return envexecAccepts(settings.EnvLogLevel, v)
	}
	return fmt.Errorf("%q is not a log level (debug, info, warn, error)", v)
}

func setBool(dst *bool, v string) error {
	switch v {
	case "true":
		*dst = true
	case "false":
		*dst = false
	default:
		return fmt.Errorf(`%q is not "true" or "false"`, v)
	}
	return nil
}

func setURLList(dst *[]string, v string) error {
	var items []string
	if err := setList(&items, v); err != nil {
		return err
	}
	for i, item := range items {
		if err := setVaultAddr(&items[i], item); err != nil {
			return err
		}
		items[i] = strings.TrimSuffix(items[i], "/")
	}
	*dst = items
	return nil
}

// setTokenExpiration accepts what the TokenRequest API accepts for projected tokens.
func setTokenExpiration(dst *time.Duration, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < 10*time.Minute || d > 24*time.Hour || d%time.Second != 0 {
		return fmt.Errorf("%q is not a whole number of seconds between 10m and 24h", v)
	}
	*dst = d
	return nil
}

func setCertMode(dst *CertMode, v string) error {
	switch m := CertMode(v); m {
	case CertModeFiles, CertModeSelfManaged:
		*dst = m
		return nil
	}
	return fmt.Errorf("%q is not a certificate mode (files, self-managed)", v)
}

// setHostList reads registry hosts, host[:port], each without scheme or path.
func setHostList(dst *[]string, v string) error {
	var items []string
	if err := setList(&items, v); err != nil {
		return err
	}
	for _, item := range items {
		if strings.ContainsAny(item, "/ @") || strings.HasPrefix(item, ":") {
			return fmt.Errorf("%q is not a registry host (host or host:port, no scheme or path)", item)
		}
	}
	*dst = items
	return nil
}

func setMirrors(dst *map[string]string, v string) error {
	var items []string
	if err := setList(&items, v); err != nil {
		return err
	}
	*dst = nil
	for _, item := range items {
		from, to, ok := strings.Cut(item, "=")
		if !ok || from == "" || to == "" || strings.ContainsAny(from+to, "/ ") {
			return fmt.Errorf("%q is not REGISTRY=MIRROR (hosts, no paths)", item)
		}
		if *dst == nil {
			*dst = map[string]string{}
		}
		(*dst)[from] = to
	}
	return nil
}
