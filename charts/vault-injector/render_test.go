package chart_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"k8s.io/utils/ptr"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/vaultref"
)

// The release the golden renders are made with.
const (
	goldenRelease   = "vi"
	goldenNamespace = "infra"
)

// TestLint runs `helm lint --strict` on every scenario.
func TestLint(t *testing.T) {
	h := newHelm(t)
	for _, s := range scenarios() {
		t.Run(s.name, func(t *testing.T) {
			out := h.must(t, slices.Concat([]string{"lint", "--strict", ".", "--namespace", goldenNamespace}, s.args())...)
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Errorf("helm lint:\n%s", out)
			}
		})
	}
}

// TestRender renders every scenario, compares it with its golden file
// (testdata/render/<scenario>.yaml; -update rewrites them) and checks what must hold in
// every configuration.
func TestRender(t *testing.T) {
	h := newHelm(t)
	want := map[string][]string{
		"defaults":            kindsOf(selfManagedKinds),
		"cert-manager":        kindsOf(commonKinds, "ClusterRole", "ClusterRoleBinding", "Certificate", "Certificate", "Issuer", "Issuer"),
		"cert-manager-issuer": kindsOf(commonKinds, "ClusterRole", "ClusterRoleBinding", "Certificate"),
		"provided":            kindsOf(commonKinds),
		"opt-in":              kindsOf(selfManagedKinds),
		"monitoring":          kindsOf(selfManagedKinds, "ServiceMonitor", "PrometheusRule", "ConfigMap"),
		"network-policy":      kindsOf(selfManagedKinds, "NetworkPolicy"),
		"customized":          kindsOf(selfManagedKinds, "ConfigMap", "ConfigMap", "ConfigMap"), // registry CA, client CA, Vault CA
		"vault-ca-from":       kindsOf(selfManagedKinds),                                        // the Secret is the platform's
	}
	for _, s := range scenarios() {
		t.Run(s.name, func(t *testing.T) {
			manifest := h.template(t, goldenRelease, goldenNamespace, s.args()...)
			compareGolden(t, filepath.Join("testdata", "render", s.name+".yaml"), manifest)
			objs := parseObjects(t, manifest)
			if d := cmp.Diff(want[s.name], kinds(objs)); d != "" {
				t.Errorf("rendered kinds (-want +got):\n%s", d)
			}
			checkLabelsAndNamespaces(t, objs)
			checkWebhookConfiguration(t, s, objs)
			checkDeployment(t, s, objs)
			checkRBAC(t, objs)
		})
	}
}

var (
	commonKinds      = []string{"Deployment", "MutatingWebhookConfiguration", "PodDisruptionBudget", "Service", "ServiceAccount"}
	selfManagedKinds = slices.Concat(commonKinds, []string{"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"})
)

func kindsOf(base []string, more ...string) []string {
	out := slices.Concat(base, more)
	slices.Sort(out)
	return out
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./charts/vault-injector -update)", err)
	}
	if d := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n")); d != "" {
		t.Errorf("%s is out of date (-want +got; review, then rerun with -update):\n%s", path, d)
	}
}

// checkLabelsAndNamespaces: every object carries the standard labels, and every
// namespaced object lives in the release namespace (the dashboard may be sent elsewhere).
func checkLabelsAndNamespaces(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	clusterScoped := []string{"ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration"}
	for _, o := range objs {
		labels := o.GetLabels()
		for _, k := range []string{"helm.sh/chart", "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of"} {
			if labels[k] == "" {
				t.Errorf("%s %s lacks label %s", o.GetKind(), o.GetName(), k)
			}
		}
		switch ns := o.GetNamespace(); {
		case slices.Contains(clusterScoped, o.GetKind()) && ns != "":
			t.Errorf("cluster-scoped %s %s has namespace %q", o.GetKind(), o.GetName(), ns)
		case !slices.Contains(clusterScoped, o.GetKind()) && ns != goldenNamespace:
			t.Errorf("%s %s is in namespace %q, want the release namespace", o.GetKind(), o.GetName(), ns)
		}
	}
}

