package config

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

// AnnotationPrefix scopes the annotations users write on pods.
const AnnotationPrefix = "vault-injector.io/"

// StatusAnnotation is set by the webhook on pods it mutated, so `kubectl get` shows it.
const StatusAnnotation = AnnotationPrefix + "status"

// Pod is the complete, validated settings for one pod: annotations applied over the
// webhook defaults. The injector consumes it as is.
type Pod struct {
	// Inject is false when the pod opted out.
	Inject bool `json:"inject"`
	// InjectorImage is the image of the injected init container.
	InjectorImage string `json:"injectorImage"`
	// EnvexecPath is where envexec lives inside InjectorImage.
	EnvexecPath string `json:"envexecPath"`
	// VaultAddr is the Vault server envexec logs in to.
	VaultAddr string `json:"vaultAddr"`
	// Role is the Vault role envexec logs in as.
	Role string `json:"role"`
	// AuthPath is the mount path of Vault's Kubernetes auth method.
	AuthPath string `json:"authPath"`
	// Timeout bounds envexec's start-up.
	Timeout time.Duration `json:"timeout"`
	// LogLevel is envexec's log level.
	LogLevel LogLevel `json:"logLevel"`
	// TokenAudience is the audience of envexec's projected token; empty is the default.
	TokenAudience string `json:"tokenAudience,omitempty"`
	// TokenExpiration is the lifetime of envexec's projected token.
	TokenExpiration time.Duration `json:"tokenExpiration"`
	// ImageVolume delivers envexec from an image volume of the injector image instead of
	// the copying init container.
	ImageVolume bool `json:"imageVolume,omitempty"`
	// MutateProbes runs exec probes through envexec, so probe commands see the secrets.
	MutateProbes bool `json:"mutateProbes,omitempty"`
	// MalformedWarn admits pods with malformed references, with a warning; the webhook-wide
	// --malformed-references=warn. envexec then stops the container at start.
	MalformedWarn bool `json:"malformedWarn,omitempty"`
	// CACerts are the platform's CAs for Vault (PEM, certificates only), trusted by every
	// wrapped container besides the system roots; from the webhook's --vault-ca-file.
	CACerts string `json:"caCerts,omitempty"`
	// TLSSecret names a Secret of the pod's namespace whose ca.crt envexec trusts for
	// Vault too. The kubelet mounts it into wrapped containers; the webhook never reads it.
	TLSSecret string `json:"tlsSecret,omitempty"`
	// AppRoleSecret names a Secret of the pod's namespace holding role_id and, optionally,
	// secret_id, for the approle auth method. The kubelet mounts those two keys into wrapped
	// containers; the webhook never reads the Secret.
	AppRoleSecret string `json:"appRoleSecret,omitempty"`
	// TokenSecret names a Secret of the pod's namespace whose key token is a Vault token, for
	// the token auth method; mounted like AppRoleSecret.
	TokenSecret string `json:"tokenSecret,omitempty"`
	// EnvSources wraps every container that takes variables from a Secret or ConfigMap,
	// so envexec resolves references kept there: the webhook does not read them.
	EnvSources bool `json:"envSources,omitempty"`
	// Init is the injected init container's resources and user.
	Init InitContainer `json:"init"`
	// WatchInterval is how often daemon-mode envexec checks its KV v2 secrets' versions.
	WatchInterval time.Duration `json:"watchInterval,omitempty"`
	// FilesDir is where a container's files volume is mounted; empty means
	// DefaultFilesDir (see Dir).
	FilesDir string `json:"filesDir,omitempty"`
	// Files are the files the pod asks for (file.NAME annotations), in key order.
	Files []File `json:"files,omitempty"`
	// Envexec holds further envexec settings (ENVEXEC_* name to value), each validated
	// by envexec's own parser at admission.
	Envexec map[string]string `json:"envexec,omitempty"`
}

// BankVaultsPrefix is bank-vaults' annotation prefix; its annotations are read as aliases
// of ours (unless --bank-vaults-annotations=false), so migrating pods need no edits.
const BankVaultsPrefix = "vault.security.banzaicloud.io/"

