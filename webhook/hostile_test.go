package webhook_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/vault-injector/vault-injector/internal/registrytest"
	"github.com/vault-injector/vault-injector/registry"
	"github.com/vault-injector/vault-injector/webhook"
)

// hostile is one malformed or hostile admission request and the response it must get.
type hostile struct {
	name        string
	contentType string
	body        []byte
	// want: the admission response's code (200 allowed, 403 denied, 4xx/5xx errored) and
	// a piece of its message (noMessage: the message is empty, as for a patch); status is
	// the HTTP status.
	status    int
	code      int32
	allowed   bool
	patched   bool
	message   string
	noMessage bool
	// lookups sends the request to a handler that reads image configs, with no private
	// registry listed but the canary registry.
	lookups bool
	// absent must appear nowhere in the response (message, warnings, patch).
	absent string
	// maxBody bounds the whole HTTP response, when set.
	maxBody int
}

func review(request string) []byte {
	return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":` + request + `}`)
}

// podRequest wraps a pod JSON into a v1 AdmissionReview for CREATE of pods.
func podRequest(op, pod string) []byte {
	return podRequestIn("shop", op, pod)
}

// podRequestIn is podRequest for the request namespace ns (none if empty).
func podRequestIn(ns, op, pod string) []byte {
	namespace := ""
	if ns != "" {
		namespace = `"namespace":"` + ns + `",`
	}
	return review(`{"uid":"u1","kind":{"version":"v1","kind":"Pod"},"resource":{"version":"v1","resource":"pods"},` +
		namespace + `"operation":"` + op + `","object":` + pod + `}`)
}

// imagePod is a pod whose container has a reference and no command, so its image's
// entrypoint is looked up.
func imagePod(image string) string {
	return `{"metadata":{"name":"api"},"spec":{"containers":[{"name":"api","image":` + strconv.Quote(image) +
		`,"env":[{"name":"P","value":"vault:secret/data/p#k"}]}]}}`
}

// manyContainers is a pod of n containers without a command, each running image(i).
func manyContainers(n int, image func(int) string) string {
	cs := make([]map[string]any, n)
	for i := range cs {
		cs[i] = map[string]any{"name": fmt.Sprintf("c%d", i), "image": image(i), "env": []map[string]string{{"name": "P", "value": "vault:s/p#k"}}}
	}
	b, _ := json.Marshal(map[string]any{"metadata": map[string]string{"name": "many"}, "spec": map[string]any{"containers": cs}})
	return string(b)
}

func podWith(annotations, env string, command bool) string {
	cmd := ""
	if command {
		cmd = `"command":["/app"],`
	}
	return `{"metadata":{"name":"api","annotations":` + annotations + `},"spec":{"containers":[{"name":"api","image":"i",` + cmd +
		`"env":` + env + `}]}}`
}

func refEnv(value string) string {
	b, _ := json.Marshal([]map[string]string{{"name": "X", "value": value}})
	return string(b)
}

// malformedEnv is n variables, each a malformed reference (no key).
func malformedEnv(n int) string {
	env := make([]map[string]string, n)
	for i := range env {
		env[i] = map[string]string{"name": fmt.Sprintf("V%d", i), "value": fmt.Sprintf("vault:secret/data/app%d", i)}
	}
	b, _ := json.Marshal(env)
	return string(b)
}

func manyEnv(n int, ref bool) string {
	env := make([]map[string]string, n)
	for i := range env {
		env[i] = map[string]string{"name": fmt.Sprintf("V%d", i), "value": "plain"}
		if ref && i%2 == 0 {
			env[i]["value"] = fmt.Sprintf("vault:secret/data/app#k%d", i)
		}
	}
	b, _ := json.Marshal(env)
	return string(b)
}

func annotation(key, value string) string {
	b, _ := json.Marshal(map[string]string{key: value})
	return string(b)
}

// canaryBody is what the hostile registry answers, to check it is never repeated.
const canaryBody = "registry-answer-canary-5d1c"

