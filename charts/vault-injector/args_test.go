package chart_test

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	"github.com/vault-injector/vault-injector/config"
)

// pendingFlags are flags the chart passes that config/ does not define yet. They are
// reported, not checked; once config/ defines one, this test fails until it is removed here.
var pendingFlags = []string{}

// selfManagedFlags are passed only in the self-managed certificate mode; namespace and
// memory-limit come from the downward API as VAULT_INJECTOR_NAMESPACE and
// VAULT_INJECTOR_MEMORY_LIMIT instead of flags, and the CA file flags only when their
// bundle is set.
var (
	selfManagedFlags = []string{"cert-secret", "webhook-config-name", "service-name", "ca-validity", "cert-validity", "cert-check-interval", "cert-extra-sans"}
	envOnlyFlags     = []string{"namespace", "memory-limit", "registry-ca-file", "client-ca-file", "vault-ca-file"}
)

// TestArgs parses the chart's container arguments with the webhook's own flag parser, for
// every scenario: each flag must exist and each value must be valid, and every webhook
// flag must be reachable from the values.
func TestArgs(t *testing.T) {
	h := newHelm(t)
	defaults := parseFlags(t, nil, nil)
	for _, s := range scenarios() {
		t.Run(s.name, func(t *testing.T) {
			var d appsv1.Deployment
			convert(t, find(t, parseObjects(t, h.template(t, goldenRelease, goldenNamespace, s.args()...)), "Deployment"), &d)
			c := d.Spec.Template.Spec.Containers[0]
			if c.Env[0].Name != "VAULT_INJECTOR_NAMESPACE" || c.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
				t.Errorf("first env %+v, want VAULT_INJECTOR_NAMESPACE from the downward API", c.Env[0])
			}
			got := parseFlags(t, c.Args, map[string]string{"VAULT_INJECTOR_NAMESPACE": goldenNamespace})
			switch s.name {
			case "defaults":
				// The chart pins its own image and mounts the certificates elsewhere; all else
				// must be the binary's default, so the chart cannot drift from it.
				// Its certificates are self-managed by default, where the binary reads files.
				opts := []cmp.Option{
					cmpopts.IgnoreFields(config.Webhook{}, "InjectorImage", "CertDir"),
					cmpopts.IgnoreFields(config.Certs{}, "Mode", "Secret", "WebhookConfigName", "ServiceName", "Namespace"),
				}
				if got.cfg.Certs.Mode != config.CertModeSelfManaged || got.cfg.Certs.Namespace != goldenNamespace {
					t.Errorf("default certificates: mode %q in namespace %q, want self-managed in %q", got.cfg.Certs.Mode, got.cfg.Certs.Namespace, goldenNamespace)
				}
				if d := cmp.Diff(defaults.cfg, got.cfg, opts...); d != "" {
					t.Errorf("chart defaults differ from the binary's (-binary +chart):\n%s", d)
				}
			case "customized":
				checkCustomized(t, got)
			case "vault-ca-from":
				checkVaultCAFrom(t, &d, got)
			}
			selfManaged := got.cfg.Certs.Mode == config.CertModeSelfManaged
			for _, name := range defaults.webhookFlags {
				if slices.Contains(envOnlyFlags, name) || (!selfManaged && slices.Contains(selfManagedFlags, name)) {
					continue
				}
				if !slices.Contains(got.passed, name) {
					t.Errorf("the chart does not pass --%s: every webhook flag must be reachable from values", name)
				}
			}
		})
	}
}

// parsed is what the webhook makes of a command line.
type parsed struct {
	cfg          config.Webhook
	webhookFlags []string // the flags config.ParseWebhook defines
	passed       []string // the flags on the command line
	vaultCAFile  string   // --vault-ca-file as the chart passes it
}

// parseFlags runs the webhook's parser (its flags plus the logger's, as cmd/vault-injector
// does) on args, minus the pending flags.
func parseFlags(t *testing.T, args []string, env map[string]string) parsed {
	t.Helper()
	fs := flag.NewFlagSet("vault-injector", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var zapOpts zap.Options
	zapOpts.BindFlags(fs)
	var zapFlags []string
	fs.VisitAll(func(f *flag.Flag) { zapFlags = append(zapFlags, f.Name) })
	probe := flag.NewFlagSet("probe", flag.ContinueOnError)
	if _, err := config.ParseWebhook(probe, nil, func(string) (string, bool) { return "", false }); err != nil {
		t.Fatalf("webhook defaults: %v", err)
	}
	var out parsed
	probe.VisitAll(func(f *flag.Flag) { out.webhookFlags = append(out.webhookFlags, f.Name) })
	var kept, unchecked []string
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		out.passed = append(out.passed, name)
		known := slices.Contains(out.webhookFlags, name) || slices.Contains(zapFlags, name)
		switch pending := slices.Contains(pendingFlags, name); {
		case known && pending:
			t.Errorf("config/ defines --%s now: remove it from pendingFlags", name)
		case pending:
			unchecked = append(unchecked, "--"+name)
			continue
		}
		if path, ok := strings.CutPrefix(a, "--vault-ca-file="); ok {
			// The webhook reads the bundle at start-up: give it the one the scenario's
			// values hold, where the chart mounts it.
			out.vaultCAFile = path
			a = "--vault-ca-file=" + vaultCAFile(t)
		}
		kept = append(kept, a)
	}
	if len(unchecked) > 0 {
		t.Logf("not checked, not defined in config/ yet: %s", strings.Join(unchecked, " "))
	}
	cfg, err := config.ParseWebhook(fs, kept, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("the webhook rejects the chart's arguments: %v\nargs: %q", err, kept)
	}
	out.cfg = cfg
	return out
}