// Annotation documents one pod annotation; the table below is the single source for
// parsing and for docs/annotations.md.
type Annotation struct {
	// Name is the key without AnnotationPrefix.
	Name string
	// Type is the value's type as users should read it.
	Type string
	// Default says what applies when the annotation is absent.
	Default string
	// Doc explains what it does.
	Doc string
	// BankVaults is the bank-vaults annotation (without BankVaultsPrefix) with the same
	// meaning, or empty.
	BankVaults string
	// fromBankVaults turns a bank-vaults value into ours; nil means it is the same.
	fromBankVaults func(v string) (string, error)
	set            func(p *Pod, v string, w *Webhook) error
	// key and bankVaultsKey are the full keys, set once by withKeys: every pod is looked
	// up under every one of them, and joining prefix and name there was most of
	// ParsePod's allocations.
	key, bankVaultsKey string
}

// withKeys sets the table's full keys.
func withKeys(table []Annotation) []Annotation {
	for i := range table {
		table[i].key = AnnotationPrefix + table[i].Name
		if table[i].BankVaults != "" {
			table[i].bankVaultsKey = BankVaultsPrefix + table[i].BankVaults
		}
	}
	return table
}

var roleRE = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,128}$`)

// Annotations lists every annotation the webhook reads, in documentation order.
var Annotations = withKeys([]Annotation{
	{
		Name: "inject", Type: "bool", Default: "true", BankVaults: "mutate",
		Doc: `"false" leaves the pod exactly as submitted, even if it holds references. ` +
			"(bank-vaults: `mutate: skip`.)",
		fromBankVaults: func(v string) (string, error) {
			if v == "skip" {
				return "false", nil
			}
			return "", fmt.Errorf(`%q: only "skip" is understood`, v)
		},
		set: func(p *Pod, v string, _ *Webhook) error { return setBool(&p.Inject, v) },
	},
	{
		Name: "vault-addr", Type: "URL", Default: "the webhook's --vault-addr", BankVaults: "vault-addr",
		Doc: "Vault server envexec logs in to, e.g. `https://vault.example:8200`. " +
			"Allowed only if it is listed in the webhook's --allowed-vault-addrs: a pod must not be able to send its " +
			"service account token to a server of its choosing.",
		set: setPodVaultAddr,
	},
	{
		Name: "role", Type: "string", Default: "the pod's service account name", BankVaults: "vault-role",
		Doc: "Vault role of the Kubernetes auth method that envexec logs in as.",
		set: func(p *Pod, v string, _ *Webhook) error {
			if !roleRE.MatchString(v) {
				return fmt.Errorf("%q is not a Vault role name (1-128 of letters, digits, '_', '.', '@', '-')", v)
			}
			p.Role = v
			return envexecAccepts(settings.EnvRole, v)
		},
	},
	{
		Name: "auth-path", Type: "string", Default: "the webhook's --vault-auth-path (`kubernetes`)", BankVaults: "vault-path",
		Doc: "Mount path of the Kubernetes auth method in Vault, e.g. `kubernetes-prod`.",
		set: func(p *Pod, v string, _ *Webhook) error { return setAuthPath(&p.AuthPath, v) },
	},
	{
		Name: "mutate-probes", Type: "bool", Default: "false", BankVaults: "mutate-probes",
		Doc: "Run the exec probes of wrapped containers through envexec, so probe commands see the secrets. " +
			"Each probe run then logs in to Vault and reads the secrets again: mind the load on Vault.",
		set: func(p *Pod, v string, _ *Webhook) error { return setBool(&p.MutateProbes, v) },
	},
	{
		Name: "envexec-delivery", Type: "string", Default: "the webhook's --envexec-delivery (`init-copy`)",
		Doc: "How envexec reaches the pod: `init-copy` (an init container copies it into an in-memory volume) or " +
			"`image-volume` (the injector image mounted read-only, no init container). Only the webhook's default and " +
			"the deliveries in its --allowed-envexec-deliveries are accepted: the nodes must support image volumes.",
		set: setPodDelivery,
	},
	{
		Name: "env-sources", Type: "bool", Default: "false",
		Doc: "\"true\" runs envexec in every container that takes variables from a Secret or ConfigMap (`valueFrom` or " +
			"`envFrom`), so references kept only there are resolved at start. The webhook never reads Secrets or ConfigMaps: " +
			"without this, only references written in the pod itself are found.",
		set: func(p *Pod, v string, _ *Webhook) error { return setBool(&p.EnvSources, v) },
	},
	envexecAnnotation("ignore-missing", "vault-ignore-missing-secrets", settings.EnvIgnoreMissing, "bool", "false",
		"\"true\" leaves a variable unset, with a warning in envexec's log, when its secret or key does not exist, "+
			"instead of stopping the container."),
	envexecAnnotation("from-path", "vault-env-from-path", settings.EnvFromPath, "comma-separated PATH[#VERSION]", "none",
		"Every key of these secrets becomes a variable of the same name; variables the container sets win."),
	envexecAnnotation("vault-namespace", "vault-namespace", settings.EnvVaultNamespace, "string", "none",
		"Vault Enterprise namespace, sent as X-Vault-Namespace."),
	envexecAnnotation("transit-key", "vault-transit-key-id", settings.EnvTransitKey, "string", "none",
		"Transit key that decrypts `vault:v1:...` values, in one batch."),
	envexecAnnotation("transit-path", "vault-transit-path", settings.EnvTransitPath, "string", "`transit`",
		"Mount path of the transit engine."),
	envexecAnnotation("allow-login", "", settings.EnvAllowLogin, "bool", "false",
		"\"true\" lets `vault:login` give the application envexec's Vault token."),
	envexecAnnotation("passthrough", "", settings.EnvPassthrough, "comma-separated ENVEXEC_* names", "none",
		"envexec settings left in the application's environment (all are removed by default)."),
	envexecAnnotation("client-timeout", "vault-client-timeout", settings.EnvClientTimeout, "duration", "`15s`",
		"Bound of one HTTP request to Vault; retries continue until `timeout`."),
	{
		Name: "auth-method", Type: "kubernetes, jwt, approle or token", Default: "`kubernetes`", BankVaults: "vault-auth-method",
		Doc: "Vault auth method envexec logs in with. `kubernetes` and `jwt` send the pod's projected service account " +
			"token (see `token-audience`); `approle` needs `approle-secret`, `token` needs `token-secret`, and neither " +
			"mounts the pod's token.",
		set: func(p *Pod, v string, _ *Webhook) error {
			if !slices.Contains(podAuthMethods, settings.AuthMethod(v)) {
				return fmt.Errorf("%q is not an auth method a pod can use (kubernetes, jwt, approle, token)", v)
			}
			return setEnvexec(p, settings.EnvAuthMethod, v)
		},
	},
	{
		Name: "approle-secret", Type: "Secret name", Default: "none",
		Doc: "With `auth-method: approle`: Secret in the pod's namespace whose `role_id` and, if present, `secret_id` " +
			"envexec logs in with. The kubelet mounts those two keys alone, read-only, into wrapped containers (the webhook " +
			"never reads the Secret); the pod does not start until the Secret and its `role_id` exist, and a missing " +
			"`secret_id` means the role binds none. The auth path defaults to `approle`.",
		set: func(p *Pod, v string, _ *Webhook) error { return setSecretName(&p.AppRoleSecret, v) },
	},
	{
		Name: "token-secret", Type: "Secret name", Default: "none",
		Doc: "With `auth-method: token`: Secret in the pod's namespace whose `token` is the Vault token envexec uses as is " +
			"(no login; envexec does not revoke it). Mounted like `approle-secret`; the pod does not start until it exists.",
		set: func(p *Pod, v string, _ *Webhook) error { return setSecretName(&p.TokenSecret, v) },
	},
	{
		Name: "token-audience", Type: "string", Default: "the webhook's --token-audience (`vault`)",
		Doc: "Audience of the service account token projected for envexec (`kubernetes` and `jwt`), for a Vault role or " +
			"jwt auth method that expects another one. Allowed only if it is the default or listed in the webhook's " +
			"--allowed-token-audiences: a pod must not obtain a token the apiserver or another service accepts.",
		set: setPodTokenAudience,
	},
	{
		Name: "tls-skip-verify", Type: "bool", Default: "false", BankVaults: "vault-skip-verify",
		Doc: "\"true\" turns off verification of Vault's TLS certificate. Allowed only if the webhook runs with " +
			"--allow-tls-skip-verify.",
		set: func(p *Pod, v string, w *Webhook) error {
			if v == "true" && !w.AllowTLSSkipVerify {
				return errors.New(`"true" is not allowed: the webhook runs without --allow-tls-skip-verify`)
			}
			return setEnvexec(p, settings.EnvTLSSkipVerify, v)
		},
	},
	{
		Name: "tls-secret", Type: "Secret name", Default: "none", BankVaults: "vault-tls-secret",
		Doc: "Secret in the pod's namespace whose `ca.crt` envexec trusts for Vault's TLS, besides the system roots and the " +
			"platform's --vault-ca-file. The kubelet mounts that key alone, read-only, into wrapped containers (the webhook " +
			"never reads the Secret); the pod does not start until the Secret and its `ca.crt` exist.",
		set: func(p *Pod, v string, _ *Webhook) error { return setSecretName(&p.TLSSecret, v) },
	},
	envexecAnnotation("daemon", "vault-env-daemon", settings.EnvDaemon, "bool", "false",
		"\"true\" keeps envexec as the parent of the application to renew its token and leases (see docs/envexec.md)."),
	envexecAnnotation("daemon-on-expiry", "", settings.EnvDaemonOnExpiry, "restart, signal or stop", "`restart`",
		"What daemon mode does when a lease can no longer be renewed."),
	envexecAnnotation("daemon-signal", "", settings.EnvDaemonSignal, "signal name", "`SIGTERM`",
		"Signal sent to the application when daemon-on-expiry is signal."),
	envexecAnnotation("daemon-grace", "", settings.EnvDaemonGrace, "duration", "`30s`",
		"Time a stopping application gets before SIGKILL."),
	envexecAnnotation("daemon-on-change", "", settings.EnvDaemonOnChange, "restart, signal or stop", "`restart`",
		"What daemon mode does when a watched KV v2 secret changed: restart the application, rewrite the files and send "+
			"daemon-signal, or stop so the kubelet restarts the container (see docs/files.md)."),
	{
		Name: "watch-interval", Type: "duration", Default: "the webhook's --envexec-watch-interval (`5m`)",
		Doc: "How often envexec in daemon mode checks whether the KV v2 secrets it read changed. A pod may lengthen the " +
			"platform's interval, not shorten it (each check is a request per secret); `0s` turns the watch off.",
		set: func(p *Pod, v string, w *Webhook) error {
			if d, err := time.ParseDuration(v); err == nil && d == 0 {
				p.WatchInterval = 0
				return nil
			}
			return setWatch(&p.WatchInterval, v, w.Defaults.WatchInterval)
		},
	},
	{
		Name: "timeout", Type: "duration", Default: "the webhook's --envexec-timeout (`60s`)",
		Doc: "Start-up deadline of envexec: login, reads and retries must finish within it (at most 10m).",
		set: func(p *Pod, v string, _ *Webhook) error { return setTimeout(&p.Timeout, v) },
	},
	{
		Name: "log-level", Type: "debug, info, warn or error", Default: "the webhook's --envexec-log-level (`info`)",
		Doc: "Log level of envexec. Secret values are never logged, at any level.",
		set: func(p *Pod, v string, _ *Webhook) error { return setLogLevel(&p.LogLevel, v) },
	},
	filesDirAnnotation(),
	initAnnotation("init-cpu-request"),
	initAnnotation("init-memory-request"),
	initAnnotation("init-cpu-limit"),
	initAnnotation("init-memory-limit"),
})