// hostileRegistry is where hostileCases aim lookups: a loopback server the handler must not
// reach (requests counted), names resolving to private addresses, and a registry the
// platform listed whose every answer carries a canary.
type hostileRegistry struct {
	loopbackPort string
	loopbackHits *atomic.Int64
	canaryHost   string
	resolver     *net.Resolver
	roots        *x509.CertPool
}

func startHostileRegistry(t *testing.T) *hostileRegistry {
	t.Helper()
	h := &hostileRegistry{loopbackHits: &atomic.Int64{}}
	loop := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h.loopbackHits.Add(1)
		http.Error(w, canaryBody, http.StatusOK)
	}))
	t.Cleanup(loop.Close)
	_, h.loopbackPort, _ = net.SplitHostPort(loop.Listener.Addr().String())
	canary := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/manifests/") {
			w.Header().Set("Content-Type", "application/json")
			http.Error(w, `{"errors":[{"code":"DENIED","message":"`+canaryBody+`"}]}`, http.StatusForbidden)
			return
		}
		http.Error(w, canaryBody, http.StatusInternalServerError)
	}))
	t.Cleanup(canary.Close)
	h.canaryHost = strings.TrimPrefix(canary.URL, "https://")
	h.roots = canary.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	h.resolver = registrytest.StartDNS(t, map[string]netip.Addr{
		"internal.test": netip.MustParseAddr("10.96.0.1"),
		"loop.test":     netip.MustParseAddr("127.0.0.1"),
	})
	return h
}