// checkWebhookConfiguration holds the registration to what keeps a cluster safe with a
// fail-closed webhook.
func checkWebhookConfiguration(t *testing.T, s scenario, objs []*unstructured.Unstructured) {
	t.Helper()
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	convert(t, find(t, objs, "MutatingWebhookConfiguration"), &cfg)
	if len(cfg.Webhooks) != 2 || cfg.Webhooks[0].Name != "pods.vault-injector.io" || cfg.Webhooks[1].Name != "ephemeral-containers.vault-injector.io" {
		t.Fatalf("%d webhooks, want pods.vault-injector.io and ephemeral-containers.vault-injector.io", len(cfg.Webhooks))
	}
	w := cfg.Webhooks[0]
	if *w.SideEffects != admissionregistrationv1.SideEffectClassNone || *w.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy ||
		!slices.Equal(w.AdmissionReviewVersions, []string{"v1"}) {
		t.Errorf("sideEffects %s, reinvocationPolicy %s, admissionReviewVersions %v", *w.SideEffects, *w.ReinvocationPolicy, w.AdmissionReviewVersions)
	}
	if s.name != "opt-in" && (*w.FailurePolicy != admissionregistrationv1.Fail || *w.TimeoutSeconds != 10) {
		t.Errorf("default failurePolicy %s timeoutSeconds %d, want Fail and 10", *w.FailurePolicy, *w.TimeoutSeconds)
	}
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}, Scope: ptr.To(admissionregistrationv1.NamespacedScope)},
	}}
	if d := cmp.Diff(rules, w.Rules); d != "" {
		t.Errorf("rules (-want +got):\n%s", d)
	}
	checkEphemeralWebhook(t, w, cfg.Webhooks[1])
	excluded := w.NamespaceSelector.MatchExpressions[0]
	if excluded.Key != "kubernetes.io/metadata.name" || excluded.Operator != "NotIn" ||
		!slices.Contains(excluded.Values, "kube-system") || !slices.Contains(excluded.Values, goldenNamespace) {
		t.Errorf("namespaceSelector does not exclude kube-system and the release namespace: %+v", excluded)
	}
	optIn := slices.ContainsFunc(w.NamespaceSelector.MatchExpressions, func(e metav1.LabelSelectorRequirement) bool {
		return e.Key == "vault-injector.io/enabled" && e.Operator == "In" && slices.Equal(e.Values, []string{"true"})
	})
	if optIn != (s.name == "opt-in") {
		t.Errorf("opt-in namespace selector present: %v", optIn)
	}
	if d := cmp.Diff([]metav1.LabelSelectorRequirement{{Key: "vault-injector.io/inject", Operator: "NotIn", Values: []string{"false"}}}, w.ObjectSelector.MatchExpressions); d != "" {
		t.Errorf("objectSelector (-want +got):\n%s", d)
	}
	svc := w.ClientConfig.Service
	if svc == nil || svc.Namespace != goldenNamespace || *svc.Path != "/mutate-pods" || *svc.Port != 443 {
		t.Errorf("clientConfig.service %+v", svc)
	}
	inject := cfg.Annotations["cert-manager.io/inject-ca-from"]
	switch s.mode {
	case "cert-manager":
		if inject != goldenNamespace+"/"+find(t, objs, "Deployment").GetName() || len(w.ClientConfig.CABundle) != 0 {
			t.Errorf("cert-manager mode: inject-ca-from %q, caBundle %d bytes", inject, len(w.ClientConfig.CABundle))
		}
	case "provided":
		if inject != "" || !strings.Contains(string(w.ClientConfig.CABundle), "BEGIN CERTIFICATE") {
			t.Errorf("provided mode: inject-ca-from %q, caBundle %q", inject, w.ClientConfig.CABundle)
		}
	default: // self-managed: the webhook writes the caBundle, so the chart must not
		if inject != "" || len(w.ClientConfig.CABundle) != 0 {
			t.Errorf("self-managed mode: inject-ca-from %q, caBundle %d bytes", inject, len(w.ClientConfig.CABundle))
		}
	}
}

