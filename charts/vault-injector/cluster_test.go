package chart_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/vault-injector/vault-injector/certs"
	"github.com/vault-injector/vault-injector/internal/apiservertest"
	"github.com/vault-injector/vault-injector/internal/kube"
	"github.com/vault-injector/vault-injector/internal/tools"
)

// The CRDs the chart's optional objects need, from the projects' own Go modules.
const (
	certManagerModule = "github.com/cert-manager/cert-manager@v1.19.1"
	promOperator      = "github.com/prometheus-operator/prometheus-operator@v0.85.0"
)

// TestCluster puts the chart into a real kube-apiserver that has the real cert-manager and
// Prometheus Operator CRDs: every scenario's objects must be accepted as rendered; the
// chart's RBAC must let the certs package do its work (and no more); and helm install,
// upgrade and uninstall must work against it.
func TestCluster(t *testing.T) {
	h := newHelm(t)
	env, c := startAPIServer(t, crdPaths(t))
	t.Run("apply", func(t *testing.T) {
		for _, s := range scenarios() {
			t.Run(s.name, func(t *testing.T) { applyScenario(t, h, c, s) })
		}
	})
	t.Run("rbac", func(t *testing.T) { testRBAC(t, h, env, c) })
	t.Run("install and upgrade", func(t *testing.T) { testInstallUpgrade(t, h, env, c) })
}