// FromPath tells whether the pod asks for every key of some secrets (from-path): then every
// app container needs envexec, references or not.
func (p Pod) FromPath() bool {
	return p.Envexec[settings.EnvFromPath] != ""
}

// AllowLogin tells whether the pod lets vault:login hand its application envexec's
// Vault token (allow-login; envexec reads only "true").
func (p Pod) AllowLogin() bool {
	return p.Envexec[settings.EnvAllowLogin] == "true"
}

// AuthMethod is how envexec logs in: the auth-method annotation, or kubernetes.
func (p Pod) AuthMethod() settings.AuthMethod {
	if m := p.Envexec[settings.EnvAuthMethod]; m != "" {
		return settings.AuthMethod(m)
	}
	return settings.AuthKubernetes
}

// UsesServiceAccountToken tells whether envexec logs in with the pod's projected service
// account token (kubernetes, jwt); approle and token need none, so none is mounted.
func (p Pod) UsesServiceAccountToken() bool {
	m := p.AuthMethod()
	return m == settings.AuthKubernetes || m == settings.AuthJWT
}

// envexecAnnotation declares an annotation that becomes one envexec setting, validated by
// envexec's own parser so the webhook and envexec cannot disagree on what is valid.
func envexecAnnotation(name, bankVaults, setting, typ, def, doc string) Annotation {
	return Annotation{
		Name: name, Type: typ, Default: def, BankVaults: bankVaults, Doc: doc + " (`" + setting + "`)",
		set: func(p *Pod, v string, _ *Webhook) error { return setEnvexec(p, setting, v) },
	}
}

