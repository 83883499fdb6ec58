package chart_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	_ "sigs.k8s.io/controller-runtime/pkg/certwatcher/metrics" // registers the certificate reload counters
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/vault-injector/vault-injector/certs"
	"github.com/vault-injector/vault-injector/webhook"
)

// metricName finds the series names an alert or a dashboard query uses.
var metricName = regexp.MustCompile(`\b(vault_injector_[a-z_]+|certwatcher_[a-z_]+)\b`)

// TestMonitoring: the alerts and the dashboard query only series the webhook exports
// (webhook.NewMetrics, certs.ExpiryCollector and the certificate watcher), so a renamed
// metric cannot silently blind them.
func TestMonitoring(t *testing.T) {
	h := newHelm(t)
	objs := parseObjects(t, h.template(t, goldenRelease, goldenNamespace, "--values", "testdata/values/monitoring.yaml"))
	exported := exportedSeries(t)

	rule := find(t, objs, "PrometheusRule")
	groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
	var alerts []string
	for _, g := range groups {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rules {
			r := r.(map[string]any)
			alerts = append(alerts, r["alert"].(string))
			checkSeries(t, "alert "+r["alert"].(string), r["expr"].(string), exported)
		}
	}
	if want := []string{"VaultInjectorAdmissionErrors", "VaultInjectorSlowAdmissions", "VaultInjectorCertificateExpiry"}; !slices.Equal(alerts, want) {
		t.Errorf("alerts %v, want %v", alerts, want)
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
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			checkSeries(t, "panel "+p.Title, target.Expr, exported)
		}
	}
}

// checkSeries fails for a query naming a series nobody exports.
func checkSeries(t *testing.T, where, expr string, exported []string) {
	t.Helper()
	names := metricName.FindAllString(expr, -1)
	if len(names) == 0 {
		t.Errorf("%s queries none of our series: %s", where, expr)
	}
	for _, n := range names {
		if !slices.Contains(exported, n) {
			t.Errorf("%s queries %s, which is not exported (have %v)", where, n, exported)
		}
	}
}

// exportedSeries lists the series names the webhook process exports, with a histogram's
// _bucket, _sum and _count.
func exportedSeries(t *testing.T) []string {
	t.Helper()
	rec := &recorder{}
	if _, err := webhook.NewMetrics(rec); err != nil {
		t.Fatal(err)
	}
	if err := rec.Register(certs.NewExpiryCollector("unused")); err != nil {
		t.Fatal(err)
	}
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "certwatcher_") {
			rec.names = append(rec.names, f.GetName())
		}
	}
	return rec.names
}

// recorder is a prometheus.Registerer that only notes the names of what is registered.
type recorder struct{ names []string }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		name := fqName.FindStringSubmatch(d.String())[1]
		r.names = append(r.names, name, name+"_bucket", name+"_sum", name+"_count")
	}
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *recorder) Unregister(prometheus.Collector) bool { return false }