// applyScenario renders a scenario as release <name> in namespace <name> and applies it
// server-side, so the apiserver validates every object against its schema.
func applyScenario(t *testing.T, h *helmRunner, c client.Client, s scenario) {
	t.Helper()
	ns := s.name
	createNamespace(t, c, ns)
	objs := parseObjects(t, h.template(t, s.name, ns, s.args()...))
	for _, o := range objs {
		err := c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("chart-test"), client.ForceOwnership)
		if err != nil {
			t.Errorf("apiserver rejects %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	if err := c.Get(t.Context(), types.NamespacedName{Name: find(t, objs, "MutatingWebhookConfiguration").GetName()}, &cfg); err != nil {
		t.Fatal(err)
	}
	if *cfg.Webhooks[0].ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy || cfg.Webhooks[0].ObjectSelector == nil {
		t.Errorf("stored webhook configuration lost fields: %+v", cfg.Webhooks[0])
	}
}

// testRBAC runs the certs package as the chart's ServiceAccount (impersonated), which
// must succeed, and asks the apiserver what else that account may do.
func testRBAC(t *testing.T, h *helmRunner, env *envtest.Environment, c client.Client) {
	const ns, release = "rbac", "rbac"
	createNamespace(t, c, ns)
	objs := parseObjects(t, h.template(t, release, ns))
	for _, o := range objs {
		if err := c.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("chart-test"), client.ForceOwnership); err != nil {
			t.Fatal(err)
		}
	}
	fullname := find(t, objs, "Deployment").GetName()
	user := "system:serviceaccount:" + ns + ":" + fullname
	asWebhook := rest.CopyConfig(env.Config)
	asWebhook.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}}
	hc, err := rest.HTTPClientFor(asWebhook)
	if err != nil {
		t.Fatal(err)
	}
	webhookClient, err := kube.NewForHTTP(asWebhook.Host, hc)
	if err != nil {
		t.Fatal(err)
	}
	m, err := certs.New(certs.Options{
		Client: webhookClient, Namespace: ns, SecretName: fullname + "-certs", ServiceName: fullname,
		WebhookConfigName: fullname, CertDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Ensure(t.Context()); err != nil {
		t.Fatalf("the certs package fails with the chart's RBAC: %v", err)
	}
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	if err := c.Get(t.Context(), types.NamespacedName{Name: fullname}, &cfg); err != nil || len(cfg.Webhooks[0].ClientConfig.CABundle) == 0 {
		t.Fatalf("caBundle not set (%v)", err)
	}
	for _, tc := range []struct {
		verb, group, resource, namespace, name string
		allowed                                bool
	}{
		{"get", "", "secrets", "shop", "pull-secret", true},    // pull secrets
		{"get", "", "configmaps", "shop", "app-config", false}, // never env sources
		{"get", "", "serviceaccounts", "shop", "app", true},    // a pod's pull secrets
		{"list", "", "secrets", "shop", "", false},             // never a listing
		{"watch", "", "secrets", "", "", false},
		{"update", "", "secrets", "shop", "pull-secret", false}, // writes only its own Secret
		{"update", "", "secrets", ns, fullname + "-certs", true},
		{"delete", "", "secrets", ns, fullname + "-certs", false},
		{"create", "", "secrets", ns, "", true}, // its Secret, the first time
		{"create", "", "secrets", "shop", "", false},
		{"get", "", "pods", "shop", "p", false}, // admission brings the pod
		{"update", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", fullname, true},
		{"update", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", "someone-else", false},
		{"create", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", "", false},
		{"create", "", "serviceaccounts/token", "shop", "app", false}, // no token requests
	} {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, Groups: asWebhook.Impersonate.Groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: tc.verb, Group: tc.group, Resource: strings.Split(tc.resource, "/")[0], Subresource: subresource(tc.resource),
				Namespace: tc.namespace, Name: tc.name,
			},
		}}
		if err := c.Create(t.Context(), review); err != nil {
			t.Fatal(err)
		}
		if review.Status.Allowed != tc.allowed {
			t.Errorf("%s %s %s/%s allowed=%v, want %v", tc.verb, tc.resource, tc.namespace, tc.name, review.Status.Allowed, tc.allowed)
		}
	}
}

func subresource(resource string) string {
	_, sub, _ := strings.Cut(resource, "/")
	return sub
}

// testInstallUpgrade installs the default chart with helm, lets the certs package set the
// caBundle as the running webhook would, upgrades twice (a value change, then a switch to
// cert-manager), and uninstalls.
func testInstallUpgrade(t *testing.T, h *helmRunner, env *envtest.Environment, c client.Client) {
	admin, err := env.AddUser(envtest.User{Name: "helm-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	const ns, release = "vault-injector", installRelease
	kc := []string{"--kubeconfig", path, "--namespace", ns}
	out := h.must(t, slices.Concat([]string{"install", release, ".", "--create-namespace"}, kc)...)
	if !strings.Contains(out, "STATUS: deployed") || !strings.Contains(out, "vault-injector-demo") {
		t.Errorf("helm install printed:\n%s", out)
	}
	if err := c.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: release}, &appsv1.Deployment{}); err != nil {
		t.Fatalf("deployment after install: %v", err)
	}

	adminClient := apiservertest.Client(t, env)
	m, err := certs.New(certs.Options{
		Client: adminClient, Namespace: ns, SecretName: release + "-certs", ServiceName: release, WebhookConfigName: release, CertDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	bundle := webhookConfig(t, c).Webhooks[0].ClientConfig.CABundle
	sh := runbookShell(t, h, path)
	t.Run("troubleshooting: x509", func(t *testing.T) { testX509Runbook(t, sh) })
	// No kubelet runs here, so no replica ever answers: every webhook call fails.
	t.Run("outage blocks only pods that may need the webhook", func(t *testing.T) { testOutage(t, c) })

	h.must(t, slices.Concat([]string{"upgrade", release, ".", "--set", "replicaCount=3", "--set", "webhook.timeoutSeconds=5"}, kc)...)
	var d appsv1.Deployment
	if err := c.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: release}, &d); err != nil || *d.Spec.Replicas != 3 {
		t.Fatalf("deployment after upgrade: replicas %v (%v)", d.Spec.Replicas, err)
	}
	cfg := webhookConfig(t, c)
	if *cfg.Webhooks[0].TimeoutSeconds != 5 || !bytes.Equal(cfg.Webhooks[0].ClientConfig.CABundle, bundle) {
		t.Fatalf("after upgrade: timeoutSeconds %d, caBundle kept: %v (an upgrade must not erase what the webhook wrote)",
			*cfg.Webhooks[0].TimeoutSeconds, bytes.Equal(cfg.Webhooks[0].ClientConfig.CABundle, bundle))
	}

	t.Run("upgrading: self-managed to provided", func(t *testing.T) {
		testProvidedRunbook(t, sh, bundle, func() []byte { return webhookConfig(t, c).Webhooks[0].ClientConfig.CABundle })
	})

	runDocs(t, sh, "upgrading.md", "From self-managed or provided to cert-manager")
	if cfg := webhookConfig(t, c); cfg.Annotations["cert-manager.io/inject-ca-from"] != ns+"/"+release {
		t.Errorf("after switching to cert-manager: annotations %v", cfg.Annotations)
	}
	err = c.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: release}, &appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: release}, &rbacv1.Role{}); !apierrors.IsNotFound(err) {
		t.Errorf("the self-managed Role should be gone after switching to cert-manager: %v", err)
	}

	runDocs(t, sh, "upgrading.md", "From cert-manager to self-managed")
	if cfg := webhookConfig(t, c); cfg.Annotations["cert-manager.io/inject-ca-from"] != "" {
		t.Errorf("after switching back to self-managed: annotations %v", cfg.Annotations)
	}
	if err := c.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: release}, &rbacv1.Role{}); err != nil {
		t.Errorf("the self-managed Role is back after switching to self-managed: %v", err)
	}

	h.must(t, slices.Concat([]string{"uninstall", release}, kc)...)
	err = c.Get(t.Context(), types.NamespacedName{Name: release}, &admissionregistrationv1.MutatingWebhookConfiguration{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("webhook configuration after uninstall: %v", err)
	}
}

