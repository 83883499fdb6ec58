package chart_test

import (
	"encoding/json"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vault-injector/vault-injector/internal/metrics"
	"github.com/vault-injector/vault-injector/internal/metricstest"
	"github.com/vault-injector/vault-injector/webhook"
)

// metricName finds the series names of ours an alert or a dashboard query uses.
var metricName = regexp.MustCompile(`\b(vault_injector_[a-z_]+|certwatcher_[a-z_]+)\b`)

// apiserverSeries are the apiserver's series about admission webhooks that the alerts and
// the dashboard use, with their labels, as k8s.io/apiserver v0.36.3 defines them
// (pkg/admission/metrics/metrics.go; "type" is "admit" for mutating webhooks).
var apiserverSeries = map[string][]string{
	"apiserver_admission_webhook_request_total":                     {"name", "type", "operation", "code", "rejected"},
	"apiserver_admission_webhook_rejection_count":                   {"name", "type", "operation", "error_type", "rejection_code"},
	"apiserver_admission_webhook_fail_open_count":                   {"name", "type"},
	"apiserver_admission_webhook_admission_duration_seconds_bucket": {"name", "type", "operation", "rejected", "le"},
}

// apiserverSelector finds an apiserver webhook series and its label matchers in a query.
var (
	apiserverSelector = regexp.MustCompile(`\b(apiserver_admission_[a-z_]+)(\{[^}]*\})?`)
	labelMatcher      = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"([^"]*)"`)
	vaultWord         = regexp.MustCompile(`\bVault\b`)
)

// TestMonitoring: the alerts and the dashboard query only series the webhook exports
// (webhook.SeriesNames), so a renamed
// metric cannot silently blind them.
func TestMonitoring(t *testing.T) {
	h := newHelm(t)
	objs := parseObjects(t, h.template(t, goldenRelease, goldenNamespace, "--values", "testdata/values/monitoring.yaml"))
	exported := exportedSeries(t)
	hook := webhookName(t, objs)

	rule := find(t, objs, "PrometheusRule")
	groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
	var alerts []string
	for _, g := range groups {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rules {
			r := r.(map[string]any)
			alerts = append(alerts, r["alert"].(string))
			checkSeries(t, "alert "+r["alert"].(string), r["expr"].(string), exported, hook)
			checkText(t, r)
		}
	}
	if want := []string{
		"VaultInjectorAdmissionErrors", "VaultInjectorSlowAdmissions", "VaultInjectorCertificateExpiry",
		"VaultInjectorAbsent", "VaultInjectorDown", "VaultInjectorUnreachable", "VaultInjectorSlowCalls",
	}; !slices.Equal(alerts, want) {
		t.Errorf("alerts %v, want %v", alerts, want)
	}
	exprs := ruleExprs(t, rule)
	for _, want := range []string{
		`absent(up{job="vi-vault-injector", namespace="infra"})`,
		`up{job="vi-vault-injector", namespace="infra"} == 0`,
		"apiserver_admission_webhook_rejection_count{", "apiserver_admission_webhook_request_total{",
		"apiserver_admission_webhook_admission_duration_seconds_bucket{",
	} {
		if !strings.Contains(exprs, want) {
			t.Errorf("no alert expression has %s", want)
		}
	}

	cm := find(t, objs, "ConfigMap")
	if cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v lack grafana_dashboard=1", cm.GetLabels())
	}
	data, _, _ := unstructured.NestedMap(cm.Object, "data")
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(data["vault-injector.json"].(string)), &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard has uid %q and %d panels", dash.UID, len(dash.Panels))
	}
	apiserverPanels := false
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			checkSeries(t, "panel "+p.Title, target.Expr, exported, hook)
			apiserverPanels = apiserverPanels || strings.Contains(target.Expr, "apiserver_admission_webhook_")
		}
	}
	if !apiserverPanels {
		t.Error("the dashboard has no panel with the apiserver's view of the webhook")
	}
}

