// Package settings is the one contract between the webhook and envexec: it names, parses
// and validates every ENVEXEC_* setting. The webhook checks a value with the same parser
// envexec will read it with, so what is admitted is what runs. Standard library only.
package settings

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vault-injector/vault-injector/vaultref"
)

// ErrInvalid marks every settings problem, so envexec maps it to one exit code.
var ErrInvalid = errors.New("bad settings")

// EnvPrefix reserves a namespace for envexec's own settings, so they can never be
// confused with the application's variables (VAULT_* belongs to the application).
const EnvPrefix = "ENVEXEC_"

// Names of the settings, exported so the webhook sets exactly what envexec reads. The
// value formats are in docs/envexec.md and `envexec help`.
const (
	// EnvVaultAddr is the Vault base URL, e.g. https://vault.vault.svc:8200 (required).
	EnvVaultAddr = EnvPrefix + "VAULT_ADDR"
	// EnvAuthMethod is how envexec logs in: kubernetes (default), jwt, approle or token.
	EnvAuthMethod = EnvPrefix + "AUTH_METHOD"
	// EnvAuthPath is the mount path of the auth method, without "auth/" (defaults to the
	// method's name).
	EnvAuthPath = EnvPrefix + "AUTH_PATH"
	// EnvRole is the Vault role to log in as (kubernetes and jwt).
	EnvRole = EnvPrefix + "ROLE"
	// EnvTokenFile is the file holding the JWT sent at login (kubernetes and jwt).
	EnvTokenFile = EnvPrefix + "TOKEN_FILE"
	// EnvRoleIDFile is the file holding the AppRole role ID (approle).
	EnvRoleIDFile = EnvPrefix + "ROLE_ID_FILE"
	// EnvSecretIDFile is the file holding the AppRole secret ID (approle; optional for
	// roles that do not bind a secret ID). A file that does not exist means none: the
	// webhook mounts a Secret's secret_id as an optional item.
	EnvSecretIDFile = EnvPrefix + "SECRET_ID_FILE"
	// EnvVaultTokenFile is the file holding a Vault token used as is (token).
	EnvVaultTokenFile = EnvPrefix + "VAULT_TOKEN_FILE"
	// EnvVaultNamespace is sent as X-Vault-Namespace on every request (Vault Enterprise).
	EnvVaultNamespace = EnvPrefix + "VAULT_NAMESPACE"
	// EnvCAFile is a PEM bundle trusted for Vault's TLS in addition to the system roots.
	EnvCAFile = EnvPrefix + "CA_FILE"
	// EnvCACerts is PEM text of CA certificates trusted for Vault's TLS in addition to
	// the system roots and EnvCAFile: the platform's CA (the webhook's --vault-ca-file),
	// written into the pod so that it works in every namespace. CA certificates are not
	// secrets.
	EnvCACerts = EnvPrefix + "CA_CERTS"
	// EnvTLSSkipVerify ("true" or "false") turns off TLS verification; the webhook decides
	// whether a pod may set it.
	EnvTLSSkipVerify = EnvPrefix + "TLS_SKIP_VERIFY"
	// EnvClientTimeout bounds one HTTP request to Vault, so a hung connection is retried
	// instead of eating the whole start-up deadline.
	EnvClientTimeout = EnvPrefix + "CLIENT_TIMEOUT"
	// EnvTimeout is one deadline for login, reads and retries together.
	EnvTimeout = EnvPrefix + "TIMEOUT"
	// EnvLogLevel is the minimum level of envexec's log lines.
	EnvLogLevel = EnvPrefix + "LOG_LEVEL"
	// EnvLogFormat is json (default) or text.
	EnvLogFormat = EnvPrefix + "LOG_FORMAT"
	// EnvPod names the pod in messages, so a failure points at its source.
	EnvPod = EnvPrefix + "POD"
	// EnvNamespace names the pod's namespace in messages.
	EnvNamespace = EnvPrefix + "NAMESPACE"
	// EnvContainer names the container in messages.
	EnvContainer = EnvPrefix + "CONTAINER"
	// EnvAllowLogin ("true" or "false") lets vault:login hand the application envexec's
	// Vault token; off by default because the token is envexec's whole identity.
	EnvAllowLogin = EnvPrefix + "ALLOW_LOGIN"
	// EnvTransitKey names the transit key that decrypts vault:v1:... ciphertexts.
	EnvTransitKey = EnvPrefix + "TRANSIT_KEY"
	// EnvTransitPath is the mount path of the transit engine (default "transit").
	EnvTransitPath = EnvPrefix + "TRANSIT_PATH"
	// EnvIgnoreMissing ("true" or "false") leaves a variable unset, with a warning, when
	// its secret or key does not exist, instead of failing with exit code 5.
	EnvIgnoreMissing = EnvPrefix + "IGNORE_MISSING"
	// EnvFromPath is a comma-separated list of PATH[#VERSION]: every key of each secret
	// becomes a variable (bank-vaults' vault-env-from-path).
	EnvFromPath = EnvPrefix + "FROM_PATH"
	// EnvPassthrough is a comma-separated list of ENVEXEC_* names left in the
	// application's environment (all others are removed).
	EnvPassthrough = EnvPrefix + "PASSTHROUGH"
	// EnvDaemon ("true" or "false") keeps envexec running as the application's parent, to
	// renew the token and leases of dynamic secrets.
	EnvDaemon = EnvPrefix + "DAEMON"
	// EnvDaemonOnExpiry says what daemon mode does when a lease cannot be renewed:
	// restart (default), signal or stop.
	EnvDaemonOnExpiry = EnvPrefix + "DAEMON_ON_EXPIRY"
	// EnvDaemonSignal is the signal sent to the application on expiry (default SIGTERM).
	EnvDaemonSignal = EnvPrefix + "DAEMON_SIGNAL"
	// EnvDaemonGrace is how long a stopping application gets before SIGKILL.
	EnvDaemonGrace = EnvPrefix + "DAEMON_GRACE"
	// EnvDaemonWatch is how often daemon mode checks the versions of the KV v2 secrets
	// it read (give or take a tenth, so pods do not call Vault in step); 0s turns the
	// watch off.
	EnvDaemonWatch = EnvPrefix + "DAEMON_WATCH_INTERVAL"
	// EnvDaemonOnChange says what daemon mode does when a watched secret changed:
	// restart (default), signal or stop, as for expiry; files are rewritten first.
	EnvDaemonOnChange = EnvPrefix + "DAEMON_ON_CHANGE"
	// EnvFilesDir is where the webhook mounted the container's in-memory files volume;
	// envexec writes files below it and nowhere else.
	EnvFilesDir = EnvPrefix + "FILES_DIR"
	// EnvFiles is a JSON list of {path, mode, content}: the files envexec writes below
	// EnvFilesDir before it starts the application (see docs/files.md).
	EnvFiles = EnvPrefix + "FILES"
	// EnvSettings lists (comma-separated) the ENVEXEC_* variables the webhook wrote. The
	// webhook writes it in the container's env, which wins over envFrom, so a pod cannot
	// change it; any other ENVEXEC_* variable, say from a ConfigMap's keys through
	// envFrom, makes envexec refuse to start instead of obeying it.
	EnvSettings = EnvPrefix + "SETTINGS"
)

