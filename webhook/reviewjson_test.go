package webhook

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// reflected is what ReviewServer wrote before appendReview, and still writes for what
// appendReview leaves alone.
func reflected(t testing.TB, apiVersion string, resp *admissionv1.AdmissionResponse) []byte {
	t.Helper()
	out, err := jsonv2.Marshal(review{APIVersion: apiVersion, Kind: "AdmissionReview", Response: resp}, jsonv1.DefaultOptionsV1())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// odd are strings a pod, its author or a caller of the port can put in a response: what
// JSON escapes, what v1 escapes for HTML and JavaScript, and invalid UTF-8.
var odd = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "line\nbreak\ttab\x00nul\x1f\x7f",
	"é ✓ 😀", "js \u2028 \u2029", "invalid \xff\xfe UTF-8 \xc3", "\ud7ff\ue000\uffff",
}

// TestReviewIsJSONv2 holds appendReview to the bytes json/v2 writes for every shape of
// response the webhook sends: admitted with a patch, skipped, denied, errored, warned.
func TestReviewIsJSONv2(t *testing.T) {
	t.Parallel()
	patchType := admissionv1.PatchTypeJSONPatch
	odder := admissionv1.PatchType("weird<type>")
	var cases []admissionv1.AdmissionResponse
	for _, s := range odd {
		cases = append(cases,
			admissionv1.AdmissionResponse{
				UID: "3f1c2d4e-uid", Allowed: true, Result: &metav1.Status{Code: http.StatusOK},
				Patch: []byte(`[{"op":"add","path":"/x","value":` + s + `}]`), PatchType: &patchType, Warnings: []string{s, "second"},
			},
			admissionv1.AdmissionResponse{UID: "u", Allowed: true, Result: &metav1.Status{Code: http.StatusOK, Message: s}},
			admissionv1.AdmissionResponse{UID: "u", Result: &metav1.Status{Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden, Message: s}},
			admissionv1.AdmissionResponse{UID: "u", Result: &metav1.Status{Code: http.StatusInternalServerError, Message: s, Status: s, Reason: metav1.StatusReason(s)}},
			admissionv1.AdmissionResponse{UID: types.UID("u" + s), Allowed: true, Warnings: []string{s}},
		)
	}
	for c := range 256 { // every byte value once, in a message otherwise plain
		cases = append(cases, admissionv1.AdmissionResponse{UID: "u", Result: &metav1.Status{Code: http.StatusForbidden, Message: "a" + string([]byte{byte(c)}) + "z"}})
	}
	cases = append(cases,
		admissionv1.AdmissionResponse{},
		admissionv1.AdmissionResponse{Allowed: true, Patch: []byte{}, PatchType: &odder, Warnings: []string{}},
		admissionv1.AdmissionResponse{Allowed: true, Patch: []byte{0, 1, 2, 0xff}},
		admissionv1.AdmissionResponse{Result: &metav1.Status{}},
		admissionv1.AdmissionResponse{Result: &metav1.Status{Code: -1}},
	)
	for i := range cases {
		for _, apiVersion := range []string{"admission.k8s.io/v1", "admission.k8s.io/v1beta1", "", "odd\xff<v>"} {
			want := reflected(t, apiVersion, &cases[i])
			got, ok := appendReview([]byte("kept:"), review{APIVersion: apiVersion, Kind: "AdmissionReview", Response: &cases[i]})
			if !ok || !bytes.Equal(got, append([]byte("kept:"), want...)) {
				t.Errorf("case %d, %q: wrote it (%v)\n got %s\nwant kept:%s", i, apiVersion, ok, got, want)
			}
		}
	}
}

