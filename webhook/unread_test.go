package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/injector"
	"github.com/vault-injector/vault-injector/internal/podjson"
	"github.com/vault-injector/vault-injector/internal/podtest"
	"github.com/vault-injector/vault-injector/webhook"
)

// TestAdmitNeedsNothingLeftUnread: the admission path decides alike on a pod decoded whole
// and on one decoded as reviews are (podjson.DecodeForAdmission, which leaves app
// containers' resources and ports, tolerations, owner references and status unread): on
// every golden case, under its own settings and facts (a pod injected before is compared
// with our init container, resources included), and on random pods with every field set,
// each container given a reference so that it is injected.
func TestAdmitNeedsNothingLeftUnread(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob("../injector/testdata/*")
	if err != nil || len(dirs) < 30 {
		t.Fatalf("golden cases %v: %v", dirs, err)
	}
	outcomes := map[webhook.Outcome]int{}
	for _, dir := range dirs {
		y, err := os.ReadFile(filepath.Join(dir, "pod.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := yaml.YAMLToJSON(y)
		if err != nil {
			t.Fatal(err)
		}
		// As written (YAML's keys sorted: a volume's name after some sources) and as the
		// apiserver writes it (each volume's name first).
		var pod corev1.Pod
		if err := json.Unmarshal(doc, &pod); err != nil {
			t.Fatal(err)
		}
		apiserver, err := json.Marshal(&pod)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := goldenHandler(t, dir)
		for _, doc := range [][]byte{doc, apiserver} {
			want, got := admitBoth(t, dir, doc, h.Config, h.Facts)
			outcomes[want.Outcome]++
			if want.Skipped != got.Skipped {
				t.Fatalf("%s: skipped %q decoded whole, %q decoded for admission", dir, want.Skipped, got.Skipped)
			}
		}
	}
	if outcomes[webhook.OutcomeMutated] == 0 || outcomes[webhook.OutcomeDenied] == 0 || outcomes[webhook.OutcomeSkipped] == 0 {
		t.Fatalf("golden outcomes %v: want some mutated, denied and skipped", outcomes)
	}

	wh := testConfig(t)
	mutated := 0
	for i, pod := range podtest.Random(7, 300) {
		pod.Namespace, pod.Annotations, pod.Spec.ServiceAccountName = "shop", nil, "api"
		pod.Spec.DNSConfig = nil // random nameservers could resolve the Vault host elsewhere: denied
		for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
			for j := range cs {
				cs[j].Name = fmt.Sprintf("c%d-%d", len(cs), j)
				cs[j].Command = []string{"/app"}
				cs[j].Env = append(slices.Clone(cs[j].Env), corev1.EnvVar{Name: "SECRET", Value: "vault:secret/data/shop/db#password"})
			}
		}
		doc, err := json.Marshal(pod)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := admitBoth(t, fmt.Sprint("random pod ", i), doc, wh, nil); got.Outcome == webhook.OutcomeMutated {
			mutated++
		}
	}
	if mutated < 100 {
		t.Fatalf("%d of 300 random pods mutated; want most, or the test compares little", mutated)
	}

	// More containers than get env room: the decoder's room runs out part way through
	// the pod, and the patch must not change where it does.
	many := podtest.Typical()
	many.Namespace = "shop"
	app := many.Spec.Containers[0]
	for i := range podjson.RoomedEnvs + 5 {
		c := *app.DeepCopy()
		c.Name = fmt.Sprint("app-", i)
		many.Spec.Containers = append(many.Spec.Containers, c)
	}
	doc, err := json.Marshal(many)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := admitBoth(t, "a pod with more containers than get env room", doc, wh, nil); got.Outcome != webhook.OutcomeMutated {
		t.Fatalf("a pod with %d containers: %s %q, want mutated", len(many.Spec.Containers), got.Outcome, got.Message())
	}
}

// admitBoth admits doc decoded whole and decoded for admission, failing t unless the
// decisions agree.
func admitBoth(t *testing.T, name string, doc []byte, wh config.Webhook, facts *webhook.FactFinder) (want, got webhook.Decision) {
	t.Helper()
	var whole, partial corev1.Pod
	if err := jsonv2.Unmarshal(doc, podjson.Into(&whole)); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := jsonv2.Unmarshal(doc, (*forAdmission)(&partial)); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	want = webhook.Admit(t.Context(), &whole, wh, facts)
	got = webhook.Admit(t.Context(), &partial, wh, facts)
	if got.Outcome != want.Outcome || !bytes.Equal(got.Patch, want.Patch) || got.Message() != want.Message() || !slices.Equal(got.Warnings, want.Warnings) {
		t.Fatalf("%s: decoded whole: %s %q %s; decoded for admission: %s %q %s", name, want.Outcome, want.Message(), want.Patch, got.Outcome, got.Message(), got.Patch)
	}
	return want, got
}

type forAdmission corev1.Pod

func (p *forAdmission) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	return podjson.DecodeForAdmission(dec, (*corev1.Pod)(p), injector.ReadsVolume, injector.EnvRoom)
}
