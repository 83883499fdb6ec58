// Package config turns flags, environment variables and pod annotations into validated
// settings. It is the only package that knows their names, so the help text, the docs and
// the parsing cannot drift apart.
package config

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// EnvPrefix namespaces the webhook's environment variables so they never collide with
// anything else in its container; every flag --foo-bar is also VAULT_INJECTOR_FOO_BAR.
const EnvPrefix = "VAULT_INJECTOR_"

// Webhook holds the webhook-wide settings, parsed once at start-up.
type Webhook struct {
	// WebhookHost is the address the admission server listens on; empty means all.
	WebhookHost string
	// WebhookPort is the TLS port of the admission server.
	WebhookPort int
	// CertDir holds tls.crt and tls.key; they are reloaded when they change.
	CertDir string
	// ClientCAFile, if set, makes the admission server require a client certificate
	// signed by one of its CAs: only the apiserver, given such a certificate, may then
	// send reviews. Reloaded when it changes.
	ClientCAFile string
	// MetricsAddr serves Prometheus metrics; "0" turns them off.
	MetricsAddr string
	// ProbeAddr serves /healthz and /readyz.
	ProbeAddr string
	// ShutdownDelay is how long a stopping replica reports not ready yet keeps admitting,
	// so the apiserver stops choosing it before its listener closes.
	ShutdownDelay time.Duration
	// MemoryLimit is the container's memory limit (zero: none known); the Go runtime's soft
	// limit is kept below it, so the collector works harder before the kernel kills.
	MemoryLimit resource.Quantity
	// InjectorImage is the image of the injected init container; it must contain envexec.
	InjectorImage string
	// EnvexecPath is where envexec lives inside InjectorImage.
	EnvexecPath string
	// InitMax bounds the init container's resources a pod's annotations may ask for.
	InitMax InitMaxima
	// Defaults are the per-pod settings used where a pod's annotations say nothing.
	Defaults PodDefaults
	// Registry configures image entrypoint lookups.
	Registry Registry
	// ClusterEnv holds the variables that say where the cluster is, as kubectl reads them
	// (ClusterEnvNames); nil when none is set.
	ClusterEnv map[string]string
	// AllowedVaultAddrs are the Vault addresses a pod's annotation may choose, besides
	// the default; tenants must not redirect their token to a server of their choosing.
	AllowedVaultAddrs []string
	// AllowedTokenAudiences are the audiences a pod's token-audience annotation may choose,
	// besides the default: a pod must not obtain a token another service accepts.
	AllowedTokenAudiences []string
	// BankVaultsCompat reads bank-vaults' annotations as aliases of ours.
	BankVaultsCompat bool
	// Certs says where the serving certificate comes from.
	Certs Certs
	// VaultCA is the PEM bundle of the platform's CAs for Vault (--vault-ca-file), read at
	// start-up and again whenever the webhook reloads it; nil without one.
	VaultCA *VaultCA
	// AllowTLSSkipVerify lets pods turn off verification of Vault's certificate.
	AllowTLSSkipVerify bool
	// MalformedReferences says what a malformed reference does at admission.
	MalformedReferences MalformedPolicy
	// EnvexecDelivery is how envexec reaches pods unless one chooses otherwise.
	EnvexecDelivery Delivery
	// AllowedDeliveries are the deliveries a pod's envexec-delivery annotation may choose
	// besides EnvexecDelivery: only those the cluster's nodes support.
	AllowedDeliveries []Delivery
}

// Delivery is how envexec reaches a pod's containers.
type Delivery string

// The envexec deliveries.
const (
	// DeliveryInitCopy copies envexec into an in-memory volume with an init container
	// (the default; works on every cluster).
	DeliveryInitCopy Delivery = "init-copy"
	// DeliveryImageVolume mounts the injector image read-only as an image volume
	// (volumes[].image, KEP-4639; Kubernetes 1.35+ and containerd 2.x): no init
	// container, no copy.
	DeliveryImageVolume Delivery = "image-volume"
)

// parseDelivery reads one delivery name.
func parseDelivery(v string) (Delivery, error) {
	switch d := Delivery(v); d {
	case DeliveryInitCopy, DeliveryImageVolume:
		return d, nil
	}
	return "", fmt.Errorf("%q is not %s or %s", v, DeliveryInitCopy, DeliveryImageVolume)
}

