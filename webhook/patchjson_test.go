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
	"k8s.io/apimachinery/pkg/api/resource"
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
			injector.Change{Path: "/c/-", Value: &corev1.Container{
				Name: s, Image: s, Command: []string{s}, TerminationMessagePath: s, TerminationMessagePolicy: corev1.TerminationMessagePolicy(s),
				ImagePullPolicy: corev1.PullPolicy(s), VolumeMounts: []corev1.VolumeMount{{Name: s, MountPath: s}},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceName(s): resource.MustParse("1")}},
				SecurityContext: &corev1.SecurityContext{
					Capabilities:   &corev1.Capabilities{Add: []corev1.Capability{corev1.Capability(s)}, Drop: []corev1.Capability{corev1.Capability(s)}},
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileType(s), LocalhostProfile: &s},
				},
			}},
			injector.Change{Path: "/v/-", Value: &corev1.Volume{Name: s, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMedium(s)}}}},
			injector.Change{Path: "/v/-", Value: &corev1.Volume{Name: s, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: s, Path: s}}},
			}}}},
		)
	}
	// Every shape of the objects patchOf writes itself, and ones it must leave to
	// encoding/json.
	quantities := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceCPU: resource.MustParse("100m"), "example.com/gpu": resource.MustParse("1")}
	init := func(edit func(*corev1.Container)) *corev1.Container {
		c := &corev1.Container{
			Name: "init", Image: "img", Command: []string{"/e", "copy"},
			VolumeMounts: []corev1.VolumeMount{{Name: "a", MountPath: "/a"}, {Name: "b", MountPath: "/b", ReadOnly: true}},
			Resources:    corev1.ResourceRequirements{Limits: quantities, Requests: quantities},
			SecurityContext: &corev1.SecurityContext{
				RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](-1), RunAsGroup: ptr.To[int64](1 << 40),
				AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(false),
				Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		}
		edit(c)
		return c
	}
	volume := func(src corev1.VolumeSource) *corev1.Volume { return &corev1.Volume{Name: "v", VolumeSource: src} }
	token := func(t corev1.ServiceAccountTokenProjection) corev1.VolumeProjection {
		return corev1.VolumeProjection{ServiceAccountToken: &t}
	}
	for _, v := range []any{
		init(func(*corev1.Container) {}),
		init(func(c *corev1.Container) { c.Resources = corev1.ResourceRequirements{} }),
		init(func(c *corev1.Container) { c.Resources.Requests = nil }),
		init(func(c *corev1.Container) { c.Resources.Limits = corev1.ResourceList{} }),
		init(func(c *corev1.Container) {
			c.SecurityContext = nil
			c.Command = nil
			c.VolumeMounts = nil
			c.Image = ""
		}),
		init(func(c *corev1.Container) { c.SecurityContext = &corev1.SecurityContext{} }),
		init(func(c *corev1.Container) {
			c.SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{}}
		}),
		init(func(c *corev1.Container) {
			c.SecurityContext = &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{}, RunAsNonRoot: ptr.To(false)}
		}),
		init(func(c *corev1.Container) { c.SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"} }),
		init(func(c *corev1.Container) {
			c.SecurityContext.Capabilities = &corev1.Capabilities{Add: []corev1.Capability{"X"}}
		}),
		init(func(c *corev1.Container) { c.Args = []string{"a"} }),
		init(func(c *corev1.Container) { c.Env = []corev1.EnvVar{{Name: "a"}} }),
		init(func(c *corev1.Container) { c.Stdin = true }),
		init(func(c *corev1.Container) { c.SecurityContext.Privileged = ptr.To(false) }),
		init(func(c *corev1.Container) { c.Resources.Claims = []corev1.ResourceClaim{{Name: "c"}} }),
		init(func(c *corev1.Container) { c.VolumeMounts[1].MountPropagation = ptr.To(corev1.MountPropagationNone) }),
		(*corev1.Container)(nil),
		volume(corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}),
		volume(corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr.To(resource.MustParse("16Mi"))}}),
		volume(corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr.To(resource.MustParse("1.5Gi"))}}),
		volume(corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}, Secret: &corev1.SecretVolumeSource{}}),
		volume(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}),
		volume(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{}, DefaultMode: ptr.To[int32](0o444)}}),
		volume(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			token(corev1.ServiceAccountTokenProjection{Path: "t"}),
			token(corev1.ServiceAccountTokenProjection{Audience: "vault", ExpirationSeconds: ptr.To[int64](600), Path: "t2"}),
			token(corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](0)}),
		}}}),
		volume(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			token(corev1.ServiceAccountTokenProjection{Path: "t"}), {ConfigMap: &corev1.ConfigMapProjection{}},
		}}}),
		volume(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{}}}}),
		volume(corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}),
		volume(corev1.VolumeSource{}),
		(*corev1.Volume)(nil),
	} {
		changes = append(changes, injector.Change{Path: "/objects/-", Value: v})
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
	}{
		{corev1.EnvVar{}, 3},
		{corev1.VolumeMount{}, 7},
		{corev1.ObjectFieldSelector{}, 2},
		{corev1.Container{}, 25},
		{corev1.ResourceRequirements{}, 3},
		{corev1.SecurityContext{}, 12},
		{corev1.Capabilities{}, 2},
		{corev1.SeccompProfile{}, 2},
		{corev1.Volume{}, 2},
		{corev1.VolumeSource{}, 30},
		{corev1.EmptyDirVolumeSource{}, 2},
		{corev1.ProjectedVolumeSource{}, 2},
		{corev1.VolumeProjection{}, 6},
		{corev1.ServiceAccountTokenProjection{}, 3},
	} {
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

// TestPatchEscapesEveryByte holds appendString's table of bytes written as they are to
// encoding/json, one byte value at a time, in a string otherwise plain.
func TestPatchEscapesEveryByte(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		s := "a" + string([]byte{byte(c)}) + "z"
		changes := []injector.Change{{Path: "/p", Value: s}}
		got, err := patchOf(changes)
		if err != nil {
			t.Fatalf("byte %#x: %v", c, err)
		}
		if want := encodingJSON(t, changes); string(got) != string(want) {
			t.Errorf("byte %#x: patch is\n%s\nencoding/json writes\n%s", c, got, want)
		}
	}
}