// checkSeries fails for a query naming a series nobody exports, and for a query of the
// apiserver's webhook series that is not about our webhook or names a label they lack.
func checkSeries(t *testing.T, where, expr string, exported []string, hook string) {
	t.Helper()
	names := metricName.FindAllString(expr, -1)
	for _, n := range names {
		if !slices.Contains(exported, n) {
			t.Errorf("%s queries %s, which is not exported (have %v)", where, n, exported)
		}
	}
	selectors := apiserverSelector.FindAllStringSubmatch(expr, -1)
	for _, m := range selectors {
		labels, ok := apiserverSeries[m[1]]
		if !ok {
			t.Errorf("%s queries %s, not one of the apiserver's webhook series", where, m[1])
			continue
		}
		matchers := labelMatcher.FindAllStringSubmatch(m[2], -1)
		if !slices.ContainsFunc(matchers, func(l []string) bool { return l[1] == "name" && l[2] == hook }) {
			t.Errorf("%s: %s is not limited to our webhook (name=%q): %s", where, m[1], hook, m[0])
		}
		for _, l := range matchers {
			if !slices.Contains(labels, l[1]) {
				t.Errorf("%s: %s has no label %q (has %v)", where, m[1], l[1], labels)
			}
		}
	}
	if len(names) == 0 && len(selectors) == 0 && !strings.Contains(expr, "up{") {
		t.Errorf("%s queries none of our series: %s", where, expr)
	}
}

// checkText fails for an alert whose text blames Vault: the webhook never calls it, so no
// alert on the webhook or on calls to it can be caused by it.
func checkText(t *testing.T, rule map[string]any) {
	t.Helper()
	annotations, _ := rule["annotations"].(map[string]any)
	for _, key := range []string{"summary", "description"} {
		text, _ := annotations[key].(string)
		if text == "" {
			t.Errorf("alert %s has no %s", rule["alert"], key)
		}
		if vaultWord.MatchString(text) {
			t.Errorf("alert %s's %s names Vault, which cannot cause it: %s", rule["alert"], key, text)
		}
	}
}

// ruleExprs joins the expressions of every rule.
func ruleExprs(t *testing.T, rule *unstructured.Unstructured) string {
	t.Helper()
	groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
	var b strings.Builder
	for _, g := range groups {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rules {
			b.WriteString(r.(map[string]any)["expr"].(string) + "\n")
		}
	}
	return b.String()
}

// webhookName reads our webhook's name from the rendered MutatingWebhookConfiguration: the
// name the apiserver labels its series with.
func webhookName(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	hooks, _, _ := unstructured.NestedSlice(find(t, objs, "MutatingWebhookConfiguration").Object, "webhooks")
	if len(hooks) == 0 {
		t.Fatal("no webhooks")
	}
	// The first is the pod creations' the alerts watch; the second only sees kubectl debug.
	return hooks[0].(map[string]any)["name"].(string)
}

// TestMonitoringFailOpen: with failurePolicy Ignore, a webhook the apiserver cannot call
// lets pods through without injection, which the apiserver counts as failing open.
func TestMonitoringFailOpen(t *testing.T) {
	h := newHelm(t)
	objs := parseObjects(t, h.template(t, goldenRelease, goldenNamespace, "--values", "testdata/values/monitoring.yaml",
		"--set", "webhook.failurePolicy=Ignore"))
	exprs := ruleExprs(t, find(t, objs, "PrometheusRule"))
	if !strings.Contains(exprs, "apiserver_admission_webhook_fail_open_count{") || strings.Contains(exprs, "calling_webhook_error") {
		t.Errorf("with failurePolicy Ignore the rules should watch fail_open_count, not rejections:\n%s", exprs)
	}
}

// TestLatencyBuckets: the admission latency histogram has buckets past the longest webhook
// timeout the chart allows, so a request near or over it is not lost in +Inf.
func TestLatencyBuckets(t *testing.T) {
	var schema struct {
		Properties struct {
			Webhook struct {
				Properties struct {
					TimeoutSeconds struct {
						Maximum float64 `json:"maximum"`
					} `json:"timeoutSeconds"`
				} `json:"properties"`
			} `json:"webhook"`
		} `json:"properties"`
	}
	raw, err := os.ReadFile("values.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	maxTimeout := schema.Properties.Webhook.Properties.TimeoutSeconds.Maximum
	if maxTimeout < 30 {
		t.Fatalf("schema's maximum timeoutSeconds is %v, want the apiserver's 30", maxTimeout)
	}
	reg := metrics.NewRegistry()
	if _, err := webhook.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, m := range metricstest.Parse(t, reg.Text())["vault_injector_admission_duration_seconds"].GetMetric() {
		top := 0.0
		for _, b := range m.GetHistogram().GetBucket() {
			if le := b.GetUpperBound(); !math.IsInf(le, 1) {
				top = max(top, le)
			}
		}
		if top <= maxTimeout {
			t.Errorf("largest latency bucket is %vs, want one past the %vs timeout", top, maxTimeout)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no admission latency series")
	}
}

// exportedSeries lists the series names a webhook server exports, with a histogram's
// _bucket, _sum and _count.
func exportedSeries(t *testing.T) []string {
	t.Helper()
	families, err := webhook.SeriesNames()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f, f+"_bucket", f+"_sum", f+"_count")
	}
	return names
}