func setEnvexec(p *Pod, setting, v string) error {
	if err := settings.CheckSetting(setting, v); err != nil {
		return err
	}
	if p.Envexec == nil {
		p.Envexec = map[string]string{}
	}
	p.Envexec[setting] = v
	return nil
}

// setPodVaultAddr enforces the tenant policy: annotations are written by tenants, so a pod
// may only pick a Vault the platform team listed.
func setPodVaultAddr(p *Pod, v string, w *Webhook) error {
	var addr string
	if err := setVaultAddr(&addr, v); err != nil {
		return err
	}
	if addr != w.Defaults.VaultAddr && !slices.Contains(w.AllowedVaultAddrs, strings.TrimSuffix(addr, "/")) {
		return fmt.Errorf("%q is not in the webhook's --allowed-vault-addrs; ask the platform team to allow it", v)
	}
	p.VaultAddr = addr
	return nil
}

// setPodDelivery takes a delivery the platform allows: its default or one it listed.
func setPodDelivery(p *Pod, v string, w *Webhook) error {
	d, err := parseDelivery(v)
	if err != nil {
		return err
	}
	if d != w.EnvexecDelivery && !slices.Contains(w.AllowedDeliveries, d) {
		return fmt.Errorf("%s is not allowed by the platform (allowed: %s, the default, and --allowed-envexec-deliveries)", d, w.EnvexecDelivery)
	}
	p.ImageVolume = d == DeliveryImageVolume
	return nil
}

