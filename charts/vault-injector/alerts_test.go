package chart_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/vault-injector/vault-injector/internal/tools"
)

// The series the alert tests feed in, as the Prometheus Operator's scrape labels them for
// release vi in namespace infra, and the apiserver's webhook series.
const (
	upSeries        = `up{job="vi-vault-injector", namespace="infra", pod="vi-vault-injector-0"}`
	requestsOK      = `vault_injector_admission_requests_total{job="vi-vault-injector", namespace="infra", outcome="mutated"}`
	requestsError   = `vault_injector_admission_requests_total{job="vi-vault-injector", namespace="infra", outcome="error"}`
	apiserverCalls  = `apiserver_admission_webhook_request_total{name="pods.vault-injector.io", type="admit", operation="CREATE", code="200", rejected="false"}`
	apiserverFailed = `apiserver_admission_webhook_rejection_count{name="pods.vault-injector.io", type="admit", operation="CREATE", error_type="calling_webhook_error", rejection_code="0"}`
)

func apiserverBucket(le string) string {
	return `apiserver_admission_webhook_admission_duration_seconds_bucket{name="pods.vault-injector.io", type="admit", operation="CREATE", rejected="false", le="` + le + `"}`
}

func webhookBucket(le string) string {
	return `vault_injector_admission_duration_seconds_bucket{job="vi-vault-injector", namespace="infra", le="` + le + `"}`
}

// alertCase is one promtool unit test: input series, and the alerts expected at a time.
type alertCase struct {
	name   string
	series map[string]string // series -> promtool's expanding notation
	at     string
	fires  map[string]map[string]string // alert -> its labels beyond the rule's own
	values map[string]string            // template text -> what it renders to
}

