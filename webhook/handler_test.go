package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/injector"
	"github.com/vault-injector/vault-injector/internal/metrics"
	"github.com/vault-injector/vault-injector/internal/metricstest"
	"github.com/vault-injector/vault-injector/registry"
	"github.com/vault-injector/vault-injector/webhook"
)

func testConfig(t testing.TB) config.Webhook {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	w, err := config.ParseWebhook(fs, []string{"--injector-image=registry.example/vault-injector:v0.1.0", "--envexec-path=/usr/local/bin/envexec", "--vault-addr=https://vault.example:8200"}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func newHandler(t testing.TB) (*webhook.Handler, *metrics.Registry) {
	t.Helper()
	reg := metrics.NewRegistry()
	m, err := webhook.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return &webhook.Handler{Config: testConfig(t), Metrics: m}, reg
}

const podWithRef = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"api","annotations":%s},
 "spec":{"serviceAccountName":"api","futureField":{"keep":true},"containers":[{"name":"api","image":"example/api:1",%s
 "env":[{"name":"DB_PASSWORD","value":"vault:secret/data/db#password"}]}]}}`

func podJSON(annotations, command string) []byte {
	return []byte(fmt.Sprintf(podWithRef, annotations, command))
}

func request(op admissionv1.Operation, raw []byte) webhook.Request {
	return webhook.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       "uid-1",
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Namespace: "shop",
		Operation: op,
		Object:    runtime.RawExtension{Raw: raw},
	}}
}

func TestHandle(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		req     webhook.Request
		allowed bool
		code    int32
		patched bool
		message []string
		outcome webhook.Outcome
	}{
		"injects": {
			req:     request(admissionv1.Create, podJSON(`{}`, `"command":["/app"],`)),
			allowed: true, code: 200, patched: true, outcome: webhook.OutcomeMutated,
		},
		"no references": {
			req:     request(admissionv1.Create, []byte(`{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}`)),
			allowed: true, code: 200, message: []string{"no-references"}, outcome: webhook.OutcomeSkipped,
		},
		"opted out": {
			req:     request(admissionv1.Create, podJSON(`{"vault-injector.io/inject":"false"}`, "")),
			allowed: true, code: 200, message: []string{"opted-out"}, outcome: webhook.OutcomeSkipped,
		},
		"update ignored": {
			req:     request(admissionv1.Update, podJSON(`{}`, `"command":["/app"],`)),
			allowed: true, code: 200, outcome: webhook.OutcomeSkipped,
		},
		"no command": {
			req:  request(admissionv1.Create, podJSON(`{}`, "")),
			code: 403, message: []string{`pod "shop/api"`, `container "api"`, "no command"}, outcome: webhook.OutcomeDenied,
		},
		"bad annotation": {
			req:  request(admissionv1.Create, podJSON(`{"vault-injector.io/timeout":"forever"}`, `"command":["/app"],`)),
			code: 403, message: []string{`pod "shop/api"`, `"vault-injector.io/timeout"`, `"forever"`}, outcome: webhook.OutcomeDenied,
		},
		"broken json": {
			req:  request(admissionv1.Create, []byte(`{"spec":`)),
			code: 400, message: []string{"decode pod"}, outcome: webhook.OutcomeError,
		},
		"wrong type": {
			req:  request(admissionv1.Create, []byte(`{"spec":{"containers":"vault:yes"}}`)),
			code: 400, message: []string{"decode pod"}, outcome: webhook.OutcomeError,
		},
		"not a pod": {req: func() webhook.Request {
			r := request(admissionv1.Create, []byte(`{}`))
			r.Kind.Kind = "ConfigMap"
			return r
		}(), code: 400, message: []string{"only handles pods"}, outcome: webhook.OutcomeError},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h, reg := newHandler(t)
			resp := h.Handle(t.Context(), tc.req)
			if resp.Result == nil {
				t.Fatal("no result")
			}
			if resp.Allowed != tc.allowed || resp.Result.Code != tc.code {
				t.Fatalf("allowed=%v code=%d, want %v %d (%s)", resp.Allowed, resp.Result.Code, tc.allowed, tc.code, resp.Result.Message)
			}
			if got := len(resp.Patch) > 0; got != tc.patched {
				t.Errorf("patched = %v, want %v", got, tc.patched)
			}
			for _, m := range tc.message {
				if !strings.Contains(resp.Result.Message, m) {
					t.Errorf("message %q lacks %q", resp.Result.Message, m)
				}
			}
			if strings.Contains(resp.Result.Message, "vault:secret") {
				t.Errorf("message repeats a reference: %q", resp.Result.Message)
			}
			if got := counter(t, reg, tc.outcome); got != 1 {
				t.Errorf("requests{outcome=%s} = %v, want 1", tc.outcome, got)
			}
		})
	}
}

// counter is the admission requests counter of outcome o, as a scrape of reg reads it.
func counter(t *testing.T, reg *metrics.Registry, o webhook.Outcome) float64 {
	t.Helper()
	v, ok := metricstest.Value(t, reg.Text(), "vault_injector_admission_requests_total", "outcome", string(o))
	if !ok {
		t.Fatalf("no series for outcome %s", o)
	}
	return v
}

// TestHandleWarnings: bank-vaults annotations we do not support reach the user as
// admission warnings (kubectl prints them), and the pod is still mutated.
func TestHandleWarnings(t *testing.T) {
	t.Parallel()
	h, _ := newHandler(t)
	resp := h.Handle(t.Context(), request(admissionv1.Create, podJSON(`{"vault.security.banzaicloud.io/vault-agent":"true"}`, `"command":["/app"],`)))
	if !resp.Allowed || len(resp.Patch) == 0 {
		t.Fatalf("allowed=%v patch=%s", resp.Allowed, resp.Patch)
	}
	if len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "vault-agent") {
		t.Errorf("warnings = %q", resp.Warnings)
	}
}

// TestPatchMatchesInjector applies the returned JSON patch to the raw request, the way the
// apiserver does, for every golden pod of the injector, with the case's webhook flags and
// image facts: the result must be exactly the injector's pod, and fields the Go types do
// not know, planted on the spec and on every container, must survive where they were (the
// user's init containers shift by one). A case the injector denies must be denied.
func TestPatchMatchesInjector(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob(filepath.Join("..", "injector", "testdata", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no injector goldens: %v", err)
	}
	patched, denied := 0, 0
	for _, dir := range dirs {
		h, facts := goldenHandler(t, dir)
		raw := plantUnknownFields(t, filepath.Join(dir, "pod.yaml"))
		for _, dryRun := range []bool{false, true} {
			req := request(admissionv1.Create, raw)
			req.DryRun = &dryRun
			if ns := namespaceOf(t, raw); ns != "" {
				req.Namespace = ns // as the apiserver sends it
			}
			resp := h.Handle(t.Context(), req)
			if wantErr, err := os.ReadFile(filepath.Join(dir, "want.err")); err == nil {
				denied++
				if resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusForbidden {
					t.Errorf("%s: the injector denies (%s), the handler answered allowed=%v %v", dir, wantErr, resp.Allowed, resp.Result)
				}
				continue
			}
			report, _ := os.ReadFile(filepath.Join(dir, "want.report.yaml"))
			mutates := strings.Contains(string(report), `Skipped: ""`)
			if mutates != (resp.Allowed && len(resp.Patch) > 0) {
				t.Errorf("%s: the injector mutates=%v, but the handler answered allowed=%v with a %d-byte patch (%v)",
					dir, mutates, resp.Allowed, len(resp.Patch), resp.Result)
			}
			if !resp.Allowed || len(resp.Patch) == 0 {
				continue
			}
			patched++
			patch, err := jsonpatch.DecodePatch(resp.Patch)
			if err != nil {
				t.Fatal(err)
			}
			result, err := patch.Apply(raw)
			if err != nil {
				t.Fatalf("%s: patch does not apply: %v\n%s", dir, err, resp.Patch)
			}
			var got, in corev1.Pod
			if err := json.Unmarshal(result, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &in); err != nil {
				t.Fatal(err)
			}
			cfg, _, err := config.ParsePod(in.Annotations, in.Spec.ServiceAccountName, h.Config)
			if err != nil {
				t.Fatal(err)
			}
			want, injected, err := injector.Inject(&in, cfg, facts)
			if err != nil {
				t.Fatal(err)
			}
			checkPatchBytes(t, dir, resp.Patch, injected.Changes)
			if d := cmp.Diff(want, &got); d != "" {
				t.Errorf("%s dryRun=%v: patched pod differs from injector output (-want +got):\n%s", dir, dryRun, d)
			}
			checkUnknownFields(t, dir, result)
		}
	}
	if patched == 0 || denied == 0 {
		t.Fatalf("%d golden pods patched, %d denied; want some of each", patched, denied)
	}
}

// checkPatchBytes checks that the patch is the bytes encoding/json writes for the
// injector's changes, as the patch was written before patchOf wrote values itself.
func checkPatchBytes(t *testing.T, dir string, patch []byte, changes []injector.Change) {
	t.Helper()
	if want := webhook.EncodingJSONPatch(t, changes); !bytes.Equal(patch, want) || len(patch) == 0 {
		t.Errorf("%s: patch is not encoding/json's bytes:\n%s\nwant\n%s", dir, patch, want)
	}
}

// goldenHandler is a handler configured as the injector's golden case in dir: its
// config.yaml flags after the test's, and the image configs of its facts.yaml answered by
// a resolver that reads them. The registry is not what this test is about (see
// facts_test.go for lookups against a real one); the patch is.
func goldenHandler(t *testing.T, dir string) (*webhook.Handler, injector.Facts) {
	t.Helper()
	h, _ := newHandler(t)
	var cc struct {
		Flags []string `json:"flags"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "config.yaml")); err == nil {
		if err := yaml.UnmarshalStrict(b, &cc); err != nil {
			t.Fatal(err)
		}
		for i, f := range cc.Flags { // paths in the flags are the injector package's
			cc.Flags[i] = strings.Replace(f, "=testdata/", "="+filepath.Join("..", "injector", "testdata")+"/", 1)
		}
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		args := append([]string{"--injector-image=registry.example/vault-injector:v0.1.0", "--envexec-path=/usr/local/bin/envexec", "--vault-addr=https://vault.example:8200"}, cc.Flags...)
		if h.Config, err = config.ParseWebhook(fs, args, func(string) (string, bool) { return "", false }); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
	}
	var facts injector.Facts
	if b, err := os.ReadFile(filepath.Join(dir, "facts.yaml")); err == nil {
		if err := yaml.UnmarshalStrict(b, &facts); err != nil {
			t.Fatal(err)
		}
		h.Facts = &webhook.FactFinder{Images: factsResolver(facts), Budget: 5 * time.Second}
	}
	return h, facts
}