// checkVaultCAFrom: the existing Secret's key is mounted, as a whole volume (so the kubelet
// updates it in place), where --vault-ca-file points.
func checkVaultCAFrom(t *testing.T, d *appsv1.Deployment, got parsed) {
	t.Helper()
	var vol *corev1.Volume
	for i := range d.Spec.Template.Spec.Volumes {
		if d.Spec.Template.Spec.Volumes[i].Name == "vault-ca" {
			vol = &d.Spec.Template.Spec.Volumes[i]
		}
	}
	if vol == nil || vol.Secret == nil || vol.Secret.SecretName != "corp-vault-ca" ||
		len(vol.Secret.Items) != 1 || vol.Secret.Items[0] != (corev1.KeyToPath{Key: "bundle.pem", Path: "ca.crt"}) {
		t.Fatalf("vault-ca volume %+v, want Secret corp-vault-ca's bundle.pem as ca.crt", vol)
	}
	for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
		if m.Name == "vault-ca" && (m.SubPath != "" || filepath.Join(m.MountPath, "ca.crt") != got.vaultCAFile) {
			t.Errorf("vault-ca mounted %+v, want its folder whole, holding --vault-ca-file=%s", m, got.vaultCAFile)
		}
	}
}

// vaultCAFile writes customized.yaml's vault.caBundle where the webhook can read it.
func vaultCAFile(t *testing.T) string {
	t.Helper()
	var values struct {
		Vault struct {
			CABundle string `json:"caBundle"`
		} `json:"vault"`
	}
	data, err := os.ReadFile(filepath.Join("testdata", "values", "customized.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(path, []byte(values.Vault.CABundle), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkCustomized: each changed value reaches the webhook's configuration.
func checkCustomized(t *testing.T, got parsed) {
	t.Helper()
	if got.vaultCAFile != "/etc/vault-injector/vault-ca/ca.crt" || !strings.HasPrefix(got.cfg.VaultCA.Certs(), "-----BEGIN CERTIFICATE-----\nMIIBqDCCAU2gAwIBAgIUEn8KXfF4LnS11zZGOnOfiun") {
		t.Errorf("--vault-ca-file=%q gives pods %q, want the mounted vault.caBundle", got.vaultCAFile, got.cfg.VaultCA.Certs())
	}
	want := config.Webhook{
		WebhookHost: "0.0.0.0", WebhookPort: 10443, CertDir: "/etc/vault-injector/certs", MetricsAddr: "0", ProbeAddr: ":10081", ShutdownDelay: 8 * time.Second,
		ClientCAFile:  "/etc/vault-injector/client-ca/ca.crt",
		InjectorImage: "registry.example/envexec:1.2.3", EnvexecPath: "/bin/envexec",
		Defaults: config.PodDefaults{
			VaultAddr: "https://vault.example:8200", AuthPath: "kubernetes-prod", Timeout: 2 * time.Minute,
			LogLevel: config.LogDebug, TokenAudience: "vault", TokenExpiration: time.Hour, WatchInterval: 15 * time.Minute,
			// runAsUser: null in the values leaves the user to the platform.
			Init: config.InitContainer{
				CPURequest: resource.MustParse("50m"), MemoryRequest: resource.MustParse("32Mi"),
				CPULimit: resource.MustParse("200m"), MemoryLimit: resource.MustParse("128Mi"), RunAsGroup: ptr.To[int64](1000),
			},
		},
		InitMax: config.InitMaxima{CPU: resource.MustParse("1"), Memory: resource.MustParse("512Mi")},
		Registry: config.Registry{
			Timeout: 3 * time.Second, DefaultPlatform: "linux/arm64", Insecure: []string{"registry.local:5000"},
			Mirrors: map[string]string{"docker.io": "mirror.internal:5000"},
			CAFile:  "/etc/vault-injector/registry-ca/ca.crt", CacheSize: 256, TagTTL: time.Minute, DefaultPullSecret: "infra/registry-pull",
			DefaultPullSecretRegistries: []string{"registry.example"}, Private: []string{"registry.internal", "10.0.0.5:5000"},
		},
		AllowedVaultAddrs:   []string{"https://vault-eu.example:8200", "https://vault-us.example:8200"},
		BankVaultsCompat:    false,
		AllowTLSSkipVerify:  true,
		MalformedReferences: config.MalformedWarn,
		EnvexecDelivery:     config.DeliveryImageVolume,
		AllowedDeliveries:   []config.Delivery{config.DeliveryInitCopy},
		Certs: config.Certs{
			Mode: config.CertModeSelfManaged, Secret: "vi-secrets-certs", WebhookConfigName: "vi-secrets", ServiceName: "vi-secrets",
			Namespace: "infra", CAValidity: 87600 * time.Hour, CertValidity: 720 * time.Hour, CheckInterval: 30 * time.Second,
			ExtraSANs: []string{"vault-injector.example.com", "10.0.0.10"},
		},
	}
	if d := cmp.Diff(want, got.cfg, cmpopts.IgnoreFields(config.Webhook{}, "VaultCA")); d != "" {
		t.Errorf("customized values as the webhook sees them (-want +got):\n%s", d)
	}
}
