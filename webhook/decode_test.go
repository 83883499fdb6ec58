package webhook

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/randfill"
	"sigs.k8s.io/yaml"

	"github.com/vault-injector/vault-injector/internal/podtest"
)

// TestDecodeMatchesEncodingJSON checks that the faster decoder reads every pod exactly as
// encoding/json (the apiserver's own encoder's counterpart) does: the golden pods, the
// benchmark shapes, and random pods with every field set, serialized as the apiserver
// serializes them.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	docs := map[string][]byte{}
	goldens, err := filepath.Glob("../injector/testdata/*/pod.yaml")
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no golden pods: %v", err)
	}
	for _, p := range goldens {
		y, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		j, err := yaml.YAMLToJSON(y)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		docs[p] = j
	}
	for name, pod := range map[string]*corev1.Pod{"typical": podtest.Typical(), "large": podtest.Large()} {
		docs[name] = mustMarshal(t, pod)
	}
	f := randfill.NewWithSeed(1).NilChance(0.2).NumElements(0, 3).Funcs(
		func(q *resource.Quantity, c randfill.Continue) {
			*q = *resource.NewMilliQuantity(c.Int63n(1<<40), resource.DecimalSI)
		},
		func(tm *metav1.Time, c randfill.Continue) { *tm = metav1.Unix(c.Int63n(1<<32), 0) },
		func(v *intstr.IntOrString, c randfill.Continue) {
			if c.Bool() {
				*v = intstr.FromInt32(c.Int31())
			} else {
				*v = intstr.FromString(c.String(8))
			}
		},
		func(v *metav1.FieldsV1, _ randfill.Continue) { v.SetRawString(`{"f:spec":{}}`) },
	)
	for i := range 300 {
		var pod corev1.Pod
		f.Fill(&pod)
		docs["random-"+strconv.Itoa(i)] = mustMarshal(t, &pod)
	}

	for name, doc := range docs {
		var want, got corev1.Pod
		if err := json.Unmarshal(doc, &want); err != nil {
			t.Fatalf("%s: encoding/json: %v", name, err)
		}
		if err := decodeJSON(doc, &got); err != nil {
			t.Fatalf("%s: decodeJSON: %v", name, err)
		}
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: decoders disagree:\nencoding/json: %s\ndecodeJSON:    %s", name, mustMarshal(t, &want), mustMarshal(t, &got))
		}
	}
}

// TestDecodeLenient checks that the input encoding/json takes is taken, and read alike.
func TestDecodeLenient(t *testing.T) {
	for name, doc := range map[string]string{
		"duplicate names, last wins": `{"metadata":{"name":"a","name":"b"}}`,
		"lone surrogate":             `{"metadata":{"name":"\udcff"}}`,
		"invalid UTF-8":              "{\"metadata\":{\"name\":\"\xff\"}}",
	} {
		var want, got corev1.Pod
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("%s: encoding/json: %v", name, err)
		}
		if err := decodeJSON([]byte(doc), &got); err != nil {
			t.Errorf("%s: decodeJSON refused what encoding/json takes: %v", name, err)
		}
		if want.Name != got.Name || !validJSON([]byte(doc)) {
			t.Errorf("%s: name %q, want %q (valid: %v)", name, got.Name, want.Name, validJSON([]byte(doc)))
		}
	}
	for _, bad := range []string{`{"metadata":`, `{"a":1}x`, `{"a":tru}`, ``} {
		var pod corev1.Pod
		if decodeJSON([]byte(bad), &pod) == nil || validJSON([]byte(bad)) {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