// factsResolver answers lookups from a golden case's facts, and "no such image" for the
// images they lack, as a registry would.
type factsResolver injector.Facts

func (f factsResolver) Resolve(_ context.Context, image string, _ v1.Platform, _ authn.Keychain) (registry.ImageConfig, error) {
	c, ok := f.Images[image]
	if !ok {
		return registry.ImageConfig{}, fmt.Errorf("%s: no such image in the golden case's facts", image)
	}
	return registry.ImageConfig{Entrypoint: c.Entrypoint, Cmd: c.Cmd}, nil
}

// namespaceOf reads metadata.namespace from a raw pod.
func namespaceOf(t *testing.T, raw []byte) string {
	t.Helper()
	var pod struct {
		Metadata struct {
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &pod); err != nil {
		t.Fatal(err)
	}
	return pod.Metadata.Namespace
}

// plantUnknownFields reads a pod and adds a field no Go type knows to its spec and to every
// container, valued with the container's name, so a test can see where it ends up.
func plantUnknownFields(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pod map[string]any
	if err := yaml.Unmarshal(b, &pod); err != nil {
		t.Fatal(err)
	}
	spec := pod["spec"].(map[string]any)
	spec["futureField"] = "spec"
	for _, list := range []string{"initContainers", "containers"} {
		cs, _ := spec[list].([]any)
		for _, c := range cs {
			if m := c.(map[string]any); m["name"] != injector.InitContainerName {
				m["futureField"] = m["name"]
			}
		}
	}
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func checkUnknownFields(t *testing.T, dir string, result []byte) {
	t.Helper()
	var pod map[string]any
	if err := json.Unmarshal(result, &pod); err != nil {
		t.Fatal(err)
	}
	spec := pod["spec"].(map[string]any)
	if spec["futureField"] != "spec" {
		t.Errorf("%s: spec.futureField lost", dir)
	}
	for _, list := range []string{"initContainers", "containers"} {
		cs, _ := spec[list].([]any)
		for _, c := range cs {
			m := c.(map[string]any)
			if m["name"] == injector.InitContainerName {
				if _, ok := m["futureField"]; ok {
					t.Errorf("%s: the injected init container inherited a user's field", dir)
				}
				continue
			}
			if m["futureField"] != m["name"] {
				t.Errorf("%s: %s %v: futureField = %v, want its own name", dir, list, m["name"], m["futureField"])
			}
		}
	}
}

// TestServeHTTPEdges sends malformed HTTP requests through controller-runtime's admission
// HTTP layer with our handler behind it: each gets a clear error, none a panic.
func TestServeHTTPEdges(t *testing.T) {
	t.Parallel()
	h, _ := newHandler(t)
	hook := &webhook.ReviewServer{Handler: h, Log: logr.Discard()}
	review := func(apiVersion string) string {
		return `{"apiVersion":"admission.k8s.io/` + apiVersion + `","kind":"AdmissionReview","request":{"uid":"u1",
		"kind":{"version":"v1","kind":"Pod"},"resource":{"version":"v1","resource":"pods"},"namespace":"shop","operation":"CREATE",
		"object":` + string(podJSON(`{}`, `"command":["/app"],`)) + `}}`
	}
	cases := map[string]struct {
		body        io.Reader
		contentType string
		wantStatus  int
		wantBody    string
	}{
		"v1 review":      {strings.NewReader(review("v1")), "application/json", 200, `"patchType":"JSONPatch"`},
		"v1beta1 review": {strings.NewReader(review("v1beta1")), "application/json", 200, `"patchType":"JSONPatch"`},
		"empty body":     {strings.NewReader(""), "application/json", 200, "request body is empty"},
		"wrong type":     {strings.NewReader(review("v1")), "text/plain", 200, "contentType=text/plain"},
		"not json":       {strings.NewReader("{{{"), "application/json", 200, `"code":400`},
		"too large":      {io.LimitReader(infinite{}, 8<<20), "application/json", 200, `"code":413`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "/mutate-pods", tc.body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", tc.contentType)
			rec := httptest.NewRecorder()
			hook.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			if !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("body %q lacks %q", rec.Body.String(), tc.wantBody)
			}
		})
	}
}