// installRelease is the release (and namespace) the install and upgrade test uses, as the
// docs' runbooks name it.
const installRelease = "vault-injector"

// testOutage creates pods while the webhook is down: the apiserver evaluates the chart's
// matchConditions itself, so a pod without references or our annotations never calls the
// webhook and is created, while one with a reference (in env, command or args, of an app
// or init container) or one of our annotations is refused (failurePolicy Fail).
func testOutage(t *testing.T, c client.Client) {
	const ns = "apps"
	createNamespace(t, c, ns)
	pod := func(name string, edit func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "app", Image: "example/app:1", Command: []string{"/app"},
				Env: []corev1.EnvVar{{Name: "LOG", Value: "info"}, {Name: "DB", ValueFrom: &corev1.EnvVarSource{
					SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "k"},
				}}},
			}}},
		}
		if edit != nil {
			edit(p)
		}
		return p
	}
	plain := pod("plain", nil)
	if err := c.Create(t.Context(), plain); err != nil {
		t.Errorf("a pod without references was refused while the webhook is down: %v", err)
	}
	testDebugOutage(t, c, plain, pod("relabelled", func(p *corev1.Pod) {
		p.Labels = map[string]string{"vault-injector.io/inject": "false"}
		p.Spec.Volumes = []corev1.Volume{{Name: "vault-injector-token", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	}))
	for name, edit := range map[string]func(*corev1.Pod){
		"env":     func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Value = "vault:secret/data/app#log" },
		"inline":  func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Value = "x=${bao:secret/app#k}" },
		"args":    func(p *corev1.Pod) { p.Spec.Containers[0].Args = []string{"--pw=${vault:secret/app#k}"} },
		"command": func(p *corev1.Pod) { p.Spec.Containers[0].Command = []string{"/app", "vault:secret/app#k"} },
		"init": func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i", Image: "i:1", Env: []corev1.EnvVar{{Name: "X", Value: "vault:a#b"}}}}
		},
		"ours": func(p *corev1.Pod) { p.Annotations = map[string]string{"vault-injector.io/env-sources": "true"} },
		"bankvaults": func(p *corev1.Pod) {
			p.Annotations = map[string]string{"vault.security.banzaicloud.io/vault-role": "app"}
		},
	} {
		err := c.Create(t.Context(), pod("with-"+name, edit))
		if err == nil || !strings.Contains(err.Error(), "failed calling webhook") {
			t.Errorf("pod with a marker in %s: %v, want it refused for the webhook being down", name, err)
		}
	}
}