func hostileCases(reg *hostileRegistry) []hostile {
	okRef := refEnv("vault:secret/data/app#k")
	const j = "application/json"
	const notPublic = "resolves to a loopback, private, link-local, shared (CGNAT), multicast or unspecified address"
	loopback := "127.0.0.1:" + reg.loopbackPort
	return []hostile{
		// The HTTP envelope.
		{name: "empty body", contentType: j, body: nil, status: 200, code: 400, message: "request body is empty"},
		{name: "no content type", contentType: "", body: podRequest("CREATE", podWith(`{}`, okRef, true)), status: 200, code: 400, message: "contentType"},
		{name: "text content type", contentType: "text/plain", body: podRequest("CREATE", podWith(`{}`, okRef, true)), status: 200, code: 400, message: "contentType"},
		{name: "yaml content type", contentType: "application/yaml", body: []byte("kind: AdmissionReview"), status: 200, code: 400, message: "contentType"},
		{name: "body over 7 MiB", contentType: j, body: bytes.Repeat([]byte(" "), 8<<20), status: 200, code: 413, message: "request entity is too large; limit is 7340032 bytes"},
		{name: "truncated json", contentType: j, body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"Admission`), status: 200, code: 400, message: "decode AdmissionReview: "},
		{name: "json array", contentType: j, body: []byte(`[1,2,3]`), status: 200, code: 400, message: "decode AdmissionReview: "},
		{name: "json null", contentType: j, body: []byte(`null`), status: 200, code: 400, message: "not an AdmissionReview"},
		{name: "json number", contentType: j, body: []byte(`42`), status: 200, code: 400, message: "decode AdmissionReview: "},
		{name: "json string", contentType: j, body: []byte(`"AdmissionReview"`), status: 200, code: 400, message: "decode AdmissionReview: "},
		{name: "deeply nested json", contentType: j, body: []byte(strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000)), status: 200, code: 400, message: "decode AdmissionReview: "},
		{name: "binary garbage", contentType: j, body: []byte{0xff, 0xfe, 0x00, 0x01, 0x80}, status: 200, code: 400, message: "decode AdmissionReview: "},
		{name: "unknown review version", contentType: j, body: []byte(`{"apiVersion":"admission.k8s.io/v2","kind":"AdmissionReview","request":{"uid":"u"}}`), status: 200, code: 400, message: "not an AdmissionReview"},
		{name: "review without request", contentType: j, body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), status: 200, code: 400, message: "no uid or operation"},
		{name: "v1beta1 review", contentType: j, body: bytes.Replace(podRequest("CREATE", podWith(`{}`, okRef, true)), []byte("admission.k8s.io/v1"), []byte("admission.k8s.io/v1beta1"), 1), status: 200, code: 200, allowed: true, patched: true, noMessage: true},
		// The request.
		{name: "create with reference", contentType: j, body: podRequest("CREATE", podWith(`{}`, okRef, true)), status: 200, code: 200, allowed: true, patched: true, noMessage: true},
		{name: "delete", contentType: j, body: podRequest("DELETE", `null`), status: 200, code: 200, allowed: true, message: "only pod creation is mutated"},
		{name: "update", contentType: j, body: podRequest("UPDATE", podWith(`{}`, okRef, true)), status: 200, code: 200, allowed: true, message: "only pod creation is mutated"},
		{name: "connect", contentType: j, body: podRequest("CONNECT", `{}`), status: 200, code: 200, allowed: true, message: "only pod creation is mutated"},
		{name: "deployment kind", contentType: j, body: review(`{"uid":"u","kind":{"group":"apps","version":"v1","kind":"Deployment"},"operation":"CREATE","object":{}}`), status: 200, code: 400, message: "only handles pods"},
		{name: "pod of another group", contentType: j, body: review(`{"uid":"u","kind":{"group":"example.com","version":"v1","kind":"Pod"},"operation":"CREATE","object":{}}`), status: 200, code: 400, message: "only handles pods"},
		{name: "status subresource", contentType: j, body: review(`{"uid":"u","kind":{"version":"v1","kind":"Pod"},"subResource":"status","operation":"CREATE","object":{}}`), status: 200, code: 400, message: "only handles pods"},
		{name: "object missing", contentType: j, body: review(`{"uid":"u","kind":{"version":"v1","kind":"Pod"},"namespace":"shop","operation":"CREATE"}`), status: 200, code: 400, message: "decode pod"},
		{name: "object null", contentType: j, body: podRequest("CREATE", `null`), status: 200, code: 400, message: "decode pod"},
		{name: "object empty", contentType: j, body: podRequest("CREATE", `{}`), status: 200, code: 200, allowed: true, message: "no-references"},
		{name: "object is a string", contentType: j, body: podRequest("CREATE", `"pod"`), status: 200, code: 400, message: "decode pod"},
		{name: "containers wrong type", contentType: j, body: podRequest("CREATE", `{"spec":{"containers":{"a":"vault:a/b#c"}}}`), status: 200, code: 400, message: "decode pod"},
		// Every pod is decoded, with references or not: the plan alone says whether there is
		// work (the apiserver has validated the types already, so only a forged request gets here).
		{name: "wrong type without references", contentType: j, body: podRequest("CREATE", `{"spec":{"containers":{"a":1}}}`), status: 200, code: 400, message: "decode pod"},
		{name: "env value wrong type", contentType: j, body: podRequest("CREATE", `{"spec":{"containers":[{"name":"c","env":[{"name":"X","value":7},{"name":"Y","value":"vault:a/b#c"}]}]}}`), status: 200, code: 400, message: "decode pod"},
		// Pods.
		{name: "10000 env vars without references", contentType: j, body: podRequest("CREATE", podWith(`{}`, manyEnv(10000, false), true)), status: 200, code: 200, allowed: true, message: "no-references"},
		{name: "10000 env vars, half references", contentType: j, body: podRequest("CREATE", podWith(`{}`, manyEnv(10000, true), true)), status: 200, code: 200, allowed: true, patched: true, noMessage: true},
		{name: "reference over the length limit", contentType: j, body: podRequest("CREATE", podWith(`{}`, refEnv("vault:secret/"+strings.Repeat("a", 20000)+"#k"), true)), status: 200, code: 403, message: "longer than"},
		{name: "reference without key", contentType: j, body: podRequest("CREATE", podWith(`{}`, refEnv("vault:secret/data/app"), true)), status: 200, code: 403, message: `env "X"`},
		{name: "reference with newline", contentType: j, body: podRequest("CREATE", podWith(`{}`, refEnv("vault:secret/data/app#k\nX=1"), true)), status: 200, code: 403, message: "whitespace"},
		{name: "reference with NUL", contentType: j, body: podRequest("CREATE", podWith(`{}`, refEnv("vault:secret/data/app#k\x00"), true)), status: 200, code: 403, message: `env "X"`},
		// JSON decoding turns a lone surrogate into U+FFFD, a valid letter of a path.
		{name: "reference with a lone surrogate", contentType: j, body: podRequest("CREATE", podWith(`{}`, `[{"name":"X","value":"vault:secret/\udcff#k"}]`, true)), status: 200, code: 200, allowed: true, patched: true, noMessage: true},
		{name: "reference but no command", contentType: j, body: podRequest("CREATE", podWith(`{}`, okRef, false)), status: 200, code: 403, message: "no command"},
		{name: "reserved env name", contentType: j, body: podRequest("CREATE", podWith(`{}`, `[{"name":"ENVEXEC_ROLE","value":"admin"},{"name":"X","value":"vault:a/b#c"}]`, true)), status: 200, code: 403, message: "reserved"},
		{name: "reserved volume name", contentType: j, body: podRequest("CREATE", `{"metadata":{"name":"p"},"spec":{"volumes":[{"name":"vault-injector-bin","emptyDir":{}}],"containers":[{"name":"c","command":["/a"],"env":`+okRef+`}]}}`), status: 200, code: 403, message: "reserved"},
		// Annotations are untrusted input.
		{name: "annotation with newline", contentType: j, body: podRequest("CREATE", podWith(annotation("vault-injector.io/role", "a\nb"), okRef, true)), status: 200, code: 403, message: "not a Vault role"},
		{name: "annotation with quotes", contentType: j, body: podRequest("CREATE", podWith(annotation("vault-injector.io/role", `a"b`), okRef, true)), status: 200, code: 403, message: "not a Vault role"},
		{name: "annotation with template syntax", contentType: j, body: podRequest("CREATE", podWith(annotation("vault-injector.io/log-level", "{{ .Values.x }}"), okRef, true)), status: 200, code: 403, message: "not a log level"},
		{name: "annotation with shell syntax", contentType: j, body: podRequest("CREATE", podWith(annotation("vault-injector.io/auth-path", "k8s; rm -rf /"), okRef, true)), status: 200, code: 403, message: "not a Vault mount path"},
		{name: "auth path traversal", contentType: j, body: podRequest("CREATE", podWith(annotation("vault-injector.io/auth-path", "../sys/raw"), okRef, true)), status: 200, code: 403, message: "auth-path"},
		{name: "vault addr to metadata service", contentType: j, body: podRequest("CREATE", podWith(annotation("vault-injector.io/vault-addr", "http://169.254.169.254"), okRef, true)), status: 200, code: 403, message: "allowed-vault-addrs"},
		{name: "vault addr to loopback", contentType: j, body: podRequest("CREATE", podWith(annotation("vault-injector.io/vault-addr", "http://127.0.0.1:8200"), okRef, true)), status: 200, code: 403, message: "allowed-vault-addrs"},
		{name: "vault addr with credentials", contentType: j, body: podRequest("CREATE", podWith(annotation("vault-injector.io/vault-addr", "https://u:p@vault:8200"), okRef, true)), status: 200, code: 403, message: "credentials"},
		{name: "vault addr not a url", contentType: j, body: podRequest("CREATE", podWith(annotation("vault-injector.io/vault-addr", "file:///etc/passwd"), okRef, true)), status: 200, code: 403, message: "http(s) URL"},
		{name: "timeout negative", contentType: j, body: podRequest("CREATE", podWith(annotation("vault-injector.io/timeout", "-5s"), okRef, true)), status: 200, code: 403, message: "timeout"},
		{name: "timeout huge", contentType: j, body: podRequest("CREATE", podWith(annotation("vault-injector.io/timeout", "87600h"), okRef, true)), status: 200, code: 403, message: "timeout"},
		{name: "unknown annotation", contentType: j, body: podRequest("CREATE", podWith(annotation("vault-injector.io/image", "evil/injector:1"), okRef, true)), status: 200, code: 403, message: "not known"},
		{name: "inject not a bool", contentType: j, body: podRequest("CREATE", podWith(annotation("vault-injector.io/inject", "no"), okRef, true)), status: 200, code: 403, message: "inject"},
		{name: "bank-vaults mutate other than skip", contentType: j, body: podRequest("CREATE", podWith(annotation("vault.security.banzaicloud.io/mutate", "maybe"), okRef, true)), status: 200, code: 403, message: "skip"},
		{name: "opt-out with malformed reference", contentType: j, body: podRequest("CREATE", podWith(annotation("vault-injector.io/inject", "false"), refEnv("vault:broken"), false)), status: 200, code: 200, allowed: true, message: "opted-out"},
		// Namespaces: pull secrets and service accounts are read in the request's namespace
		// only, so a pod may not claim another one, and a request must name one.
		{name: "request without namespace", contentType: j, body: podRequestIn("", "CREATE", podWith(`{}`, okRef, true)), status: 200, code: 403, message: "the admission request names no namespace"},
		{name: "pod claims another namespace", contentType: j, body: podRequest("CREATE", `{"metadata":{"name":"p","namespace":"kube-system"},"spec":{"containers":[{"name":"c","image":"i","command":["/a"],"env":`+okRef+`}]}}`), status: 200, code: 403, message: `the pod's metadata.namespace differs from the admission request's namespace: the pod says "kube-system", the request "shop"`},
		{name: "pod claims a huge namespace", contentType: j, body: podRequest("CREATE", `{"metadata":{"name":"p","namespace":"`+strings.Repeat("n", 100000)+`"},"spec":{"containers":[{"name":"c","image":"i","command":["/a"],"env":`+okRef+`}]}}`), status: 200, code: 403, message: "differs from the admission request's namespace", maxBody: 4 << 10},
		// Denials are bounded however many problems the pod has.
		{name: "10000 malformed references", contentType: j, body: podRequest("CREATE", podWith(`{}`, malformedEnv(10000), true)), status: 200, code: 403, message: "\nand 9995 more problems", maxBody: 16 << 10},
		{name: "10000 malformed image names", contentType: j, lookups: true, body: podRequest("CREATE", manyContainers(10000, func(i int) string { return fmt.Sprintf("Bad Image %d", i) })), status: 200, code: 403, message: "\nand 9995 more problems", maxBody: 16 << 10},
		// Registries the pod names are not the webhook's to reach: refused on the address,
		// before any request, whatever the name.
		{name: "image on loopback", contentType: j, lookups: true, body: podRequest("CREATE", imagePod(loopback+"/app:1")), status: 200, code: 403, message: "registry " + loopback + ": it (or a host it sent us to) " + notPublic},
		{name: "image on localhost", contentType: j, lookups: true, body: podRequest("CREATE", imagePod("localhost:"+reg.loopbackPort+"/app:1")), status: 200, code: 403, message: notPublic},
		{name: "image on a name resolving to loopback", contentType: j, lookups: true, body: podRequest("CREATE", imagePod("loop.test:"+reg.loopbackPort+"/app:1")), status: 200, code: 403, message: notPublic},
		{name: "image on the metadata service", contentType: j, lookups: true, body: podRequest("CREATE", imagePod("169.254.169.254/latest/meta-data:1")), status: 200, code: 403, message: "registry 169.254.169.254: it (or a host it sent us to) " + notPublic},
		{name: "image on a name resolving to a private address", contentType: j, lookups: true, body: podRequest("CREATE", imagePod("internal.test/app:1")), status: 200, code: 403, message: "registry internal.test: it (or a host it sent us to) " + notPublic},
		{name: "image on an IPv6 unique local address", contentType: j, lookups: true, body: podRequest("CREATE", imagePod("[fd00::1]:5000/app:1")), status: 200, code: 403, message: notPublic},
		{name: "image on a CGNAT address", contentType: j, lookups: true, body: podRequest("CREATE", imagePod("100.64.0.10/app:1")), status: 200, code: 403, message: notPublic},
		// A registry's answers are never repeated, only its host, its status and our words;
		// one that fails (5xx) is unavailable, not the pod's fault: an error, not a denial.
		{name: "registry error body", contentType: j, lookups: true, body: podRequest("CREATE", imagePod(reg.canaryHost+"/app:1")), status: 200, code: 500, message: "registry " + reg.canaryHost + " answered HTTP 500: the registry failed", absent: canaryBody},
	}
}