// TestAlertRules runs the chart's PrometheusRule through promtool: `check rules` parses
// every expression, and `test rules` feeds in series of an outage and of a healthy
// webhook and checks which alerts fire, with their labels and rendered annotations. An
// alert that cannot see the outage it names, or fires on a healthy webhook, fails here.
func TestAlertRules(t *testing.T) {
	promtool, err := tools.Promtool(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHelm(t)
	rule := find(t, parseObjects(t, h.template(t, goldenRelease, goldenNamespace, "--values", "testdata/values/monitoring.yaml")), "PrometheusRule")
	spec, err := yaml.Marshal(rule.Object["spec"])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.yaml"), spec)
	run(t, promtool, dir, "check", "rules", "rules.yaml")

	alerts := alertRules(rule.Object["spec"])
	healthy := map[string]string{
		upSeries: "1x60", requestsOK: "0+10x60", requestsError: "0x60", apiserverCalls: "0+10x60", apiserverFailed: "0x60",
		apiserverBucket("0.1"): "0+10x60", apiserverBucket("+Inf"): "0+10x60", webhookBucket("0.1"): "0+10x60", webhookBucket("+Inf"): "0+10x60",
	}
	cases := []alertCase{
		{name: "healthy", series: healthy, at: "40m"},
		{
			name: "no target", at: "11m",
			series: map[string]string{requestsOK: "0+10x60"},
			fires:  map[string]map[string]string{"VaultInjectorAbsent": {"job": "vi-vault-injector", "namespace": "infra"}},
		},
		{
			name: "a replica down", at: "6m",
			series: map[string]string{upSeries: "0x60", requestsOK: "0+10x60"},
			fires: map[string]map[string]string{"VaultInjectorDown": {
				"job": "vi-vault-injector", "namespace": "infra", "pod": "vi-vault-injector-0",
			}},
			values: map[string]string{"{{ $labels.pod }}": "vi-vault-injector-0"},
		},
		{
			name: "the apiserver cannot reach it", at: "11m",
			series: map[string]string{upSeries: "1x60", apiserverCalls: "0+10x60", apiserverFailed: "0+1x60"},
			fires:  map[string]map[string]string{"VaultInjectorUnreachable": {}},
			values: map[string]string{"{{ $value | humanizePercentage }}": "10%"},
		},
		{
			// The apiserver waits 0.5–1 s, the handler answers within 0.1 s: the time is lost
			// before the handler.
			name: "slow before the handler", at: "20m",
			series: map[string]string{
				upSeries: "1x60", requestsOK: "0+10x60",
				apiserverBucket("0.5"): "0x60", apiserverBucket("1"): "0+10x60", apiserverBucket("+Inf"): "0+10x60",
				webhookBucket("0.1"): "0+10x60", webhookBucket("+Inf"): "0+10x60",
			},
			fires: map[string]map[string]string{"VaultInjectorSlowCalls": {}},
		},
		{
			name: "admissions end in errors", at: "16m",
			series: map[string]string{upSeries: "1x60", requestsOK: "0+9x60", requestsError: "0+1x60"},
			fires:  map[string]map[string]string{"VaultInjectorAdmissionErrors": {}},
			values: map[string]string{"{{ $value | humanizePercentage }}": "10%"},
		},
	}
	writeFile(t, filepath.Join(dir, "tests.yaml"), alertTests(t, cases, alerts))
	run(t, promtool, dir, "test", "rules", "tests.yaml")
}

// alertTests renders promtool's unit-test file: each case checks every alert of the rule
// at its time, expecting exactly the alerts it names.
func alertTests(t *testing.T, cases []alertCase, alerts map[string]alertRule) []byte {
	t.Helper()
	type expAlert struct {
		Labels      map[string]string `yaml:"exp_labels"`
		Annotations map[string]string `yaml:"exp_annotations"`
	}
	type ruleTest struct {
		EvalTime  string     `yaml:"eval_time"`
		AlertName string     `yaml:"alertname"`
		ExpAlerts []expAlert `yaml:"exp_alerts"`
	}
	type series struct {
		Series string `yaml:"series"`
		Values string `yaml:"values"`
	}
	type test struct {
		Name      string     `yaml:"name"`
		Interval  string     `yaml:"interval"`
		Input     []series   `yaml:"input_series"`
		RuleTests []ruleTest `yaml:"alert_rule_test"`
	}
	var tests []test
	for _, c := range cases {
		tc := test{Name: c.name, Interval: "1m"}
		for s, v := range c.series {
			tc.Input = append(tc.Input, series{Series: s, Values: v})
		}
		for alert, rule := range alerts {
			rt := ruleTest{EvalTime: c.at, AlertName: alert, ExpAlerts: []expAlert{}}
			if extra, ok := c.fires[alert]; ok {
				labels := map[string]string{"severity": rule.severity}
				for k, v := range extra {
					labels[k] = v
				}
				rendered := map[string]string{}
				for k, text := range rule.annotations {
					for from, to := range c.values {
						text = strings.ReplaceAll(text, from, to)
					}
					if strings.Contains(text, "{{") {
						t.Fatalf("case %q: %s's %s has a template the case does not render: %s", c.name, alert, k, text)
					}
					rendered[k] = text
				}
				rt.ExpAlerts = []expAlert{{Labels: labels, Annotations: rendered}}
			}
			tc.RuleTests = append(tc.RuleTests, rt)
		}
		for alert := range c.fires {
			if _, ok := alerts[alert]; !ok {
				t.Fatalf("case %q expects %s, which the rule does not have", c.name, alert)
			}
		}
		tests = append(tests, tc)
	}
	out, err := yaml.Marshal(map[string]any{"rule_files": []string{"rules.yaml"}, "evaluation_interval": "1m", "tests": tests})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// alertRule is what the tests need of one alert of the chart's rule.
type alertRule struct {
	severity    string
	annotations map[string]string // as written, templates and all
}

// alertRules reads the alerts of the rule's spec.
func alertRules(spec any) map[string]alertRule {
	out := map[string]alertRule{}
	for _, g := range spec.(map[string]any)["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			r := r.(map[string]any)
			name := r["alert"].(string)
			ann := map[string]string{}
			for k, v := range r["annotations"].(map[string]any) {
				ann[k] = v.(string)
			}
			out[name] = alertRule{severity: r["labels"].(map[string]any)["severity"].(string), annotations: ann}
		}
	}
	return out
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, bin, dir string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