// TestReviewLeavesTheRestToJSONv2: a response with a part appendReview does not write is
// not written by it at all, and the server writes it through json/v2 instead.
func TestReviewLeavesTheRestToJSONv2(t *testing.T) {
	t.Parallel()
	for i, resp := range []admissionv1.AdmissionResponse{
		{Allowed: true, AuditAnnotations: map[string]string{"a": "b"}},
		{Result: &metav1.Status{Code: 403, Details: &metav1.StatusDetails{Name: "n"}}},
		{Result: &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status"}}},
		{Result: &metav1.Status{ListMeta: metav1.ListMeta{RemainingItemCount: ptr.To[int64](1)}}},
	} {
		out := review{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview", Response: &resp}
		checkLeft(t, fmt.Sprint("case ", i), out)
	}
	// Reviews of another shape than an answer, which no caller writes today (found by a
	// hostile review: the hand-written writer would have written them as an answer).
	ok := &admissionv1.AdmissionResponse{Allowed: true}
	for name, out := range map[string]review{
		"another kind": {APIVersion: "admission.k8s.io/v1", Kind: "Other", Response: ok},
		"a request":    {APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview", Request: &admissionv1.AdmissionRequest{UID: "u"}, Response: ok},
		"no response":  {APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
	} {
		checkLeft(t, name, out)
	}
}

// checkLeft fails t unless appendReview leaves out to json/v2, and the server writes it
// as json/v2 does.
func checkLeft(t *testing.T, name string, out review) {
	t.Helper()
	if got, ok := appendReview([]byte("kept"), out); ok || string(got) != "kept" {
		t.Errorf("%s: appendReview wrote %q (%v), want it left to json/v2", name, got, ok)
	}
	rec := httptest.NewRecorder()
	(&ReviewServer{}).write(rec, out)
	want, err := jsonv2.Marshal(out, jsonv1.DefaultOptionsV1())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rec.Body.Bytes(), want) {
		t.Errorf("%s: server wrote %s, want %s", name, rec.Body.Bytes(), want)
	}
}

// TestReviewKnowsEveryField: a field a newer API adds to a response must be taught to
// appendReview (or left to json/v2 by plainStatus), or it would be dropped silently.
func TestReviewKnowsEveryField(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v      any
		fields int
	}{{review{}, 4}, {admissionv1.AdmissionResponse{}, 7}, {metav1.Status{}, 7}} {
		if n := reflect.TypeOf(c.v).NumField(); n != c.fields {
			t.Errorf("%T has %d fields, appendReview knows %d: teach it the new ones", c.v, n, c.fields)
		}
	}
}

// FuzzReviewIsJSONv2: any uid, message and warning is written as json/v2 writes it.
func FuzzReviewIsJSONv2(f *testing.F) {
	for _, s := range odd {
		f.Add(s, s, s, true)
	}
	f.Fuzz(func(t *testing.T, uid, message, warning string, allowed bool) {
		resp := admissionv1.AdmissionResponse{
			UID: types.UID("u" + uid), Allowed: allowed, Result: &metav1.Status{Code: 403, Message: message}, Warnings: []string{warning},
		}
		got, ok := appendReview(nil, review{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview", Response: &resp})
		if want := reflected(t, "admission.k8s.io/v1", &resp); !ok || !bytes.Equal(got, want) {
			t.Fatalf("wrote it (%v)\n got %s\nwant %s", ok, got, want)
		}
	})
}

// BenchmarkWriteReview writes the typical pod's response (a 6.6 KB patch) by hand and by
// json/v2's reflection.
func BenchmarkWriteReview(b *testing.B) {
	patchType := admissionv1.PatchTypeJSONPatch
	resp := &admissionv1.AdmissionResponse{
		UID: "3f1c2d4e-0b6a-4c1e-9a3f-2d7b6e1c4a90", Allowed: true, Result: &metav1.Status{Code: http.StatusOK},
		Patch: bytes.Repeat([]byte(`{"op":"add","path":"/spec/containers/0/env/-","value":{"name":"A","value":"b"}},`), 80), PatchType: &patchType,
	}
	out := review{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview", Response: resp}
	b.Run("by-hand", func(b *testing.B) {
		b.ReportAllocs()
		s := &ReviewServer{}
		w := httptest.NewRecorder()
		for b.Loop() {
			w.Body.Reset()
			s.write(w, out)
		}
	})
	b.Run("json-v2", func(b *testing.B) {
		b.ReportAllocs()
		w := httptest.NewRecorder()
		for b.Loop() {
			w.Body.Reset()
			if err := jsonv2.MarshalWrite(w, out, jsonv1.DefaultOptionsV1()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
