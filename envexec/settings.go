package envexec

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// EnvPrefix reserves a namespace for envexec's own settings, so they can never be
// confused with the application's variables (VAULT_* belongs to the application).
const EnvPrefix = "ENVEXEC_"

// Names of the settings, exported so the webhook sets exactly what envexec reads.
const (
	// EnvVaultAddr is the Vault base URL, e.g. https://vault.vault.svc:8200 (required).
	EnvVaultAddr = EnvPrefix + "VAULT_ADDR"
	// EnvAuthPath is the mount path of the Kubernetes auth method, without "auth/".
	EnvAuthPath = EnvPrefix + "AUTH_PATH"
	// EnvRole is the Vault role to log in as (required).
	EnvRole = EnvPrefix + "ROLE"
	// EnvTokenFile is the file holding the ServiceAccount JWT sent at login.
	EnvTokenFile = EnvPrefix + "TOKEN_FILE"
	// EnvTimeout is one deadline for login, reads and retries together.
	EnvTimeout = EnvPrefix + "TIMEOUT"
	// EnvLogLevel is the minimum level of envexec's JSON log lines.
	EnvLogLevel = EnvPrefix + "LOG_LEVEL"
	// EnvPod names the pod in messages, so a failure points at its source.
	EnvPod = EnvPrefix + "POD"
	// EnvNamespace names the pod's namespace in messages.
	EnvNamespace = EnvPrefix + "NAMESPACE"
	// EnvContainer names the container in messages.
	EnvContainer = EnvPrefix + "CONTAINER"
)

// Settings is envexec's whole configuration, parsed once from ENVEXEC_* variables.
type Settings struct {
	// VaultAddr is the Vault base URL; requests go to VaultAddr + "/v1/...".
	VaultAddr *url.URL
	// AuthPath is the auth mount, used as POST /v1/auth/{AuthPath}/login.
	AuthPath string
	// Role is the Vault role sent at login.
	Role string
	// TokenFile holds the JWT sent at login.
	TokenFile string
	// Timeout bounds the whole start-up: login, mount lookups, reads and retries.
	Timeout time.Duration
	// LogLevel filters envexec's log lines.
	LogLevel slog.Level
	// Pod, Namespace and Container only label messages; they may be empty.
	Pod, Namespace, Container string
}

// setting is one row of the declarative settings table: parsing, usage and docs all
// derive from it, so they cannot drift apart.
type setting struct {
	name     string
	def      string
	required bool
	help     string
	parse    func(s *Settings, v string) error
}

func settingTable() []setting {
	return []setting{
		{name: EnvVaultAddr, required: true, help: "Vault base URL (http or https)", parse: parseAddr},
		{name: EnvAuthPath, def: "kubernetes", help: `auth mount path, without "auth/"`, parse: parseAuthPath},
		{name: EnvRole, required: true, help: "Vault role to log in as", parse: parseRole},
		{name: EnvTokenFile, def: "/var/run/secrets/kubernetes.io/serviceaccount/token",
			help: "file holding the JWT sent at login", parse: parseTokenFile},
		{name: EnvTimeout, def: "60s", help: "start-up deadline for login, reads and retries (Go duration)", parse: parseTimeout},
		{name: EnvLogLevel, def: "info", help: "debug, info, warn or error", parse: parseLogLevel},
		{name: EnvPod, help: "pod name, used in messages", parse: func(s *Settings, v string) error { s.Pod = v; return nil }},
		{name: EnvNamespace, help: "pod namespace, used in messages", parse: func(s *Settings, v string) error { s.Namespace = v; return nil }},
		{name: EnvContainer, help: "container name, used in messages", parse: func(s *Settings, v string) error { s.Container = v; return nil }},
	}
}

// settingError names the variable that is wrong; setting values are not secret, so
// the reason may quote them.
type settingError struct {
	name   string
	reason string
}

func (e *settingError) Error() string { return e.name + ": " + e.reason }

// ParseSettings reads ENVEXEC_* variables from environ ("KEY=VALUE" entries; the last
// one wins) and reports every problem at once: a malformed or unknown setting is an
// error, never a silent default.
func ParseSettings(environ []string) (Settings, error) {
	values := map[string]string{}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(name, EnvPrefix) {
			values[name] = value
		}
	}
	var s Settings
	var errs []error
	known := map[string]bool{}
	for _, row := range settingTable() {
		known[row.name] = true
		v, set := values[row.name]
		switch {
		case !set && row.required:
			errs = append(errs, &settingError{row.name, "is required"})
			continue
		case !set:
			v = row.def
		}
		if err := row.parse(&s, v); err != nil {
			errs = append(errs, &settingError{row.name, err.Error()})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		if !known[name] {
			errs = append(errs, &settingError{name, "unknown setting (reserved prefix " + EnvPrefix + ")"})
		}
	}
	if len(errs) > 0 {
		return Settings{}, fmt.Errorf("%w: %w", errSettings, errors.Join(errs...))
	}
	return s, nil
}

func parseAddr(s *Settings, v string) error {
	u, err := url.Parse(v)
	if err != nil {
		return fmt.Errorf("%q is not a URL", v)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: scheme must be http or https", v)
	case u.Host == "":
		return fmt.Errorf("%q: missing host", v)
	case u.User != nil:
		return fmt.Errorf("must not contain user information")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return fmt.Errorf("%q: must not have a query or fragment", v)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	s.VaultAddr = u
	return nil
}

func parseAuthPath(s *Settings, v string) error {
	if err := checkMountPath(v); err != nil {
		return err
	}
	s.AuthPath = v
	return nil
}

func checkMountPath(v string) error {
	switch {
	case v == "":
		return fmt.Errorf("must not be empty")
	case strings.HasPrefix(v, "/") || strings.HasSuffix(v, "/") || strings.Contains(v, "//"):
		return fmt.Errorf("%q must not start or end with \"/\" or contain \"//\"", v)
	case strings.HasPrefix(v, "auth/"):
		return fmt.Errorf("%q: give the mount path without \"auth/\"", v)
	case strings.ContainsAny(v, " \t\r\n?#%"):
		return fmt.Errorf("%q must not contain whitespace, \"?\", \"#\" or \"%%\"", v)
	}
	return nil
}

func parseRole(s *Settings, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("must not be empty")
	}
	s.Role = v
	return nil
}

func parseTokenFile(s *Settings, v string) error {
	if v == "" {
		return fmt.Errorf("must not be empty")
	}
	s.TokenFile = v
	return nil
}

func parseTimeout(s *Settings, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q is not a Go duration such as 30s or 2m", v)
	}
	if d <= 0 {
		return fmt.Errorf("%q must be positive", v)
	}
	s.Timeout = d
	return nil
}

func parseLogLevel(s *Settings, v string) error {
	levels := map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
	}
	l, ok := levels[v]
	if !ok {
		return fmt.Errorf("%q: want debug, info, warn or error", v)
	}
	s.LogLevel = l
	return nil
}
