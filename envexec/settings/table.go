package settings

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vault-injector/vault-injector/vaultref"
)

// Doc describes one setting for envexec's help and docs/envexec.md.
type Doc struct {
	// Name is the variable, e.g. ENVEXEC_VAULT_ADDR.
	Name string
	// Default is the value used when it is unset; empty for none.
	Default string
	// Help says what it does.
	Help string
}

// Docs lists every setting in table order, so the help text derives from the table.
func Docs() []Doc {
	out := make([]Doc, len(settingTable))
	for i, s := range settingTable {
		out[i] = Doc{Name: s.name, Default: s.def, Help: s.help}
	}
	return out
}

// setting is one row of the declarative settings table: parsing, usage and docs all
// derive from it, so they cannot drift apart.
type setting struct {
	name  string
	def   string
	help  string
	parse func(s *Settings, v string) error
}

// settingTable is built once: the webhook checks every envexec-bound annotation against
// it on each admission (CheckSetting).
var settingTable = []setting{
	{name: EnvVaultAddr, help: "Vault base URL (http or https); required", parse: parseAddr},
	{name: EnvAuthMethod, def: "kubernetes", help: "kubernetes, jwt, approle or token", parse: parseAuthMethod},
	{name: EnvAuthPath, help: `auth mount path, without "auth/" (default: the method's name)`, parse: parseAuthPath},
	{name: EnvRole, help: "Vault role to log in as (kubernetes, jwt); required for them", parse: parseRole},
	{name: EnvTokenFile, def: "/var/run/secrets/kubernetes.io/serviceaccount/token", help: "file holding the JWT (kubernetes, jwt)", parse: pathSetting(func(s *Settings) *string { return &s.TokenFile })},
	{name: EnvRoleIDFile, help: "file holding the AppRole role ID (approle)", parse: optionalPath(func(s *Settings) *string { return &s.RoleIDFile })},
	{name: EnvSecretIDFile, help: "file holding the AppRole secret ID (approle); a file that does not exist means none (bind_secret_id=false)", parse: optionalPath(func(s *Settings) *string { return &s.SecretIDFile })},
	{name: EnvVaultTokenFile, help: "file holding a Vault token (token)", parse: optionalPath(func(s *Settings) *string { return &s.VaultTokenFile })},
	{name: EnvVaultNamespace, help: "Vault namespace, sent as X-Vault-Namespace", parse: parseNamespace},
	{name: EnvCAFile, help: "PEM file of CA certificates trusted for Vault's TLS, besides the system roots", parse: optionalPath(func(s *Settings) *string { return &s.CAFile })},
	{name: EnvCACerts, help: "PEM text of CA certificates trusted for Vault's TLS, besides the system roots and " + EnvCAFile, parse: parseCACerts},
	{name: EnvTLSSkipVerify, def: "false", help: "true turns off TLS verification", parse: boolSetting(func(s *Settings) *bool { return &s.TLSSkipVerify })},
	{name: EnvClientTimeout, def: "15s", help: "bound of one HTTP request to Vault (Go duration)", parse: durationSetting(func(s *Settings) *time.Duration { return &s.ClientTimeout })},
	{name: EnvTimeout, def: "60s", help: "start-up deadline for login, reads and retries (Go duration)", parse: durationSetting(func(s *Settings) *time.Duration { return &s.Timeout })},
	{name: EnvLogLevel, def: "info", help: "debug, info, warn or error", parse: parseLogLevel},
	{name: EnvLogFormat, def: "json", help: "json or text", parse: parseLogFormat},
	{name: EnvPod, help: "pod name, used in messages", parse: func(s *Settings, v string) error { s.Pod = v; return nil }},
	{name: EnvNamespace, help: "pod namespace, used in messages", parse: func(s *Settings, v string) error { s.Namespace = v; return nil }},
	{name: EnvContainer, help: "container name, used in messages", parse: func(s *Settings, v string) error { s.Container = v; return nil }},
	{name: EnvAllowLogin, def: "false", help: "true lets vault:login give the application the Vault token", parse: boolSetting(func(s *Settings) *bool { return &s.AllowLogin })},
	{name: EnvTransitKey, help: "transit key that decrypts vault:v1:... values", parse: parseTransitKey},
	{name: EnvTransitPath, def: "transit", help: "mount path of the transit engine", parse: parseTransitPath},
	{name: EnvIgnoreMissing, def: "false", help: "true leaves a variable unset (with a warning) when its secret or key is missing", parse: boolSetting(func(s *Settings) *bool { return &s.IgnoreMissing })},
	{name: EnvFromPath, help: "comma-separated PATH[#VERSION]; every key becomes a variable", parse: parseFromPath},
	{name: EnvPassthrough, help: "comma-separated ENVEXEC_* names kept in the application's environment", parse: parsePassthrough},
	{name: EnvDaemon, def: "false", help: "true keeps envexec as the parent, renewing token and leases", parse: boolSetting(func(s *Settings) *bool { return &s.Daemon })},
	{name: EnvDaemonOnExpiry, def: "restart", help: "restart, signal or stop: what daemon mode does when a lease cannot be renewed", parse: parseOnExpiry},
	{name: EnvDaemonSignal, def: "SIGTERM", help: "signal sent to the application on expiry (e.g. SIGHUP)", parse: parseSignal},
	{name: EnvFilesDir, help: "directory of the container's in-memory files volume; files are written below it only", parse: parseFilesDir},
	{name: EnvFiles, help: "JSON list of {path, mode, content}: files written before the application starts", parse: parseFiles},
	{name: EnvSettings, help: "comma-separated ENVEXEC_* names the webhook set; envexec refuses any other ENVEXEC_* variable", parse: func(*Settings, string) error { return nil }},
	{name: EnvDaemonGrace, def: "30s", help: "time a stopping application gets before SIGKILL (Go duration)", parse: durationSetting(func(s *Settings) *time.Duration { return &s.Grace })},
}