// MalformedPolicy is what a malformed reference does to a pod at admission.
type MalformedPolicy string

// The malformed-reference policies.
const (
	// MalformedDeny rejects the pod, naming pod, container and variable (the default).
	MalformedDeny MalformedPolicy = "deny"
	// MalformedWarn admits it with an admission warning; envexec stops the container.
	MalformedWarn MalformedPolicy = "warn"
)

// CertMode names where the webhook's serving certificate comes from.
type CertMode string

// The certificate modes.
const (
	// CertModeFiles reads tls.crt/tls.key from --cert-dir, written by someone else
	// (cert-manager, a mounted Secret, tests).
	CertModeFiles CertMode = "files"
	// CertModeSelfManaged creates, stores, renews and publishes its own CA and certificate.
	CertModeSelfManaged CertMode = "self-managed"
)

// Certs configures self-managed certificates.
type Certs struct {
	// Mode is files or self-managed.
	Mode CertMode
	// Secret holds the self-managed CA and certificate, in Namespace.
	Secret string
	// WebhookConfigName is the MutatingWebhookConfiguration whose caBundle is kept current.
	WebhookConfigName string
	// ServiceName is the Service the apiserver calls; the certificate covers its names.
	ServiceName string
	// Namespace is the webhook's own namespace (from the downward API).
	Namespace string
	// CAValidity is the lifetime of a self-managed CA.
	CAValidity time.Duration
	// CertValidity is the lifetime of the serving certificate.
	CertValidity time.Duration
	// CheckInterval is how often each replica checks the Secret and the caBundle.
	CheckInterval time.Duration
	// ExtraSANs are more DNS names and IP addresses the self-managed certificate covers,
	// for an apiserver that calls the webhook by clientConfig.url instead of its Service.
	ExtraSANs []string
}

// Registry configures how the webhook reads image configs for containers without a command.
type Registry struct {
	// Timeout is the budget for all lookups of one admission request; keep it below the
	// webhook's timeoutSeconds so a slow registry gives a clear denial, not a timeout.
	Timeout time.Duration
	// DefaultPlatform is used when a pod's node selector does not name os and arch.
	DefaultPlatform string
	// Insecure lists registries (host[:port]) spoken to over plain HTTP; being the
	// platform's choice, they may also be at non-public addresses.
	Insecure []string
	// Private lists registries (host[:port]; a host alone matches any port) that may be at
	// loopback, private, link-local or other non-public addresses; other hosts are refused
	// there, so a pod cannot aim the webhook at cluster-internal services.
	Private []string
	// CAFile is an extra CA bundle for registries; empty means the system roots only.
	CAFile string
	// CacheSize bounds the image config cache.
	CacheSize int
	// TagTTL is how long a tag's digest is trusted.
	TagTTL time.Duration
	// DefaultPullSecret (namespace/name) is tried after the pod's own pull secrets.
	DefaultPullSecret string
	// DefaultPullSecretRegistries are the only registries (host[:port]; a host alone
	// matches any port) the default pull secret's credentials are sent to.
	DefaultPullSecretRegistries []string
	// Mirrors maps a registry host to a mirror asked first.
	Mirrors map[string]string
}

// PodDefaults are the webhook-wide defaults of the per-pod settings.
type PodDefaults struct {
	// VaultAddr is the Vault server envexec talks to.
	VaultAddr string
	// AuthPath is the mount path of Vault's Kubernetes auth method.
	AuthPath string
	// Timeout bounds envexec's whole start-up: login, reads and retries.
	Timeout time.Duration
	// LogLevel is envexec's log level.
	LogLevel LogLevel
	// TokenAudience is the audience of the projected token envexec logs in with. A
	// dedicated one (default "vault") keeps the token useless against the apiserver;
	// empty means the apiserver's own audience.
	TokenAudience string
	// TokenExpiration is the lifetime of that token; envexec only needs it at start-up.
	TokenExpiration time.Duration
	// Init is the injected init container's resources and user.
	Init InitContainer
	// WatchInterval is how often daemon-mode envexec checks the versions of the KV v2
	// secrets it read; a pod may only lengthen it. 0 turns the watch off.
	WatchInterval time.Duration
}

