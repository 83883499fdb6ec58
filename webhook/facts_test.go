package webhook_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/injector"
	"github.com/vault-injector/vault-injector/internal/apiservertest"
	"github.com/vault-injector/vault-injector/internal/kube"
	"github.com/vault-injector/vault-injector/internal/registrytest"
	"github.com/vault-injector/vault-injector/registry"
	"github.com/vault-injector/vault-injector/webhook"
)

// startAPIServer starts a real kube-apiserver and etcd (envtest) for the test.
func startAPIServer(t *testing.T) testAPI {
	t.Helper()
	c, _ := startEnvtest(t)
	return c
}

// testAPI sets up fixtures with controller-runtime's client; the webhook under test gets
// its own client (webhookClient) to the same apiserver.
type testAPI struct {
	client.Client
	webhookClient *kube.Client
}

// startEnvtest starts envtest and returns an admin client and an admin kubeconfig.
func startEnvtest(t *testing.T) (testAPI, []byte) {
	t.Helper()
	env := apiservertest.Start(t)
	cfg := env.Config
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return testAPI{Client: c, webhookClient: apiservertest.Client(t, env)}, env.KubeConfig
}

// testResolver reaches the test registry reg, and fault proxies in front of it: it trusts
// the test CA and allows loopback, as a platform lists its in-cluster registries.
func testResolver(reg *registrytest.Registry) *registry.Resolver {
	return registry.New(registry.Options{RootCAs: reg.RootCAs(), PrivateRegistries: []string{"127.0.0.1"}}, nil)
}

// TestFactFinder looks up entrypoints in a real registry that demands basic auth, with pull
// secrets read from a real apiserver: the pod's own, its service account's and the default.
func TestFactFinder(t *testing.T) {
	kube := startAPIServer(t)
	reg := registrytest.Start(t, "robot", "pull-pass-canary")
	appImage := reg.Push(t, "shop/api:1", registrytest.Variant{Platform: registrytest.AMD64, Entrypoint: []string{"/api"}},
		registrytest.Variant{Platform: registrytest.ARM64, Entrypoint: []string{"/api-arm"}})
	ctx := t.Context()

	dockerCfg := `{"auths":{"` + reg.Host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("robot:pull-pass-canary")) + `"}}}`
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "infra"}},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "pod-pull"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(dockerCfg)},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "sa-pull"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(dockerCfg)},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "infra", Name: "default-pull"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(dockerCfg)},
		},
		&corev1.ServiceAccount{
			ObjectMeta:       metav1.ObjectMeta{Namespace: "shop", Name: "with-pull"},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "sa-pull"}},
		},
	} {
		if err := kube.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	pod := func(sa string, pullSecrets []string, nodeSelector map[string]string) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "api"},
			Spec: corev1.PodSpec{ServiceAccountName: sa, NodeSelector: nodeSelector, Containers: []corev1.Container{
				{Name: "api", Image: appImage, Env: []corev1.EnvVar{{Name: "P", Value: "vault:s/p#k"}}},
			}},
		}
		for _, s := range pullSecrets {
			p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
		}
		return p
	}
	finder := func(defaultSecret *types.NamespacedName, defaultFor ...string) *webhook.FactFinder {
		return &webhook.FactFinder{
			Images:                      testResolver(reg),
			Kube:                        kube.webhookClient,
			Budget:                      5 * time.Second,
			DefaultPlatform:             registrytest.AMD64,
			DefaultPullSecret:           defaultSecret,
			DefaultPullSecretRegistries: defaultFor,
		}
	}
	infraDefault := &types.NamespacedName{Namespace: "infra", Name: "default-pull"}
	const unauthorized = "answered HTTP 401: unauthorized: no credentials for it, or it refused them"
	cases := map[string]struct {
		finder     *webhook.FactFinder
		pod        *corev1.Pod
		entrypoint string
		warning    string
		err        string
	}{
		"pod pull secret":           {finder(nil), pod("", []string{"pod-pull"}, nil), "/api", "", ""},
		"service account secret":    {finder(nil), pod("with-pull", nil, nil), "/api", "", ""},
		"webhook default secret":    {finder(infraDefault, reg.Host), pod("", nil, nil), "/api", "", ""},
		"default secret, host only": {finder(infraDefault, "127.0.0.1"), pod("", nil, nil), "/api", "", ""},
		// The platform's secret goes to the registries listed for it, not to any a pod names.
		"default secret, registry not listed": {finder(infraDefault, "registry.corp"), pod("", nil, nil), "", "", unauthorized},
		"default secret, no registries":       {finder(infraDefault), pod("", nil, nil), "", "", unauthorized},
		"default secret, other port":          {finder(infraDefault, "127.0.0.1:1"), pod("", nil, nil), "", "", unauthorized},
		"node selector platform":              {finder(nil), pod("", []string{"pod-pull"}, map[string]string{"kubernetes.io/arch": "arm64"}), "/api-arm", "", ""},
		"missing secret warns":                {finder(nil), pod("", []string{"gone", "pod-pull"}, nil), "/api", "pull secret shop/gone not found", ""},
		// Not a path segment that would address another object; a direct review can send it.
		"secret name that is no name warns": {finder(nil), pod("..", []string{"..", "pod-pull"}, nil), "/api", `pull secret name ".." is not an object name`, ""},
		"no credentials":                    {finder(nil), pod("", nil, nil), "", "", unauthorized},
		"platform not in the index":         {finder(nil), pod("", []string{"pod-pull"}, map[string]string{"kubernetes.io/arch": "s390x"}), "", "", "no manifest for the platform"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			facts, warnings, err := tc.finder.Find(ctx, "shop", tc.pod, injector.NewPlan(tc.pod, lookupConfig(t)).Lookups)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), appImage) {
					t.Fatalf("err = %v, want one naming the image and %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "pull-pass-canary") {
					t.Fatalf("error leaks the registry password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := injector.Facts{Images: map[string]injector.ImageConfig{appImage: {Entrypoint: []string{tc.entrypoint}, Cmd: facts.Images[appImage].Cmd}}}
			if d := cmp.Diff(want, facts); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if tc.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], tc.warning)) {
				t.Errorf("warnings = %q, want %q", warnings, tc.warning)
			}
		})
	}
}