type infinite struct{}

func (infinite) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// TestServeHTTPBoundsBodiesInFlight: whoever reaches the port can send large bodies
// slowly. Bytes are charged as they arrive: while bodies hold the whole budget, a request
// waits briefly for room, then is refused (429 in the review) instead of adding its
// buffer; a caller that announces much and sends nothing holds nothing.
func TestServeHTTPBoundsBodiesInFlight(t *testing.T) {
	t.Parallel()
	h, _ := newHandler(t)
	hook := &webhook.ReviewServer{Handler: h, Log: logr.Discard(), BodyBytesInFlight: 1 << 20}
	serve := func(body io.Reader, length int64) *httptest.ResponseRecorder {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "/mutate-pods", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.ContentLength = length
		rec := httptest.NewRecorder()
		hook.ServeHTTP(rec, req)
		return rec
	}
	stalled, feed := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		serve(stalled, 1<<20) // announces the whole budget, sends nothing yet
	}()
	small := func() string { return serve(strings.NewReader("{}"), 2).Body.String() }
	// Announced but not sent: nothing is held, a request passes.
	if got := small(); strings.Contains(got, `"code":429`) {
		t.Fatalf("an announced body that was not sent held the budget: %s", got)
	}
	// Sent, then stalled: once the server has charged it all, the budget is full.
	if _, err := feed.Write(bytes.Repeat([]byte(" "), 1<<20)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for got := small(); !strings.Contains(got, `"code":429`); got = small() {
		if time.Now().After(deadline) {
			t.Fatalf("while a stalled body holds the whole budget: %s, want refused", got)
		}
	}
	if got := small(); !strings.Contains(got, "too many request bytes are being read at once") {
		t.Errorf("refused with %s, want the reason", got)
	}
	if err := feed.CloseWithError(io.ErrUnexpectedEOF); err != nil {
		t.Fatal(err)
	}
	<-done
	if got := small(); strings.Contains(got, `"code":429`) {
		t.Errorf("after the stalled body ended: %s, want the budget back", got)
	}
}