// AuthMethod is how envexec logs in to Vault.
type AuthMethod string

// The auth methods envexec supports.
const (
	// AuthKubernetes sends the pod's ServiceAccount JWT to the kubernetes auth method.
	AuthKubernetes AuthMethod = "kubernetes"
	// AuthJWT sends a JWT from a file to the jwt auth method.
	AuthJWT AuthMethod = "jwt"
	// AuthAppRole sends a role ID and secret ID from files to the approle auth method.
	AuthAppRole AuthMethod = "approle"
	// AuthToken uses a Vault token from a file, without a login.
	AuthToken AuthMethod = "token"
)

// ExpiryAction is what daemon mode does when a lease can no longer be renewed.
type ExpiryAction string

// The expiry actions.
const (
	// ExpiryRestart fetches fresh secrets, stops the application and starts it again
	// with the new values, without restarting the container.
	ExpiryRestart ExpiryAction = "restart"
	// ExpirySignal sends the daemon signal to the application and carries on; the
	// application decides what to do.
	ExpirySignal ExpiryAction = "signal"
	// ExpiryStop stops the application and exits with ExitLeaseExpired, so the kubelet
	// restarts the container, which fetches fresh secrets.
	ExpiryStop ExpiryAction = "stop"
)

// Settings is envexec's whole configuration, parsed once from ENVEXEC_* variables.
type Settings struct {
	// VaultAddr is the Vault base URL; requests go to VaultAddr + "/v1/...".
	VaultAddr *url.URL
	// AuthMethod is how envexec logs in.
	AuthMethod AuthMethod
	// AuthPath is the auth mount, used as POST /v1/auth/{AuthPath}/login.
	AuthPath string
	// Role is the Vault role sent at login (kubernetes, jwt).
	Role string
	// TokenFile holds the JWT sent at login (kubernetes, jwt).
	TokenFile string
	// RoleIDFile and SecretIDFile hold the AppRole credentials (approle).
	RoleIDFile, SecretIDFile string
	// VaultTokenFile holds a Vault token (token).
	VaultTokenFile string
	// VaultNamespace is sent as X-Vault-Namespace when not empty.
	VaultNamespace string
	// CAFile names CAs trusted in addition to the system roots, when not empty.
	CAFile string
	// CACerts are more CAs trusted in addition to the system roots (ENVEXEC_CA_CERTS).
	CACerts []*x509.Certificate
	// TLSSkipVerify turns off certificate verification.
	TLSSkipVerify bool
	// ClientTimeout bounds one HTTP attempt.
	ClientTimeout time.Duration
	// Timeout bounds the whole start-up: login, mount lookups, reads and retries.
	Timeout time.Duration
	// LogLevel filters envexec's log lines.
	LogLevel slog.Level
	// LogText selects text log lines instead of JSON.
	LogText bool
	// Pod, Namespace and Container only label messages; they may be empty.
	Pod, Namespace, Container string
	// AllowLogin permits vault:login references.
	AllowLogin bool
	// TransitKey decrypts transit ciphertexts; empty means they are refused.
	TransitKey string
	// TransitPath is the transit engine's mount path.
	TransitPath string
	// IgnoreMissing leaves variables with missing secrets or keys unset instead of failing.
	IgnoreMissing bool
	// FromPath lists secrets whose every key becomes a variable.
	FromPath []vaultref.PathRef
	// Passthrough lists the ENVEXEC_* settings kept in the application's environment.
	Passthrough []string
	// Daemon keeps envexec as the application's parent.
	Daemon bool
	// OnExpiry is what daemon mode does when a lease cannot be renewed.
	OnExpiry ExpiryAction
	// Signal is sent to the application on expiry.
	Signal syscall.Signal
	// Grace is how long a stopping application gets before SIGKILL.
	Grace time.Duration
	// Watch is the mean interval of the version checks; 0 means none.
	Watch time.Duration
	// OnChange is what daemon mode does when a watched secret changed.
	OnChange ExpiryAction
	// FilesDir is the directory of the container's files volume.
	FilesDir string
	// Files are written below FilesDir before the application starts.
	Files []File
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
// error, never a silent default. Settings EnvSettings does not list are reported first
// and alone, by name: none is parsed, so no error quotes their values.
func ParseSettings(environ []string) (Settings, error) {
	values := map[string]string{}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(name, EnvPrefix) {
			values[name] = value
		}
	}
	var s Settings
	if errs := checkManifest(values); len(errs) > 0 {
		// Alone: parsing would quote a value the webhook did not write (a Secret's key
		// taken with envFrom) in the error, and the error reaches the log and the
		// termination message.
		return Settings{}, fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	var errs []error
	known := map[string]bool{}
	for _, row := range settingTable {
		known[row.name] = true
		v, set := values[row.name]
		if !set {
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
	errs = append(errs, s.validate(values, known)...)
	if len(errs) > 0 {
		return Settings{}, fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return s, nil
}

// checkManifest refuses every ENVEXEC_* variable that EnvSettings does not list, when it
// is set (the webhook always sets it; without it, whoever started envexec wrote the whole
// environment). Names are reported, never values.
func checkManifest(values map[string]string) []error {
	list, ok := values[EnvSettings]
	if !ok {
		return nil
	}
	listed := map[string]bool{EnvSettings: true}
	var errs []error
	for _, name := range strings.Split(list, ",") {
		if name = strings.TrimSpace(name); !strings.HasPrefix(name, EnvPrefix) {
			errs = append(errs, &settingError{EnvSettings, fmt.Sprintf("%q is not an %s* name", name, EnvPrefix)})
			continue
		}
		listed[name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		if !listed[name] {
			errs = append(errs, &settingError{name, "was not set by the webhook (it is not listed in " + EnvSettings +
				"); a pod cannot set envexec's settings, for example through envFrom: rename the key or drop it"})
		}
	}
	return errs
}

// validate checks the rules that involve several settings: what each auth method needs.
func (s *Settings) validate(values map[string]string, known map[string]bool) []error {
	var errs []error
	need := func(name, why string) {
		if values[name] == "" {
			errs = append(errs, &settingError{name, "is required" + why})
		}
	}
	need(EnvVaultAddr, "")
	switch s.AuthMethod {
	case AuthKubernetes, AuthJWT:
		need(EnvRole, "")
	case AuthAppRole:
		need(EnvRoleIDFile, " with "+EnvAuthMethod+"=approle")
	case AuthToken:
		need(EnvVaultTokenFile, " with "+EnvAuthMethod+"=token")
	}
	if s.AuthPath == "" {
		s.AuthPath = string(s.AuthMethod)
	}
	errs = append(errs, s.validateFiles()...)
	if s.Watch > 0 && !s.Daemon {
		errs = append(errs, &settingError{EnvDaemonWatch, "needs " + EnvDaemon + "=true: only daemon mode stays to watch"})
	}
	for _, name := range s.Passthrough {
		if !known[name] {
			errs = append(errs, &settingError{EnvPassthrough, fmt.Sprintf("%q is not an envexec setting", name)})
		}
	}
	return errs
}

// CheckSetting validates one setting's value exactly as envexec will read it, so the
// webhook can reject a bad pod annotation at admission instead of at container start.
func CheckSetting(name, value string) error {
	for _, row := range settingTable {
		if row.name == name {
			var s Settings
			return row.parse(&s, value)
		}
	}
	return fmt.Errorf("%s is not an envexec setting", name)
}
