package framework

import (
	"crypto/rand"
	"encoding/base64"
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
