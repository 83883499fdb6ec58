package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/vault-injector/vault-injector/internal/podtest"
)

// kubeDecode is how the apiserver itself decodes JSON (sigs.k8s.io/json: encoding/json with
// field names matched exactly), the reference decodeJSON must agree with.
func kubeDecode(data []byte, v any) error {
	return kjson.UnmarshalCaseSensitivePreserveInts(data, v)
}

// TestDecodeMatchesKubernetes checks that the faster decoder reads every pod exactly as the
// apiserver's decoder does: the golden pods, the benchmark shapes, and random pods with
// every field set, serialized as the apiserver serializes them.
func TestDecodeMatchesKubernetes(t *testing.T) {
	t.Parallel()
	docs, err := podtest.Corpus("../injector/testdata/*/pod.yaml", 300)
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range docs {
		var want, got corev1.Pod
		if err := kubeDecode(doc, &want); err != nil {
			t.Fatalf("%s: sigs.k8s.io/json: %v", name, err)
		}
		if err := decodePod(doc, &got); err != nil {
			t.Fatalf("%s: decodeJSON: %v", name, err)
		}
		if d := cmp.Diff(want, got); d != "" || !reflect.DeepEqual(want, got) {
			t.Errorf("%s: decoders disagree (-sigs.k8s.io/json +decodeJSON):\n%s", name, d)
		}
	}
}

// TestDecodeLenient checks that the input the apiserver's decoder takes is taken, and read
// alike.
func TestDecodeLenient(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"duplicate names, last wins": `{"metadata":{"name":"a","name":"b"}}`,
		"lone surrogate":             `{"metadata":{"name":"\udcff"}}`,
		"invalid UTF-8":              "{\"metadata\":{\"name\":\"\xff\"}}",
	} {
		var want, got corev1.Pod
		if err := kubeDecode([]byte(doc), &want); err != nil {
			t.Fatalf("%s: sigs.k8s.io/json: %v", name, err)
		}
		if err := decodePod([]byte(doc), &got); err != nil {
			t.Errorf("%s: decodeJSON refused what the apiserver's decoder takes: %v", name, err)
		}
		if want.Name != got.Name {
			t.Errorf("%s: name %q, want %q", name, got.Name, want.Name)
		}
	}
	for _, bad := range []string{`{"metadata":`, `{"a":1}x`, `{"a":tru}`, ``} {
		var pod corev1.Pod
		if decodePod([]byte(bad), &pod) == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// TestDecodeErrorsHoldNoValues checks that a decode error says where the input is wrong
// but never quotes it: the text may be a value meant to stay secret.
func TestDecodeErrorsHoldNoValues(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-value"
	for name, tc := range map[string]struct{ doc, want string }{
		"string for a number": {`{"spec":{"containers":[{"name":"a","ports":[{"containerPort":"` + secret + `"}]}]}}`, `cannot read a JSON string as int32 at "/spec/containers/0/ports/0/containerPort"`},
		"bad quantity":        {`{"spec":{"containers":[{"name":"a","resources":{"limits":{"cpu":"` + secret + `"}}}]}}`, `at "/spec/containers/0/resources/limits/cpu"`},
		"bad time":            {`{"metadata":{"creationTimestamp":"` + secret + `"}}`, `at "/metadata/creationTimestamp"`},
		"truncated":           {`{"metadata":{"name":"` + secret, `truncated JSON`},
		"junk after a value":  {`{"metadata":{"name":"` + secret + `"x}}`, `malformed JSON at "/metadata"`},
	} {
		var pod corev1.Pod
		err := decodePod([]byte(tc.doc), &pod)
		if err == nil || !errors.Is(err, errUndecodable) {
			t.Fatalf("%s: error %v, want errUndecodable", name, err)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %q, want it to say %q and never quote the value", name, err, tc.want)
		}
	}
}

// keepingHandler keeps every request's pod, as JSON, as a handler may, and allows all.
type keepingHandler struct {
	pods []*corev1.Pod
	kept [][]byte
}

func (h *keepingHandler) Handle(_ context.Context, req Request) Response {
	pod, err := req.Pod()
	if err != nil {
		return Errored(http.StatusBadRequest, err)
	}
	b, err := json.Marshal(pod)
	if err != nil {
		return Errored(http.StatusInternalServerError, err)
	}
	h.pods, h.kept = append(h.pods, pod), append(h.kept, b)
	return Allowed("")
}

// TestRequestBuffersAreNotShared checks that what a handler keeps of a request survives
// later requests: the server reads bodies into pooled buffers, so any slice of one that
// reached the handler would be overwritten by the next request.
func TestRequestBuffersAreNotShared(t *testing.T) {
	t.Parallel()
	h := &keepingHandler{}
	srv := &ReviewServer{Handler: h, Log: logr.Discard()}
	var want [][]byte
	for i := range 20 {
		pod := podtest.Typical()
		pod.Name = "pod-" + strconv.Itoa(i)
		body, err := podtest.Review(pod, "uid-"+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, MutatePath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || len(h.kept) != i+1 {
			t.Fatalf("request %d: status %d, %d objects kept", i, rec.Code, len(h.kept))
		}
		want = append(want, bytes.Clone(h.kept[i]))
	}
	for i := range want {
		now, err := json.Marshal(h.pods[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(now, want[i]) || h.pods[i].Name != "pod-"+strconv.Itoa(i) {
			t.Errorf("request %d's object changed after later requests", i)
		}
	}
}

// FuzzDecodeMatchesKubernetes checks that whatever pod the apiserver's decoder accepts,
// decodeJSON accepts too and reads the same. Input with a name twice in one object is left
// out: the apiserver writes the objects it sends from Go values, so never sends one, and
// for them encoding/json merges the second value into the first where decodeJSON takes
// the second.
func FuzzDecodeMatchesKubernetes(f *testing.F) {
	goldens, err := filepath.Glob("../injector/testdata/*/pod.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range goldens {
		y, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		j, err := yaml.YAMLToJSON(y)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(j)
	}
	f.Add([]byte(`{"metadata":{"name":"a\u00e9\ud83d\ude00","annotations":{"x":"1"}},"spec":{"containers":[{"name":"c","ports":[{"containerPort":80}],"resources":{"limits":{"cpu":"1.5"}}}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var want, got corev1.Pod
		if kubeDecode(data, &want) != nil || !jsontext.Value(data).IsValid(jsontext.AllowInvalidUTF8(true)) {
			return
		}
		if err := decodePod(data, &got); err != nil {
			t.Fatalf("sigs.k8s.io/json takes %q, decodeJSON refuses it: %v", data, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("decoders disagree on %q (-sigs.k8s.io/json +decodeJSON):\n%s", data, d)
		}
	})
}