// lookupConfig is a pod's settings under the test webhook configuration.
func lookupConfig(t *testing.T) config.Pod {
	t.Helper()
	cfg, _, err := config.ParsePod(nil, "", testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestFactFinderBudget: a registry that does not answer makes the lookup fail within the
// request's budget with a message naming the image, instead of hanging the admission.
func TestFactFinderBudget(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, "", "")
	img := reg.Push(t, "slow:1", registrytest.Variant{Platform: registrytest.AMD64, Entrypoint: []string{"/slow"}})
	reg.Gate = make(chan struct{})
	defer close(reg.Gate)
	f := &webhook.FactFinder{
		Images: testResolver(reg),
		Budget: 300 * time.Millisecond, DefaultPlatform: registrytest.AMD64,
	}
	p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: img, Env: []corev1.EnvVar{{Name: "P", Value: "vault:s/p#k"}}}}}}
	_, _, err := f.Find(t.Context(), "shop", p, injector.NewPlan(p, lookupConfig(t)).Lookups)
	if err == nil || !strings.Contains(err.Error(), img) || !strings.Contains(err.Error(), "longer than 300ms") {
		t.Fatalf("err = %v, want a budget error naming the image", err)
	}
}

// TestFactFinderSharesFetchesByNamespace: the registry's fetches in flight are shared per
// namespace, so one whose pods name a stalling registry cannot fail another's lookups.
func TestFactFinderSharesFetchesByNamespace(t *testing.T) {
	t.Parallel()
	slowReg := registrytest.Start(t, "", "")
	slow1 := slowReg.Push(t, "slow:1", registrytest.Variant{Platform: registrytest.AMD64, Entrypoint: []string{"/slow"}})
	slow2 := slowReg.Push(t, "slow:2", registrytest.Variant{Platform: registrytest.AMD64, Entrypoint: []string{"/slow"}})
	slowReg.Gate = make(chan struct{})
	defer close(slowReg.Gate)
	fastReg := registrytest.Start(t, "", "")
	fast := fastReg.Push(t, "fast:1", registrytest.Variant{Platform: registrytest.AMD64, Entrypoint: []string{"/fast"}})
	f := &webhook.FactFinder{
		Images: registry.New(registry.Options{
			RootCAs: slowReg.RootCAs(), PrivateRegistries: []string{"127.0.0.1"}, MaxFetches: 2, MaxFetchesPerTenant: 1,
		}, nil),
		Budget: 300 * time.Millisecond, DefaultPlatform: registrytest.AMD64,
	}
	find := func(namespace, image string) (injector.Facts, error) {
		p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image, Env: []corev1.EnvVar{{Name: "P", Value: "vault:s/p#k"}}}}}}
		facts, _, err := f.Find(t.Context(), namespace, p, injector.NewPlan(p, lookupConfig(t)).Lookups)
		return facts, err
	}
	if _, err := find("hostile", slow1); err == nil || !strings.Contains(err.Error(), "longer than 300ms") {
		t.Fatalf("stalled registry: err = %v, want the budget's error", err)
	}
	if _, err := find("hostile", slow2); err == nil || !strings.Contains(err.Error(), "this namespace already has 1 registry fetches in flight") {
		t.Fatalf("the same namespace again: err = %v, want its share refused", err)
	}
	facts, err := find("shop", fast)
	if err != nil || facts.Images[fast].Entrypoint[0] != "/fast" {
		t.Fatalf("another namespace while the first holds its share: %v, %v", facts, err)
	}
}