// deliveryErrors reports a delivery the injector image cannot serve: the image volume
// mounts envexec's directory at the injector's mount path, so the file must be "envexec".
func deliveryErrors(p *Pod) []error {
	if p.ImageVolume && path.Base(p.EnvexecPath) != "envexec" {
		return []error{fmt.Errorf("image-volume delivery needs --envexec-path to name a file called envexec, not %q", p.EnvexecPath)}
	}
	return nil
}

// ParsePod applies a pod's annotations over the webhook defaults. Every malformed or
// unknown annotation under AnnotationPrefix is reported (joined), never defaulted. Our
// annotation wins over its bank-vaults alias; bank-vaults annotations we do not support
// come back as warnings.
func ParsePod(annotations map[string]string, serviceAccount string, w Webhook) (Pod, []string, error) {
	if serviceAccount == "" {
		serviceAccount = "default"
	}
	p := Pod{
		Inject:          true,
		InjectorImage:   w.InjectorImage,
		EnvexecPath:     w.EnvexecPath,
		VaultAddr:       w.Defaults.VaultAddr,
		Role:            serviceAccount,
		AuthPath:        w.Defaults.AuthPath,
		Timeout:         w.Defaults.Timeout,
		LogLevel:        w.Defaults.LogLevel,
		MalformedWarn:   w.MalformedReferences == MalformedWarn,
		TokenAudience:   w.Defaults.TokenAudience,
		TokenExpiration: w.Defaults.TokenExpiration,
		CACerts:         w.VaultCA.Certs(),
		Init:            w.Defaults.Init,
		ImageVolume:     w.EnvexecDelivery == DeliveryImageVolume,
		WatchInterval:   w.Defaults.WatchInterval,
	}
	var errs []error
	// Most pods carry no annotation of ours: then every lookup below would miss, and the
	// files and unknown names have nothing to walk.
	mentioned := mentionsUs(annotations, w.BankVaultsCompat)
	if mentioned {
		errs = applyAnnotations(&p, annotations, &w)
	}
	errs = append(errs, deliveryErrors(&p)...)
	var keys []string // sorted once: the files and the unknown-name check walk them in order
	if mentioned {
		keys = slices.Sorted(maps.Keys(annotations))
	}
	errs = append(errs, parseFiles(&p, annotations, keys)...)
	errs = append(errs, initRelationErrors(&p, annotations)...)
	errs = append(errs, authRelationErrors(&p, annotations, w.BankVaultsCompat)...)
	var warnings []string
	for _, key := range keys {
		if name, ok := strings.CutPrefix(key, AnnotationPrefix); ok && key != StatusAnnotation && find(name, false) == nil && !isFileAnnotation(name) {
			errs = append(errs, fmt.Errorf("annotation %q is not known (known: %s)", key, knownNames()))
		}
		if name, ok := strings.CutPrefix(key, BankVaultsPrefix); ok && w.BankVaultsCompat && find(name, true) == nil {
			warnings = append(warnings, fmt.Sprintf("annotation %q is not supported by vault-injector and was ignored", key))
		}
	}
	return p, warnings, errors.Join(errs...)
}

