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
}

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
	set func(p *Pod, v string) error
}

var roleRE = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,128}$`)

// Annotations lists every annotation the webhook reads, in documentation order.
var Annotations = []Annotation{
	{
		Name: "inject", Type: "bool", Default: "true",
		Doc: `"false" leaves the pod exactly as submitted, even if it holds references.`,
		set: func(p *Pod, v string) error { return setBool(&p.Inject, v) },
	},
	{
		Name: "vault-addr", Type: "URL", Default: "the webhook's --vault-addr",
		Doc: "Vault server envexec logs in to, e.g. `https://vault.example:8200`.",
		set: func(p *Pod, v string) error { return setVaultAddr(&p.VaultAddr, v) },
	},
	{
		Name: "role", Type: "string", Default: "the pod's service account name",
		Doc: "Vault role of the Kubernetes auth method that envexec logs in as.",
		set: func(p *Pod, v string) error {
			if !roleRE.MatchString(v) {
				return fmt.Errorf("%q is not a Vault role name (1-128 of letters, digits, '_', '.', '@', '-')", v)
			}
			p.Role = v
			return nil
		},
	},
	{
		Name: "auth-path", Type: "string", Default: "the webhook's --vault-auth-path (`kubernetes`)",
		Doc: "Mount path of the Kubernetes auth method in Vault, e.g. `kubernetes-prod`.",
		set: func(p *Pod, v string) error { return setAuthPath(&p.AuthPath, v) },
	},
	{
		Name: "timeout", Type: "duration", Default: "the webhook's --envexec-timeout (`60s`)",
		Doc: "Start-up deadline of envexec: login, reads and retries must finish within it (at most 10m).",
		set: func(p *Pod, v string) error { return setTimeout(&p.Timeout, v) },
	},
	{
		Name: "log-level", Type: "debug, info, warn or error", Default: "the webhook's --envexec-log-level (`info`)",
		Doc: "Log level of envexec. Secret values are never logged, at any level.",
		set: func(p *Pod, v string) error { return setLogLevel(&p.LogLevel, v) },
	},
}

// ParsePod applies a pod's annotations over the webhook defaults. Every malformed or
// unknown annotation under AnnotationPrefix is reported (joined), never defaulted.
func ParsePod(annotations map[string]string, serviceAccount string, w Webhook) (Pod, error) {
	if serviceAccount == "" {
		serviceAccount = "default"
	}
	p := Pod{
		Inject:        true,
		InjectorImage: w.InjectorImage,
		EnvexecPath:   w.EnvexecPath,
		VaultAddr:     w.Defaults.VaultAddr,
		Role:          serviceAccount,
		AuthPath:      w.Defaults.AuthPath,
		Timeout:       w.Defaults.Timeout,
		LogLevel:      w.Defaults.LogLevel,
	}
	var errs []error
	for _, key := range sortedKeys(annotations) {
		name, ok := strings.CutPrefix(key, AnnotationPrefix)
		if !ok || key == StatusAnnotation {
			continue
		}
		a := lookup(name)
		if a == nil {
			errs = append(errs, fmt.Errorf("annotation %q is not known (known: %s)", key, knownNames()))
			continue
		}
		if err := a.set(&p, annotations[key]); err != nil {
			errs = append(errs, fmt.Errorf("annotation %q: %w", key, err))
		}
	}
	return p, errors.Join(errs...)
}

func lookup(name string) *Annotation {
	for i := range Annotations {
		if Annotations[i].Name == name {
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
	b.WriteString("| Annotation | Type | Default | Description |\n|---|---|---|---|\n")
	for _, a := range Annotations {
		fmt.Fprintf(&b, "| `%s%s` | %s | %s | %s |\n", AnnotationPrefix, a.Name, a.Type, a.Default, a.Doc)
	}
	return b.String()
}