// TestHandleImageLookup: a pod without a command is wrapped with its image's entrypoint, and
// a pod whose image cannot be read is denied with the image named.
func TestHandleImageLookup(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t, "", "")
	img := reg.Push(t, "app:1", registrytest.Variant{Platform: registrytest.AMD64, Entrypoint: []string{"/app", "serve"}})
	h, _ := newHandler(t)
	h.Facts = &webhook.FactFinder{
		Images: testResolver(reg),
		Budget: 5 * time.Second, DefaultPlatform: registrytest.AMD64,
	}
	raw := func(image string) []byte {
		return []byte(`{"metadata":{"name":"api"},"spec":{"containers":[{"name":"api","image":"` + image +
			`","env":[{"name":"P","value":"vault:secret/data/p#k"}]}]}}`)
	}
	resp := h.Handle(t.Context(), request("CREATE", raw(img)))
	if !resp.Allowed || len(resp.Patch) == 0 {
		t.Fatalf("allowed=%v patch=%s: %v", resp.Allowed, resp.Patch, resp.Result)
	}
	var ops []struct {
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	if err := json.Unmarshal(resp.Patch, &ops); err != nil {
		t.Fatal(err)
	}
	var command []any
	for _, p := range ops {
		if p.Path == "/spec/containers/0/command" {
			command, _ = p.Value.([]any)
		}
	}
	if d := cmp.Diff([]any{injector.EnvexecInPod, "--", "/app", "serve"}, command); d != "" {
		t.Errorf("command (-want +got):\n%s", d)
	}

	missing := reg.Host + "/nope:1"
	resp = h.Handle(t.Context(), request("CREATE", raw(missing)))
	if resp.Allowed || resp.Result.Code != 403 || !strings.Contains(resp.Result.Message, missing) ||
		!strings.Contains(resp.Result.Message, `pod "shop/api": container "api"`) {
		t.Fatalf("missing image: allowed=%v %v", resp.Allowed, resp.Result)
	}
}

// recordingReader passes reads to the real apiserver and records what was read.
type recordingReader struct {
	kube.Reader
	mu    sync.Mutex
	reads []string
}

func (r *recordingReader) Get(ctx context.Context, key types.NamespacedName, obj kube.Object) error {
	r.mu.Lock()
	r.reads = append(r.reads, fmt.Sprintf("%T %s", obj, key))
	r.mu.Unlock()
	return r.Reader.Get(ctx, key, obj)
}