// checkEphemeralWebhook: kubectl debug on an injected pod is checked whatever its labels
// say (no objectSelector: a running pod's labels are its author's to change), with the pod
// webhook's service, CA, failure policy, timeout and namespaces, and only for pods that
// hold one of our volumes.
func checkEphemeralWebhook(t *testing.T, pods, w admissionregistrationv1.MutatingWebhook) {
	t.Helper()
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods/ephemeralcontainers"}, Scope: ptr.To(admissionregistrationv1.NamespacedScope)},
	}}
	if d := cmp.Diff(rules, w.Rules); d != "" {
		t.Errorf("ephemeral containers: rules (-want +got):\n%s", d)
	}
	if w.ObjectSelector != nil && len(w.ObjectSelector.MatchExpressions)+len(w.ObjectSelector.MatchLabels) > 0 {
		t.Errorf("ephemeral containers: objectSelector %+v, want none", w.ObjectSelector)
	}
	conds := []admissionregistrationv1.MatchCondition{{
		Name: "holds-vault-injector-volumes", Expression: "has(object.spec.volumes) && object.spec.volumes.exists(v, v.name.startsWith('vault-injector-'))",
	}}
	if d := cmp.Diff(conds, w.MatchConditions); d != "" {
		t.Errorf("ephemeral containers: matchConditions (-want +got):\n%s", d)
	}
	same := cmp.Options{cmpopts.IgnoreFields(admissionregistrationv1.MutatingWebhook{}, "Name", "Rules", "ObjectSelector", "MatchConditions", "ReinvocationPolicy")}
	if d := cmp.Diff(pods, w, same); d != "" {
		t.Errorf("ephemeral containers: differs from the pod webhook beyond name, rules, selector and conditions (-pods +ephemeral):\n%s", d)
	}
}

// checkDeployment: the pod meets Pod Security "restricted" (checked by the apiserver's own
// policy code), probes hit the probe port, and the certificate volume fits the mode.
func checkDeployment(t *testing.T, s scenario, objs []*unstructured.Unstructured) {
	t.Helper()
	var d appsv1.Deployment
	convert(t, find(t, objs, "Deployment"), &d)
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	restricted := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	for _, r := range eval.EvaluatePod(restricted, &d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec) {
		if !r.Allowed {
			t.Errorf("pod violates Pod Security restricted: %s: %s", r.ForbiddenReason, r.ForbiddenDetail)
		}
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.SecurityContext == nil || !*c.SecurityContext.ReadOnlyRootFilesystem || *d.Spec.Template.Spec.SecurityContext.RunAsUser != 65532 {
		t.Error("want a read-only root filesystem and user 65532")
	}
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" ||
		c.ReadinessProbe.HTTPGet.Port.StrVal != "probes" || c.LivenessProbe.HTTPGet.Port.StrVal != "probes" {
		t.Errorf("probes: readiness %+v, liveness %+v", c.ReadinessProbe.HTTPGet, c.LivenessProbe.HTTPGet)
	}
	certs := d.Spec.Template.Spec.Volumes[slices.IndexFunc(d.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == "certs" })]
	if (s.mode == "self-managed") != (certs.EmptyDir != nil) || (s.mode != "self-managed") != (certs.Secret != nil) {
		t.Errorf("certs volume %+v in mode %s", certs.VolumeSource, s.mode)
	}
	if s.name == "defaults" && (*d.Spec.Replicas != 2 || d.Spec.Template.Spec.Affinity.PodAntiAffinity == nil) {
		t.Error("want two replicas spread by pod anti-affinity by default")
	}
	checkMemoryLimit(t, s, c.Env)
}

