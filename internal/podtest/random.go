package podtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/randfill"
	"sigs.k8s.io/yaml"
)

// Random returns n pods with every field set at random (a fifth of the optional ones
// left nil, arrays of up to three elements), the same for the same seed: the corpus that
// holds a decoder to the apiserver's over fields no hand-written pod thinks of. The types
// whose Go value is not any JSON (quantities, times, int-or-string, managed fields) get
// valid values.
func Random(seed int64, n int) []*corev1.Pod {
	f := randfill.NewWithSeed(seed).NilChance(0.2).NumElements(0, 3).Funcs(
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
	pods := make([]*corev1.Pod, n)
	for i := range pods {
		pods[i] = &corev1.Pod{}
		f.Fill(pods[i])
	}
	return pods
}

// Corpus is every pod a decoder is held to, as JSON by name: the golden pods matching
// glob (YAML files), the benchmark shapes, and random pods (Random(1, random)).
func Corpus(glob string, random int) (map[string][]byte, error) {
	docs := map[string][]byte{}
	goldens, err := filepath.Glob(glob)
	if err != nil {
		return nil, fmt.Errorf("golden pods %s: %w", glob, err)
	}
	if len(goldens) == 0 {
		return nil, fmt.Errorf("no golden pods match %s", glob)
	}
	for _, p := range goldens {
		y, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if docs[p], err = yaml.YAMLToJSON(y); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	pods := map[string]*corev1.Pod{"typical": Typical(), "large": Large()}
	for i, pod := range Random(1, random) {
		pods["random-"+strconv.Itoa(i)] = pod
	}
	for name, pod := range pods {
		if docs[name], err = json.Marshal(pod); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return docs, nil
}