// testDebugOutage adds an ephemeral container (kubectl debug) while the webhook is down:
// to a pod that holds one of our volumes the apiserver must ask the webhook, although
// the pod is labelled vault-injector.io/inject=false (its author may relabel a running
// pod, and the webhook never sees that PATCH); to any other pod it need not.
func testDebugOutage(t *testing.T, c client.Client, plain, injected *corev1.Pod) {
	t.Helper()
	if err := c.Create(t.Context(), injected); err != nil {
		t.Fatalf("a pod labelled inject=false is never sent to the webhook at creation: %v", err)
	}
	debug := func(p *corev1.Pod) error {
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: "debug", Image: "example/tools:1", Command: []string{"/bin/sh"},
		}})
		return c.SubResource("ephemeralcontainers").Update(t.Context(), p)
	}
	if err := debug(injected); err == nil || !strings.Contains(err.Error(), `failed calling webhook "ephemeral-containers.vault-injector.io"`) {
		t.Errorf("debugging a relabelled pod that holds our volumes: %v, want it refused for the webhook being down", err)
	}
	if err := debug(plain); err != nil {
		t.Errorf("debugging a pod without our volumes needs the webhook: %v", err)
	}
}

// webhookConfig is the installed release's MutatingWebhookConfiguration (named like it).
func webhookConfig(t *testing.T, c client.Client) *admissionregistrationv1.MutatingWebhookConfiguration {
	t.Helper()
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	if err := c.Get(t.Context(), types.NamespacedName{Name: installRelease}, &cfg); err != nil {
		t.Fatal(err)
	}
	return &cfg
}

func createNamespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	if err := c.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// crdPaths downloads (or finds in the module cache) the pinned cert-manager and
// Prometheus Operator modules and returns their CRD files the chart needs.
func crdPaths(t *testing.T) []string {
	t.Helper()
	cm := moduleDir(t, certManagerModule)
	po := moduleDir(t, promOperator)
	return []string{
		filepath.Join(cm, "deploy", "crds"),
		filepath.Join(po, "example", "prometheus-operator-crd", "monitoring.coreos.com_servicemonitors.yaml"),
		filepath.Join(po, "example", "prometheus-operator-crd", "monitoring.coreos.com_prometheusrules.yaml"),
	}
}

// moduleDir returns the module cache folder of module@version.
func moduleDir(t *testing.T, moduleAtVersion string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "mod", "download", "-json", moduleAtVersion)
	cmd.Dir = t.TempDir() // outside our module, so our go.mod is not involved
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jsonErr := json.Unmarshal(out, &info); err != nil || jsonErr != nil || info.Error != "" || info.Dir == "" {
		t.Fatalf("go mod download %s: %v %v %s", moduleAtVersion, err, jsonErr, info.Error)
	}
	return info.Dir
}

// startAPIServer starts a real kube-apiserver and etcd with the given CRDs installed.
func startAPIServer(t *testing.T, crds []string) (*envtest.Environment, client.Client) {
	t.Helper()
	assets, err := tools.KubebuilderAssets(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDInstallOptions:     envtest.CRDInstallOptions{Paths: crds, ErrorIfPathMissing: true},
	}
	// Webhooks are called at their Service's endpoints, of which there are none here: a
	// call fails on the spot instead of resolving <service>.<namespace>.svc off the machine.
	env.ControlPlane.GetAPIServer().Configure().Set("enable-aggregator-routing", "true")
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return env, c
}