// applyAnnotations sets on p the value of each annotation of the table the pod carries.
func applyAnnotations(p *Pod, annotations map[string]string, w *Webhook) []error {
	var errs []error
	for _, a := range Annotations {
		key, value, ok, err := a.lookup(annotations, w.BankVaultsCompat)
		if err == nil && ok {
			err = a.set(p, value, w)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("annotation %q: %w", key, err))
		}
	}
	return errs
}

// mentionsUs says whether any annotation is ours, or (with bankVaults) a bank-vaults one.
func mentionsUs(annotations map[string]string, bankVaults bool) bool {
	for key := range annotations {
		if strings.HasPrefix(key, AnnotationPrefix) || (bankVaults && strings.HasPrefix(key, BankVaultsPrefix)) {
			return true
		}
	}
	return false
}

// lookup finds the annotation's value: ours first, then (if enabled) the bank-vaults alias.
func (a *Annotation) lookup(annotations map[string]string, bankVaults bool) (key, value string, ok bool, err error) {
	key = a.key
	if value, ok = annotations[key]; ok || !bankVaults || a.BankVaults == "" {
		return key, value, ok, nil
	}
	key = a.bankVaultsKey
	if value, ok = annotations[key]; ok && a.fromBankVaults != nil {
		value, err = a.fromBankVaults(value)
	}
	return key, value, ok, err
}

func find(name string, bankVaults bool) *Annotation {
	for i := range Annotations {
		if (!bankVaults && Annotations[i].Name == name) || (bankVaults && Annotations[i].BankVaults == name) {
			return &Annotations[i]
		}
	}
	return nil
}

func knownNames() string {
	names := make([]string, len(Annotations))
	for i, a := range Annotations {
		names[i] = a.Name
	}
	return strings.Join(append(names, FileAnnotationPrefix+"NAME"), ", ")
}

// AnnotationsMarkdown renders docs/annotations.md from the Annotations table.
func AnnotationsMarkdown() string {
	var b strings.Builder
	b.WriteString("# Pod annotations\n\n")
	b.WriteString("<!-- Generated from config/pod.go by `make update`; do not edit. -->\n\n")
	b.WriteString("Set these on a pod (or its template) to change how its `vault:` references are resolved.\n")
	b.WriteString("A malformed value or an unknown `" + AnnotationPrefix + "` annotation rejects the pod with a message naming it.\n\n")
	b.WriteString("| Annotation | Type | Default | bank-vaults alias | Description |\n|---|---|---|---|---|\n")
	for _, a := range Annotations {
		alias := "—"
		if a.BankVaults != "" {
			alias = "`" + BankVaultsPrefix + a.BankVaults + "`"
		}
		fmt.Fprintf(&b, "| `%s%s` | %s | %s | %s | %s |\n", AnnotationPrefix, a.Name, a.Type, a.Default, alias, a.Doc)
	}
	fmt.Fprintf(&b, "| `%s%sNAME` | JSON object | none | — | %s |\n", AnnotationPrefix, FileAnnotationPrefix, fileAnnotationDoc)
	b.WriteString("\nbank-vaults aliases are read when the webhook runs with `--bank-vaults-annotations=true` (the default);\n")
	b.WriteString("when both are set, ours wins. Other `" + BankVaultsPrefix + "` annotations are ignored with an admission warning.\n")
	return b.String()
}
