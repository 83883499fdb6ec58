package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
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
	// MutateProbes runs exec probes through envexec, so probe commands see the secrets.
	MutateProbes bool `json:"mutateProbes,omitempty"`
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
}

var roleRE = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,128}$`)

// Annotations lists every annotation the webhook reads, in documentation order.
var Annotations = []Annotation{
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
			return nil
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
		Name: "timeout", Type: "duration", Default: "the webhook's --envexec-timeout (`60s`)",
		Doc: "Start-up deadline of envexec: login, reads and retries must finish within it (at most 10m).",
		set: func(p *Pod, v string, _ *Webhook) error { return setTimeout(&p.Timeout, v) },
	},
	{
		Name: "log-level", Type: "debug, info, warn or error", Default: "the webhook's --envexec-log-level (`info`)",
		Doc: "Log level of envexec. Secret values are never logged, at any level.",
		set: func(p *Pod, v string, _ *Webhook) error { return setLogLevel(&p.LogLevel, v) },
	},
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
		TokenAudience:   w.Defaults.TokenAudience,
		TokenExpiration: w.Defaults.TokenExpiration,
	}
	var errs []error
	for _, a := range Annotations {
		key, value, ok, err := a.lookup(annotations, w.BankVaultsCompat)
		if err == nil && ok {
			err = a.set(&p, value, &w)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("annotation %q: %w", key, err))
		}
	}
	var warnings []string
	for _, key := range sortedKeys(annotations) {
		if name, ok := strings.CutPrefix(key, AnnotationPrefix); ok && key != StatusAnnotation && find(name, false) == nil {
			errs = append(errs, fmt.Errorf("annotation %q is not known (known: %s)", key, knownNames()))
		}
		if name, ok := strings.CutPrefix(key, BankVaultsPrefix); ok && w.BankVaultsCompat && find(name, true) == nil {
			warnings = append(warnings, fmt.Sprintf("annotation %q is not supported by vault-injector and was ignored", key))
		}
	}
	return p, warnings, errors.Join(errs...)
}

// lookup finds the annotation's value: ours first, then (if enabled) the bank-vaults alias.
func (a *Annotation) lookup(annotations map[string]string, bankVaults bool) (key, value string, ok bool, err error) {
	key = AnnotationPrefix + a.Name
	if value, ok = annotations[key]; ok || !bankVaults || a.BankVaults == "" {
		return key, value, ok, nil
	}
	key = BankVaultsPrefix + a.BankVaults
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
	return strings.Join(names, ", ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
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
	b.WriteString("\nbank-vaults aliases are read when the webhook runs with `--bank-vaults-annotations=true` (the default);\n")
	b.WriteString("when both are set, ours wins. Other `" + BankVaultsPrefix + "` annotations are ignored with an admission warning.\n")
	return b.String()
}
