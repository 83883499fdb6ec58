package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/vault-injector/vault-injector/injector"
)

// encodingJSON is the patch as encoding/json writes it, the bytes patchOf must write.
func encodingJSON(t testing.TB, changes []injector.Change) []byte {
	t.Helper()
	ops := make([]patchOp, len(changes))
	for i, c := range changes {
		ops[i] = patchOp{Op: "add", Path: c.Path, Value: c.Value}
	}
	b, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPatchIsEncodingJSON checks the values patchOf writes itself, with every escape
// encoding/json makes, and the ones it leaves to encoding/json.
func TestPatchIsEncodingJSON(t *testing.T) {
	t.Parallel()
	odd := []string{
		"", "plain", `q"uote`, `back\slash`, "<html>&amp;", "tab\tnew\nline\r\b\f\x00\x1f\x7f",
		"ünïcödé", "\u2028\u2029", "bad\xffutf8", "$(VAR)", "a~b/c",
	}
	var changes []injector.Change
	for _, s := range odd {
		changes = append(changes,
			injector.Change{Path: "/p/" + s, Value: s},
			injector.Change{Path: "/tmp", Value: corev1.TerminationMessagePolicy(s)},
			injector.Change{Path: "/cmd", Value: []string{s, "x", s}},
			injector.Change{Path: "/env/-", Value: &corev1.EnvVar{Name: s, Value: s}},
			injector.Change{Path: "/env/-", Value: &corev1.EnvVar{Name: s, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: s, FieldPath: s}}}},
			injector.Change{Path: "/m/-", Value: &corev1.VolumeMount{Name: s, MountPath: s, SubPath: s, SubPathExpr: s, ReadOnly: true}},
		)
	}
	prop := corev1.MountPropagationHostToContainer
	changes = append(changes,
		injector.Change{Path: "/nil", Value: []string(nil)},
		injector.Change{Path: "/empty", Value: []string{}},
		injector.Change{Path: "/env/-", Value: &corev1.EnvVar{Name: "N"}},
		injector.Change{Path: "/env/-", Value: &corev1.EnvVar{Name: "P", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}}},
		injector.Change{Path: "/env/-", Value: &corev1.EnvVar{Name: "P", Value: "v", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
		injector.Change{Path: "/env/-", Value: &corev1.EnvVar{Name: "R", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}}},
		injector.Change{Path: "/env/-", Value: &corev1.EnvVar{Name: "S", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}, SecretKeyRef: &corev1.SecretKeySelector{Key: "k"},
		}}},
		injector.Change{Path: "/env/-", Value: (*corev1.EnvVar)(nil)},
		injector.Change{Path: "/m/-", Value: &corev1.VolumeMount{Name: "v", MountPath: "/m"}},
		injector.Change{Path: "/m/-", Value: &corev1.VolumeMount{Name: "v", MountPath: "/m", MountPropagation: &prop, RecursiveReadOnly: ptr.To(corev1.RecursiveReadOnlyDisabled)}},
		injector.Change{Path: "/m/-", Value: (*corev1.VolumeMount)(nil)},
		injector.Change{Path: "/annotations", Value: map[string]string{"b": "2", "a": "<1>"}},
		injector.Change{Path: "/volumes/-", Value: &corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		injector.Change{Path: "/n", Value: nil},
	)
	got, err := patchOf(changes)
	if err != nil {
		t.Fatal(err)
	}
	if want := encodingJSON(t, changes); string(got) != string(want) {
		t.Errorf("patch\n%s\nwant\n%s", got, want)
	}
	if got, err := patchOf(nil); got != nil || err != nil {
		t.Errorf("no changes: %q, %v", got, err)
	}
}

// TestPatchKnowsEveryField fails when a Kubernetes update adds a field to a type patchOf
// writes itself: it would be left out of the patch, so patchOf must learn it first.
func TestPatchKnowsEveryField(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v      any
		fields int
	}{{corev1.EnvVar{}, 3}, {corev1.VolumeMount{}, 7}, {corev1.ObjectFieldSelector{}, 2}} {
		if n := reflect.TypeOf(c.v).NumField(); n != c.fields {
			t.Errorf("%T has %d fields, patchOf knows %d: teach appendValue the new ones", c.v, n, c.fields)
		}
	}
}

// TestPatchBufferStartsEmpty: a recycled buffer holds an earlier pod's patch, which must
// not reach the next one.
func TestPatchBufferStartsEmpty(t *testing.T) {
	// Not parallel: the pool is shared, and this test must get its own buffer back.
	long := make([]injector.Change, 0, 50)
	for range 50 {
		long = append(long, injector.Change{Path: "/metadata/annotations/earlier-pod", Value: "its value"})
	}
	first, err := patchOf(long)
	if err != nil {
		t.Fatal(err)
	}
	released := map[*byte]bool{&first[:1][0]: true}
	releasePatch(first)
	short := []injector.Change{{Path: "/spec/x", Value: "y"}}
	reused := 0
	// The pool may drop a buffer (a garbage collection; the race detector drops some on
	// purpose): over many rounds, most reuse one released before.
	for range 50 {
		got, err := patchOf(short)
		if err != nil {
			t.Fatal(err)
		}
		if want := encodingJSON(t, short); string(got) != string(want) {
			t.Fatalf("patch from a recycled buffer\n%s\nwant\n%s", got, want)
		}
		if released[&got[:1][0]] {
			reused++
		}
		released[&got[:1][0]] = true
		releasePatch(got)
	}
	if reused == 0 {
		t.Error("no released buffer was ever reused: the test proved nothing")
	}
}

// TestSharedPatchIsNotRecycled: ReviewServer recycles only the patches Handler made for
// one response. A handler that answers every request with the same patch must not see
// it written over by the next pod's.
func TestSharedPatchIsNotRecycled(t *testing.T) {
	// Not parallel: it drains the shared pool.
	shared := []byte(`[{"op":"add","path":"/metadata/labels","value":{"a":"b"}}]`)
	server := &ReviewServer{Handler: fixedPatch(shared), Log: logr.Discard()}
	body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",` +
		`"kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"ns","object":{"metadata":{"name":"p"}}}}`
	for range 2 {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, MutatePath, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		server.ServeHTTP(w, r)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"patch"`) {
			t.Fatalf("status %d, body %s", w.Code, w.Body)
		}
	}
	for range 10 {
		if p, ok := patchBuffers.Get().(*[]byte); ok && cap(*p) > 0 && &(*p)[:1][0] == &shared[0] {
			t.Fatal("a handler's shared patch went into the pool of patch buffers")
		}
	}
}

// fixedPatch answers every request with the same patch.
type fixedPatch []byte

func (p fixedPatch) Handle(context.Context, Request) Response {
	resp := Allowed("")
	resp.Patch, resp.PatchType = p, &jsonPatchType
	return resp
}