// checkMemoryLimit: the binary gets the container's memory limit (it keeps the Go
// runtime under 90% of it); a GOMEMLIMIT in extraEnv (the customized scenario) is passed
// as is, and the binary leaves it alone.
func checkMemoryLimit(t *testing.T, s scenario, env []corev1.EnvVar) {
	t.Helper()
	var limit, gomemlimit []corev1.EnvVar
	for _, e := range env {
		switch e.Name {
		case "VAULT_INJECTOR_MEMORY_LIMIT":
			limit = append(limit, e)
		case "GOMEMLIMIT":
			gomemlimit = append(gomemlimit, e)
		}
	}
	if len(limit) != 1 || limit[0].ValueFrom == nil || limit[0].ValueFrom.ResourceFieldRef == nil ||
		limit[0].ValueFrom.ResourceFieldRef.Resource != "limits.memory" {
		t.Errorf("VAULT_INJECTOR_MEMORY_LIMIT in scenario %s: %+v", s.name, limit)
	}
	userSet := len(gomemlimit) == 1 && gomemlimit[0].Value == "200MiB"
	if (s.name == "customized") != userSet || (s.name != "customized" && len(gomemlimit) != 0) {
		t.Errorf("GOMEMLIMIT in scenario %s: %+v", s.name, gomemlimit)
	}
}

// checkRBAC: no wildcard, no list or watch, writes only by name (except creating the
// certificate Secret, which cannot be named before it exists).
func checkRBAC(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() != "ClusterRole" && o.GetKind() != "Role" {
			continue
		}
		var role rbacv1.ClusterRole // a Role's rules have the same shape
		convert(t, o, &role)
		for _, r := range role.Rules {
			all := slices.Concat(r.APIGroups, r.Resources, r.Verbs, r.ResourceNames)
			if slices.Contains(all, "*") || slices.Contains(r.Verbs, "list") || slices.Contains(r.Verbs, "watch") {
				t.Errorf("%s grants too much: %+v", o.GetKind(), r)
			}
			writes := slices.ContainsFunc(r.Verbs, func(v string) bool { return v != "get" })
			if writes && len(r.ResourceNames) == 0 && !slices.Equal(r.Verbs, []string{"create"}) {
				t.Errorf("%s writes without naming the objects: %+v", o.GetKind(), r)
			}
		}
	}
}

// convert turns a rendered object into its Go type, failing on fields the type lacks.
func convert(t *testing.T, o *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, into, true); err != nil {
		t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
	}
}

// TestMatchConditionMarkers keeps the chart's CEL in agreement with the Go code it stands
// in front of: it tests exactly vaultref's reference markers and config's annotation
// prefixes, so a pod the webhook would work on is never kept from it (the real apiserver
// evaluates it in TestCluster's outage test). Turned off, there is no condition.
func TestMatchConditionMarkers(t *testing.T) {
	h := newHelm(t)
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	convert(t, find(t, parseObjects(t, h.template(t, "x", goldenNamespace)), "MutatingWebhookConfiguration"), &cfg)
	conds := cfg.Webhooks[0].MatchConditions
	if len(conds) != 1 {
		t.Fatalf("matchConditions %v, want one", conds)
	}
	expr := conds[0].Expression
	var markers []string
	for _, m := range regexp.MustCompile(`contains\('([^']*)'\)`).FindAllStringSubmatch(expr, -1) {
		if !slices.Contains(markers, m[1]) {
			markers = append(markers, m[1])
		}
	}
	if want := vaultref.Schemes(); !slices.Equal(slices.Sorted(slices.Values(markers)), slices.Sorted(slices.Values(want))) {
		t.Errorf("the condition tests markers %q, the grammar's are %q", markers, want)
	}
	for _, p := range []string{config.AnnotationPrefix, config.BankVaultsPrefix} {
		if !strings.Contains(expr, "k.startsWith('"+p+"')") {
			t.Errorf("the condition does not match annotations under %s:\n%s", p, expr)
		}
	}
	for _, field := range []string{"c.env", "c.command", "c.args", "object.spec.initContainers", "object.spec.containers"} {
		if !strings.Contains(expr, field) {
			t.Errorf("the condition does not look at %s", field)
		}
	}
	convert(t, find(t, parseObjects(t, h.template(t, "x", goldenNamespace, "--set", "webhook.onlyPodsWithReferences=false")), "MutatingWebhookConfiguration"), &cfg)
	if len(cfg.Webhooks[0].MatchConditions) != 0 {
		t.Errorf("onlyPodsWithReferences=false still renders %v", cfg.Webhooks[0].MatchConditions)
	}
}