func parseAddr(s *Settings, v string) error {
	if v == "" {
		return nil // validate reports the missing address
	}
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
		return errors.New("must not contain user information")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return fmt.Errorf("%q: must not have a query or fragment", v)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	s.VaultAddr = u
	return nil
}

func parseAuthMethod(s *Settings, v string) error {
	m := AuthMethod(v)
	if !slices.Contains([]AuthMethod{AuthKubernetes, AuthJWT, AuthAppRole, AuthToken}, m) {
		return fmt.Errorf("%q: want kubernetes, jwt, approle or token", v)
	}
	s.AuthMethod = m
	return nil
}

func parseAuthPath(s *Settings, v string) error {
	if v == "" {
		return nil // validate defaults it to the method's name
	}
	if err := checkMountPath(v); err != nil {
		return err
	}
	s.AuthPath = v
	return nil
}

func checkMountPath(v string) error {
	switch {
	case v == "":
		return errors.New("must not be empty")
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
	if v != "" && strings.TrimSpace(v) == "" {
		return errors.New("must not be empty")
	}
	s.Role = v
	return nil
}

func pathSetting(field func(*Settings) *string) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		if v == "" {
			return errors.New("must not be empty")
		}
		*field(s) = v
		return nil
	}
}

func optionalPath(field func(*Settings) *string) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		*field(s) = v
		return nil
	}
}

func parseNamespace(s *Settings, v string) error {
	if strings.ContainsAny(v, " \t\r\n") {
		return fmt.Errorf("%q must not contain whitespace", v)
	}
	s.VaultNamespace = v
	return nil
}

// boolSetting parses "true" or "false" exactly: anything else is an error, so "yes" or
// "1" cannot silently mean false.
func boolSetting(field func(*Settings) *bool) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		switch v {
		case "true":
			*field(s) = true
		case "false":
			*field(s) = false
		default:
			return fmt.Errorf("%q: want true or false", v)
		}
		return nil
	}
}

func durationSetting(field func(*Settings) *time.Duration) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a Go duration such as 30s or 2m", v)
		}
		if d <= 0 {
			return fmt.Errorf("%q must be positive", v)
		}
		*field(s) = d
		return nil
	}
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

func parseLogFormat(s *Settings, v string) error {
	switch v {
	case "json", "text":
		s.LogText = v == "text"
		return nil
	}
	return fmt.Errorf("%q: want json or text", v)
}

func parseTransitKey(s *Settings, v string) error {
	if strings.ContainsAny(v, "/ \t\r\n?#%") {
		return fmt.Errorf("%q is not a transit key name", v)
	}
	s.TransitKey = v
	return nil
}

func parseTransitPath(s *Settings, v string) error {
	if err := checkMountPath(v); err != nil {
		return err
	}
	s.TransitPath = v
	return nil
}

func parseFromPath(s *Settings, v string) error {
	paths, err := vaultref.ParsePathList(v)
	if err != nil {
		return err
	}
	s.FromPath = paths
	return nil
}

func parsePassthrough(s *Settings, v string) error {
	for _, name := range strings.Split(v, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		if !strings.HasPrefix(name, EnvPrefix) {
			return fmt.Errorf("%q: only %s* settings can be passed through", name, EnvPrefix)
		}
		s.Passthrough = append(s.Passthrough, name)
	}
	return nil
}

func parseOnExpiry(s *Settings, v string) error {
	a := ExpiryAction(v)
	if !slices.Contains([]ExpiryAction{ExpiryRestart, ExpirySignal, ExpiryStop}, a) {
		return fmt.Errorf("%q: want restart, signal or stop", v)
	}
	s.OnExpiry = a
	return nil
}

// signals are the names ENVEXEC_DAEMON_SIGNAL accepts, with or without "SIG".
var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "TERM": syscall.SIGTERM,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "KILL": syscall.SIGKILL, "WINCH": syscall.SIGWINCH,
}

func parseSignal(s *Settings, v string) error {
	sig, ok := signals[strings.TrimPrefix(v, "SIG")]
	if !ok {
		return fmt.Errorf("%q: want one of SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGKILL, SIGWINCH", v)
	}
	s.Signal = sig
	return nil
}