// flagSpec declares one webhook setting: its flag, its environment variable (derived), its
// default and help, and how to store a parsed value.
type flagSpec struct {
	name, def, help string
	set             func(w *Webhook, v string) error
}

// webhookFlags is the single table of webhook settings; parsing and --help derive from it.
var webhookFlags = []flagSpec{
	{
		"webhook-host", "", "address the admission server listens on (empty: all addresses)",
		func(w *Webhook, v string) error { w.WebhookHost = v; return nil },
	},
	{
		"webhook-port", "9443", "TLS port of the admission server",
		func(w *Webhook, v string) error { return setPort(&w.WebhookPort, v) },
	},
	{
		"cert-dir", "/tmp/k8s-webhook-server/serving-certs", "directory holding tls.crt and tls.key (reloaded on change)",
		func(w *Webhook, v string) error { return setNonEmpty(&w.CertDir, v) },
	},
	{
		"client-ca-file", "", "PEM CA bundle: when set, the admission server requires a client certificate signed by it " +
			"(give the apiserver one with an AdmissionConfiguration kubeconfig); reloaded when it changes",
		func(w *Webhook, v string) error { w.ClientCAFile = v; return nil },
	},
	{
		"metrics-bind-address", ":8080", `address of the Prometheus /metrics endpoint ("0" disables it)`,
		func(w *Webhook, v string) error { w.MetricsAddr = v; return nil },
	},
	{
		"health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints",
		func(w *Webhook, v string) error { return setNonEmpty(&w.ProbeAddr, v) },
	},
	{
		"shutdown-delay", "5s", "on SIGTERM, how long /readyz fails while admissions are still served, before the server " +
			"closes: the apiserver may pick this replica until it sees the endpoint go (0s to 60s)",
		func(w *Webhook, v string) error { return setDelay(&w.ShutdownDelay, v, time.Minute) },
	},
	{
		"memory-limit", "", "the container's memory limit (set it from the downward API, limits.memory); unless GOMEMLIMIT " +
			"is set, the Go runtime's soft memory limit becomes 90% of it, leaving room for what it does not count (empty: none)",
		func(w *Webhook, v string) error { return setQuantity(&w.MemoryLimit, v, true) },
	},
	{
		"injector-image", "ghcr.io/vault-injector/vault-injector:latest", "image of the injected init container (must contain envexec)",
		func(w *Webhook, v string) error { return setNonEmpty(&w.InjectorImage, v) },
	},
	{
		"envexec-path", "/usr/local/bin/envexec", "absolute path of envexec inside the injector image",
		func(w *Webhook, v string) error { return setAbsPath(&w.EnvexecPath, v) },
	},
	{
		"init-cpu-request", "10m", "CPU request of the injected init container",
		func(w *Webhook, v string) error { return setQuantity(&w.Defaults.Init.CPURequest, v, false) },
	},
	{
		"init-memory-request", "16Mi", "memory request of the injected init container",
		func(w *Webhook, v string) error { return setQuantity(&w.Defaults.Init.MemoryRequest, v, false) },
	},
	{
		"init-cpu-limit", "", "CPU limit of the injected init container (empty: none)",
		func(w *Webhook, v string) error { return setQuantity(&w.Defaults.Init.CPULimit, v, true) },
	},
	{
		"init-memory-limit", "64Mi", "memory limit of the injected init container",
		func(w *Webhook, v string) error { return setQuantity(&w.Defaults.Init.MemoryLimit, v, false) },
	},
	{
		"init-run-as-user", "65532", `user of the injected init container; "unset" (or empty) leaves runAsUser to the platform ` +
			"(OpenShift assigns one), runAsNonRoot stays true",
		func(w *Webhook, v string) error { return setID(&w.Defaults.Init.RunAsUser, v, 1) },
	},
	{
		"init-run-as-group", "65532", `primary group of the injected init container; "unset" (or empty) leaves runAsGroup to the platform`,
		func(w *Webhook, v string) error { return setID(&w.Defaults.Init.RunAsGroup, v, 0) },
	},
	{
		"init-max-cpu", "500m", "largest CPU request or limit a pod's annotations may give the injected init container",
		func(w *Webhook, v string) error { return setQuantity(&w.InitMax.CPU, v, false) },
	},
	{
		"init-max-memory", "256Mi", "largest memory request or limit a pod's annotations may give the injected init container",
		func(w *Webhook, v string) error { return setQuantity(&w.InitMax.Memory, v, false) },
	},
	{
		"vault-addr", "https://vault.vault.svc:8200", "default Vault address (pods may override it with an annotation)",
		func(w *Webhook, v string) error { return setVaultAddr(&w.Defaults.VaultAddr, v) },
	},
	{
		"vault-auth-path", "kubernetes", "default mount path of Vault's Kubernetes auth method",
		func(w *Webhook, v string) error { return setAuthPath(&w.Defaults.AuthPath, v) },
	},
	{
		"envexec-timeout", "60s", "default start-up deadline of envexec (login, reads and retries)",
		func(w *Webhook, v string) error { return setTimeout(&w.Defaults.Timeout, v) },
	},
	{
		"envexec-watch-interval", "5m", "how often envexec in daemon mode checks whether the KV v2 secrets it read changed (jittered by a tenth; 0s: never); pods may lengthen it with the watch-interval annotation",
		func(w *Webhook, v string) error { return setWatch(&w.Defaults.WatchInterval, v, 0) },
	},
	{
		"envexec-log-level", "info", "default log level of envexec (debug, info, warn, error)",
		func(w *Webhook, v string) error { return setLogLevel(&w.Defaults.LogLevel, v) },
	},
	{
		"token-audience", "vault", "audience of the service account token projected for envexec; the Vault role must name it " +
			"(its audience), and the apiserver does not accept such a token (empty: the apiserver's own audience, which can call the apiserver)",
		func(w *Webhook, v string) error { w.Defaults.TokenAudience = v; return nil },
	},
	{
		"token-expiration", "10m", "lifetime of the token projected for envexec (10m to 24h)",
		func(w *Webhook, v string) error { return setTokenExpiration(&w.Defaults.TokenExpiration, v) },
	},
	{
		"cert-mode", "files", "files: tls.crt/tls.key in --cert-dir come from elsewhere (cert-manager, a Secret, tests); " +
			"self-managed: the webhook creates, stores and renews its own CA and certificate",
		func(w *Webhook, v string) error { return setCertMode(&w.Certs.Mode, v) },
	},
	{
		"cert-secret", "", "Secret in --namespace holding the self-managed CA and certificate",
		func(w *Webhook, v string) error { w.Certs.Secret = v; return nil },
	},
	{
		"webhook-config-name", "", "MutatingWebhookConfiguration whose caBundle is kept current (self-managed)",
		func(w *Webhook, v string) error { w.Certs.WebhookConfigName = v; return nil },
	},
	{
		"service-name", "", "Service the apiserver calls; the self-managed certificate covers its DNS names",
		func(w *Webhook, v string) error { w.Certs.ServiceName = v; return nil },
	},
	{
		"namespace", "", "the webhook's own namespace (set it from the downward API)",
		func(w *Webhook, v string) error { w.Certs.Namespace = v; return nil },
	},
	{
		"cert-extra-sans", "", "comma-separated DNS names and IP addresses the self-managed certificate covers besides the Service's " +
			"(for an apiserver that calls the webhook by clientConfig.url)",
		func(w *Webhook, v string) error { return setSANs(&w.Certs.ExtraSANs, v) },
	},
	{
		"ca-validity", "43800h", "lifetime of a self-managed CA; replaced after 2/3 of it",
		func(w *Webhook, v string) error { return setDuration(&w.Certs.CAValidity, v, 20*8760*time.Hour) },
	},
	{
		"cert-validity", "8760h", "lifetime of the self-managed serving certificate; renewed after 2/3 of it",
		func(w *Webhook, v string) error { return setDuration(&w.Certs.CertValidity, v, 20*8760*time.Hour) },
	},
	{
		"cert-check-interval", "1m", "how often each replica checks the certificate Secret and the caBundle",
		func(w *Webhook, v string) error { return setDuration(&w.Certs.CheckInterval, v, 24*time.Hour) },
	},
	{
		"vault-ca-file", "", "PEM bundle of CAs that every wrapped container trusts for Vault's TLS, besides the system roots " +
			"(written into pods as ENVEXEC_CA_CERTS: certificates only, at most 64 KiB); read at start-up",
		setVaultCAFile,
	},
	{
		"allow-tls-skip-verify", "false", "let pods turn off verification of Vault's TLS certificate (annotation tls-skip-verify)",
		func(w *Webhook, v string) error { return setBool(&w.AllowTLSSkipVerify, v) },
	},
	{
		"malformed-references", "deny", "what a malformed reference does at admission: deny the pod, or warn (kubectl shows it) and let envexec stop the container",
		func(w *Webhook, v string) error {
			switch p := MalformedPolicy(v); p {
			case MalformedDeny, MalformedWarn:
				w.MalformedReferences = p
				return nil
			}
			return fmt.Errorf("%q is not deny or warn", v)
		},
	},
	{
		"envexec-delivery", string(DeliveryInitCopy), "how envexec reaches pods: init-copy (an init container copies it into an in-memory volume) " +
			"or image-volume (the injector image mounted read-only as an image volume; needs Kubernetes 1.35+ and containerd 2.x on every node)",
		func(w *Webhook, v string) error {
			d, err := parseDelivery(v)
			w.EnvexecDelivery = d
			return err
		},
	},
	{
		"allowed-envexec-deliveries", "", "comma-separated deliveries a pod's envexec-delivery annotation may choose besides --envexec-delivery",
		func(w *Webhook, v string) error {
			w.AllowedDeliveries = nil
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s == "" {
					continue
				}
				d, err := parseDelivery(s)
				if err != nil {
					return err
				}
				w.AllowedDeliveries = append(w.AllowedDeliveries, d)
			}
			return nil
		},
	},
	{
		"allowed-vault-addrs", "", "comma-separated Vault URLs a pod's vault-addr annotation may name (the default is always allowed)",
		func(w *Webhook, v string) error { return setURLList(&w.AllowedVaultAddrs, v) },
	},
	{
		"allowed-token-audiences", "", "comma-separated audiences a pod's token-audience annotation may name for envexec's " +
			"projected token (--token-audience is always allowed); never one the apiserver or another service accepts",
		func(w *Webhook, v string) error { return setAudienceList(&w.AllowedTokenAudiences, v) },
	},
	{
		"bank-vaults-annotations", "true", "read bank-vaults' vault.security.banzaicloud.io/ annotations as aliases of ours",
		func(w *Webhook, v string) error { return setBool(&w.BankVaultsCompat, v) },
	},
	{
		"registry-timeout", "5s", "budget for all I/O of one admission request: apiserver reads and image lookups (keep below the webhook timeout)",
		func(w *Webhook, v string) error { return setDuration(&w.Registry.Timeout, v, 30*time.Second) },
	},
	{
		"default-platform", "linux/amd64", "platform (os/arch) whose image config is read when a pod's node selector names none",
		func(w *Webhook, v string) error { return setPlatform(&w.Registry.DefaultPlatform, v) },
	},
	{
		"insecure-registries", "", "comma-separated registries (host[:port]) reached over plain HTTP (they may also be at private addresses)",
		func(w *Webhook, v string) error { return setHostList(&w.Registry.Insecure, v) },
	},
	{
		"private-registries", "", "comma-separated registries (host[:port]; a host alone matches any port) that may resolve to " +
			"loopback, private, link-local or CGNAT addresses; others are refused there (insecure registries and mirrors are allowed too)",
		func(w *Webhook, v string) error { return setHostList(&w.Registry.Private, v) },
	},
	{
		"registry-mirrors", "", "comma-separated REGISTRY=MIRROR pairs (e.g. docker.io=mirror.internal:5000); the mirror is asked first",
		func(w *Webhook, v string) error { return setMirrors(&w.Registry.Mirrors, v) },
	},
	{
		"registry-ca-file", "", "PEM bundle of extra CAs trusted for registries",
		func(w *Webhook, v string) error { w.Registry.CAFile = v; return nil },
	},
	{
		"image-cache-size", "1024", "number of image configs (and tags) kept in memory",
		func(w *Webhook, v string) error { return setPositive(&w.Registry.CacheSize, v) },
	},
	{
		"image-cache-ttl", "5m", "how long a tag's digest is trusted before the registry is asked again",
		func(w *Webhook, v string) error { return setDuration(&w.Registry.TagTTL, v, 24*time.Hour) },
	},
	{
		"default-pull-secret", "", "namespace/name of a pull secret tried after the pod's own",
		func(w *Webhook, v string) error { return setNamespacedName(&w.Registry.DefaultPullSecret, v) },
	},
	{
		"default-pull-secret-registries", "", "comma-separated registries (host[:port]; a host alone matches any port) the default " +
			"pull secret's credentials may be sent to; required with --default-pull-secret",
		func(w *Webhook, v string) error { return setHostList(&w.Registry.DefaultPullSecretRegistries, v) },
	},
}

