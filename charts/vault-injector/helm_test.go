// Package chart_test tests the vault-injector Helm chart with the real helm binary (built by
// hack/tools/build.sh) and a real kube-apiserver: lint, rendering, the values schema, the
// chart's flags against the webhook's flag parser, and install and upgrade into envtest.
package chart_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/vault-injector/vault-injector/internal/tools"
)

var update = flag.Bool("update", false, "rewrite README.md and testdata/render/*.yaml")

// scenario is one set of values the chart is tested with: a file in testdata/values.
type scenario struct {
	name   string
	mode   string // certificates.mode
	values string // path of the values file
}

// scenarios are the default values, each certificate mode and each optional component.
func scenarios() []scenario {
	return []scenario{
		{"defaults", "self-managed", ""},
		{"cert-manager", "cert-manager", "testdata/values/cert-manager.yaml"},
		{"cert-manager-issuer", "cert-manager", "testdata/values/cert-manager-issuer.yaml"},
		{"provided", "provided", "testdata/values/provided.yaml"},
		{"opt-in", "self-managed", "testdata/values/opt-in.yaml"},
		{"monitoring", "self-managed", "testdata/values/monitoring.yaml"},
		{"network-policy", "self-managed", "testdata/values/network-policy.yaml"},
		{"customized", "self-managed", "testdata/values/customized.yaml"},
		{"vault-ca-from", "self-managed", "testdata/values/vault-ca-from.yaml"},
	}
}

// args are helm's flags for a scenario's values.
func (s scenario) args() []string {
	if s.values == "" {
		return nil
	}
	return []string{"--values", s.values}
}

// helmBin finds helm: $HELM_BIN, else the cached build of hack/tools/build.sh (which
// builds it on first use, in about three minutes).
func helmBin(t *testing.T) string {
	t.Helper()
	bin, err := tools.Helm(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// helmRunner runs helm with its own empty configuration, cache and data folders, so the
// tests neither read nor change the user's helm setup.
type helmRunner struct {
	bin  string
	home string
	env  []string
}

func newHelm(t *testing.T) *helmRunner {
	t.Helper()
	h := &helmRunner{bin: helmBin(t), home: t.TempDir()}
	h.env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(h.home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(h.home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(h.home, "data"),
	)
	return h
}

// run runs helm in the chart folder and returns its standard output; a failure returns
// an error holding standard error, for tests that expect one.
func (h *helmRunner) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), h.bin, args...)
	cmd.Env = h.env
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), errors.New(strings.TrimSpace(stdout.String()+"\n"+stderr.String()) + " (" + err.Error() + ")")
	}
	return stdout.String(), nil
}

// must is run for commands that have to succeed.
func (h *helmRunner) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := h.run(t, args...)
	if err != nil {
		t.Fatalf("helm %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// template renders the chart as release in namespace.
func (h *helmRunner) template(t *testing.T, release, namespace string, args ...string) string {
	t.Helper()
	return h.must(t, slices.Concat([]string{"template", release, ".", "--namespace", namespace}, args)...)
}

// parseObjects splits a rendered manifest into objects, skipping empty documents.
func parseObjects(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("rendered manifest is not YAML: %v", err)
		}
		if len(obj) > 0 {
			out = append(out, &unstructured.Unstructured{Object: obj})
		}
	}
}

// find returns the one object of kind (and name suffix, if given), failing if absent.
func find(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s, rendered %d", kind, len(found))
	}
	return found[0]
}

// kinds lists the rendered kinds, for comparisons.
func kinds(objs []*unstructured.Unstructured) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.GetKind())
	}
	slices.Sort(out)
	return out
}
