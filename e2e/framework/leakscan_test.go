package framework

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestCheckNoCanaries(t *testing.T) {
	t.Parallel()
	known, other := "canary-"+rand.Text(), "canary-"+rand.Text()
	if got := CanariesIn([]byte(`{"a":"` + known + `","b":"` + other + `x","c":"` + known + `"}`)); !slices.Equal(got, sortedPair(known, other)) {
		t.Errorf("CanariesIn = %q", got)
	}
	places := map[string][]byte{
		"clean":          []byte("vault:secret/data/ns/db#password"),
		"known raw":      []byte("pw=" + known),
		"known base64":   []byte(base64.StdEncoding.EncodeToString([]byte(known))),
		"unknown canary": []byte("x " + other + " y"),
		"lowercase":      []byte("canary-" + strings.ToLower(rand.Text())),
	}
	err := CheckNoCanaries([]string{known}, places)
	want := "secret value found in 3 places: known base64, known raw, unknown canary"
	if err == nil || err.Error() != want {
		t.Errorf("CheckNoCanaries = %v, want %q", err, want)
	}
	if err != nil && (strings.Contains(err.Error(), known) || strings.Contains(err.Error(), other)) {
		t.Error("the error repeats a canary")
	}
	if err := CheckNoCanaries([]string{known}, map[string][]byte{"clean": []byte("nothing")}); err != nil {
		t.Errorf("clean places: %v", err)
	}
}

func sortedPair(a, b string) []string {
	if a > b {
		a, b = b, a
	}
	return []string{a, b}
}

func TestWebhookMetricsAddrs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	b := filepath.Join(dir, "b.log")
	logA := `{"level":"info","msg":"starting vault-injector"}
not json
{"level":"info","msg":"serving","webhook":"127.0.0.1:1/mutate-pods","metrics":"127.0.0.1:9090"}
`
	logB := `{"level":"info","msg":"serving","metrics":"0"}
{"level":"info","msg":"serving","metrics":"127.0.0.1:9091"}
`
	for path, data := range map[string]string{a: logA, b: logB} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := WebhookMetricsAddrs(a, b)
	if err != nil || !slices.Equal(got, []string{"127.0.0.1:9090", "127.0.0.1:9091"}) {
		t.Errorf("WebhookMetricsAddrs = %q, %v", got, err)
	}
	if _, err := WebhookMetricsAddrs(filepath.Join(dir, "missing.log")); err == nil {
		t.Error("a missing log is not an error")
	}
}

func TestScrapeMetrics(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "vault_injector_admission_requests_total 3")
	}))
	t.Cleanup(srv.Close)
	body, ok, err := ScrapeMetrics(t.Context(), strings.TrimPrefix(srv.URL, "http://"))
	if err != nil || !ok || !strings.Contains(string(body), "admission_requests_total 3") {
		t.Errorf("ScrapeMetrics = %q, %v, %v", body, ok, err)
	}
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := ScrapeMetrics(t.Context(), gone); ok || err != nil {
		t.Errorf("stopped webhook: ok=%v err=%v, want not ok and no error", ok, err)
	}
}

func TestListable(t *testing.T) {
	t.Parallel()
	got := listable([]*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Verbs: []string{"get", "list"}},
			{Name: "bindings", Verbs: []string{"create"}},
		}},
		{GroupVersion: "events.k8s.io/v1", APIResources: []metav1.APIResource{{Name: "events", Verbs: []string{"list"}}}},
		{GroupVersion: "a/b/c", APIResources: []metav1.APIResource{{Name: "x", Verbs: []string{"list"}}}},
	})
	want := []schema.GroupVersionResource{{Version: "v1", Resource: "pods"}, {Group: "events.k8s.io", Version: "v1", Resource: "events"}}
	if !slices.Equal(got, want) {
		t.Errorf("listable = %v, want %v", got, want)
	}
}