// ClusterEnvNames are the variables the webhook's Kubernetes client reads, as kubectl does:
// the kubeconfig files, the home directory that holds the default one, and the apiserver's
// Service inside a pod.
var ClusterEnvNames = []string{"KUBECONFIG", "HOME", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"}

// EnvName is the environment variable that also sets a flag.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ParseWebhook registers the webhook flags on fs (which may already carry other flags,
// such as the logger's), then applies defaults, environment and args in that order of
// increasing precedence. lookupEnv is os.LookupEnv in production.
func ParseWebhook(fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) (Webhook, error) {
	var w Webhook
	var errs []error
	for _, f := range webhookFlags {
		value, source := f.def, "default"
		if v, ok := lookupEnv(EnvName(f.name)); ok {
			value, source = v, EnvName(f.name)
		}
		if err := f.set(&w, value); err != nil {
			errs = append(errs, fmt.Errorf("%s (from %s): %w", f.name, source, err))
		}
		fs.Var(&flagValue{w: &w, spec: f, text: value}, f.name, f.help+" (env "+EnvName(f.name)+")")
	}
	if err := errors.Join(errs...); err != nil {
		return Webhook{}, err
	}
	for _, name := range ClusterEnvNames {
		if v, ok := lookupEnv(name); ok {
			if w.ClusterEnv == nil {
				w.ClusterEnv = map[string]string{}
			}
			w.ClusterEnv[name] = v
		}
	}
	if err := fs.Parse(args); err != nil {
		return Webhook{}, err
	}
	if fs.NArg() > 0 {
		return Webhook{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return w, w.validate()
}

// flagValue adapts a flagSpec to flag.Value so --help shows the effective default.
type flagValue struct {
	w    *Webhook
	spec flagSpec
	text string
}

func (f *flagValue) String() string {
	if f == nil {
		return ""
	}
	return f.text
}

func (f *flagValue) Set(v string) error {
	if err := f.spec.set(f.w, v); err != nil {
		return err
	}
	f.text = v
	return nil
}

// validate checks what single flags cannot: settings that only make sense together.
func (w *Webhook) validate() error {
	var errs []error
	if w.Certs.Mode == CertModeSelfManaged {
		for name, v := range map[string]string{
			"cert-secret": w.Certs.Secret, "webhook-config-name": w.Certs.WebhookConfigName,
			"service-name": w.Certs.ServiceName, "namespace": w.Certs.Namespace,
		} {
			if v == "" {
				errs = append(errs, fmt.Errorf("--cert-mode=self-managed needs --%s (env %s)", name, EnvName(name)))
			}
		}
		if w.Certs.CertValidity > w.Certs.CAValidity {
			errs = append(errs, errors.New("--cert-validity must not be longer than --ca-validity"))
		}
	}
	if w.Registry.DefaultPullSecret != "" && len(w.Registry.DefaultPullSecretRegistries) == 0 {
		// Fail safe, and loudly: sent to every registry a pod names, the platform's
		// credentials would reach registries run by tenants.
		errs = append(errs, errors.New("--default-pull-secret needs --default-pull-secret-registries: the registries its credentials may be sent to"))
	}
	errs = append(errs, w.validateInit()...)
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}