func (r *recordingReader) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reads
	r.reads = nil
	return out
}

// TestHandleReadsOnlyRequestNamespace sends reviews as a pod could forge them, to a handler
// reading a real apiserver: pull secrets and service accounts are read in the request's
// namespace only, a pod claiming another namespace (or a request naming none) is denied
// before anything is read, and Secrets and ConfigMaps that containers take variables from
// are never read.
func TestHandleReadsOnlyRequestNamespace(t *testing.T) {
	kube := startAPIServer(t)
	reg := registrytest.Start(t, "robot", "bank-pass-canary")
	image := reg.Push(t, "bank/api:1", registrytest.Variant{Platform: registrytest.AMD64, Entrypoint: []string{"/bank-api"}})
	ctx := t.Context()
	dockerCfg := `{"auths":{"` + reg.Host + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("robot:bank-pass-canary")) + `"}}}`
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bank"}},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "bank", Name: "bank-pull"}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(dockerCfg)},
		},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}, Data: map[string][]byte{"P": []byte("vault:secret/data/db#p")}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "refs"}, Data: map[string]string{"T": "vault:secret/data/t#t"}},
	} {
		if err := kube.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	reads := &recordingReader{Reader: kube.webhookClient}
	h, _ := newHandler(t)
	h.Facts = &webhook.FactFinder{Images: testResolver(reg), Kube: reads, Budget: 5 * time.Second, DefaultPlatform: registrytest.AMD64}
	pod := func(namespace string) []byte {
		meta := `"name":"api"`
		if namespace != "" {
			meta += `,"namespace":"` + namespace + `"`
		}
		return []byte(`{"metadata":{` + meta + `},"spec":{"imagePullSecrets":[{"name":"bank-pull"}],"containers":[{"name":"api","image":"` + image + `",` +
			`"env":[{"name":"P","value":"vault:secret/data/p#k"},{"name":"T","valueFrom":{"configMapKeyRef":{"name":"refs","key":"T"}}}],` +
			`"envFrom":[{"secretRef":{"name":"db"}}]}]}}`)
	}
	in := func(namespace string, raw []byte) webhook.Request {
		r := request("CREATE", raw)
		r.Namespace = namespace
		return r
	}
	cases := []struct {
		name    string
		req     webhook.Request
		allowed bool
		message string
		reads   []string
	}{
		{
			name: "pod claims the namespace holding the pull secret", req: in("shop", pod("bank")),
			message: `the pod's metadata.namespace differs from the admission request's namespace: the pod says "bank", the request "shop"`,
		},
		{name: "request without a namespace", req: in("", pod("bank")), message: "the admission request names no namespace"},
		{
			name: "pull secret named from another namespace", req: in("shop", pod("")),
			message: "registry " + reg.Host + " answered HTTP 401",
			reads:   []string{"*v1.ServiceAccount shop/default", "*v1.Secret shop/bank-pull"},
		},
		{
			name: "the namespace that holds it", req: in("bank", pod("bank")), allowed: true,
			reads: []string{"*v1.ServiceAccount bank/default", "*v1.Secret bank/bank-pull"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.Handle(ctx, tc.req)
			if resp.Allowed != tc.allowed || !strings.Contains(resp.Result.Message, tc.message) {
				t.Fatalf("allowed=%v %q, want allowed=%v and %q", resp.Allowed, resp.Result.Message, tc.allowed, tc.message)
			}
			if !tc.allowed && (strings.Contains(resp.Result.Message, "/bank-api") || strings.Contains(string(resp.Patch), "/bank-api")) {
				t.Errorf("the private image's entrypoint reached another namespace: %s %s", resp.Result.Message, resp.Patch)
			}
			if tc.allowed && !strings.Contains(string(resp.Patch), "/bank-api") {
				t.Errorf("patch %s lacks the image's entrypoint", resp.Patch)
			}
			if d := cmp.Diff(tc.reads, reads.take()); d != "" {
				t.Errorf("apiserver reads (-want +got):\n%s", d)
			}
		})
	}
}