// TestHostileRequests sends each hostile request through controller-runtime's admission
// HTTP layer and our handler: each gets its defined response, and nothing panics.
func TestHostileRequests(t *testing.T) {
	t.Parallel()
	reg := startHostileRegistry(t)
	cases := hostileCases(reg)
	if len(cases) < 60 {
		t.Fatalf("only %d hostile cases", len(cases))
	}
	h, _ := newHandler(t)
	// A panic would answer 500 with its own message, which no case expects.
	hook := &webhook.ReviewServer{Handler: h, Log: logr.Discard()}
	lh, _ := newHandler(t)
	lh.Facts = &webhook.FactFinder{
		Images: registry.New(registry.Options{RootCAs: reg.roots, Resolver: reg.resolver, PrivateRegistries: []string{reg.canaryHost}}, nil),
		Budget: 5 * time.Second, DefaultPlatform: registrytest.AMD64,
	}
	// The lookups' logs, at the most verbose level, must not repeat a registry either.
	var logMu sync.Mutex
	var logs strings.Builder
	logger := funcr.New(func(prefix, args string) {
		logMu.Lock()
		defer logMu.Unlock()
		logs.WriteString(prefix + args + "\n")
	}, funcr.Options{Verbosity: 10})
	lookupHook := &webhook.ReviewServer{Handler: lh, Log: logger}
	t.Cleanup(func() {
		if n := reg.loopbackHits.Load(); n != 0 {
			t.Errorf("%d requests reached the loopback server", n)
		}
		logMu.Lock()
		defer logMu.Unlock()
		if !strings.Contains(logs.String(), `"msg"="denied pod"`) || !strings.Contains(logs.String(), "cannot read the image's entrypoint") {
			t.Error("no lookup was logged: the log check below checks nothing")
		}
		if strings.Contains(logs.String(), canaryBody) {
			t.Errorf("the log repeats a registry's answer:\n%s", logs.String())
		}
	})
	for _, tc := range cases {
		if (tc.message == "") == !tc.noMessage {
			t.Fatalf("%s: give the message to expect, or noMessage", tc.name)
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hook := hook
			if tc.lookups {
				hook = lookupHook
			}
			req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/mutate-pods", bytes.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			rec := httptest.NewRecorder()
			hook.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("HTTP status %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
			}
			var out struct {
				Response *struct {
					Allowed bool   `json:"allowed"`
					Patch   []byte `json:"patch"`
					Status  *struct {
						Code    int32  `json:"code"`
						Message string `json:"message"`
					} `json:"status"`
				} `json:"response"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
				t.Fatalf("response is not an AdmissionReview (%v): %.300s", err, rec.Body.String())
			}
			r := out.Response
			code, msg := int32(200), ""
			if r.Status != nil {
				code, msg = r.Status.Code, r.Status.Message
			}
			if r.Allowed != tc.allowed || code != tc.code {
				t.Fatalf("allowed=%v code=%d, want allowed=%v code=%d: %.300s", r.Allowed, code, tc.allowed, tc.code, msg)
			}
			if (len(r.Patch) > 0) != tc.patched {
				t.Errorf("patched=%v, want %v", len(r.Patch) > 0, tc.patched)
			}
			if !strings.Contains(msg, tc.message) || (tc.noMessage && msg != "") {
				t.Errorf("message %.300q lacks %q (or is not empty)", msg, tc.message)
			}
			if tc.absent != "" && strings.Contains(rec.Body.String(), tc.absent) {
				t.Errorf("response repeats %q: %.500s", tc.absent, rec.Body.String())
			}
			if tc.maxBody > 0 && rec.Body.Len() > tc.maxBody {
				t.Errorf("response is %d bytes, want at most %d", rec.Body.Len(), tc.maxBody)
			}
			if len(msg) > 64<<10 {
				t.Errorf("message is %d bytes: unbounded echo of the input", len(msg))
			}
		})
	}
}
