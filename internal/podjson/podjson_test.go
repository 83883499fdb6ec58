package podjson_test

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/internal/podjson"
	"github.com/vault-injector/vault-injector/internal/podtest"
)

// lenient are the options the webhook decodes with.
var lenient = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// both decodes doc with json/v2's reflection and with podjson.
func both(doc []byte, opts ...jsonv2.Options) (want, got corev1.Pod, wantErr, gotErr error) {
	opts = append([]jsonv2.Options{lenient}, opts...)
	wantErr = jsonv2.Unmarshal(doc, &want, opts...)
	gotErr = jsonv2.Unmarshal(doc, podjson.Into(&got), opts...)
	return want, got, wantErr, gotErr
}

// agree fails t unless podjson read doc as json/v2 does: both refuse it, or both take it
// with deeply equal results.
func agree(t *testing.T, name string, doc []byte) {
	t.Helper()
	want, got, wantErr, gotErr := both(doc)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%s: json/v2 error %v, podjson error %v\n%s", name, wantErr, gotErr, doc)
	}
	if wantErr != nil {
		return
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%s: decoders disagree (-json/v2 +podjson):\n%s\n%s", name, cmp.Diff(want, got), doc)
	}
}

// pods are the golden pods, the benchmark shapes and random pods with every field set,
// as JSON; the large shape outgrows the recycled scratch space.
func pods(t testing.TB) map[string][]byte {
	docs, err := podtest.Corpus("../../injector/testdata/*/*pod.yaml", 400)
	if err != nil || len(docs) < 450 {
		t.Fatalf("corpus of %d pods: %v", len(docs), err)
	}
	return docs
}

func marshal(t testing.TB, v any) []byte {
	b, err := jsonv2.Marshal(v, jsonv1.DefaultOptionsV1())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeMatchesJSONv2 reads every pod of the corpus with both decoders.
func TestDecodeMatchesJSONv2(t *testing.T) {
	t.Parallel()
	for name, doc := range pods(t) {
		agree(t, name, doc)
	}
}

// TestDecodeConcurrently reads different pods at once: the recycled scratch space must
// never carry one pod's values into another (run with -race).
func TestDecodeConcurrently(t *testing.T) {
	t.Parallel()
	docs := pods(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			n := 0
			for name, doc := range docs {
				if n++; n%4 != w {
					continue
				}
				agree(t, name, doc)
			}
		})
	}
	wg.Wait()
}

// FuzzDecodeMatchesJSONv2 checks that for any input both decoders agree: both refuse it,
// or both read the same pod.
func FuzzDecodeMatchesJSONv2(f *testing.F) {
	for _, doc := range edgeCases {
		f.Add([]byte(doc))
	}
	n := 0
	for _, doc := range pods(f) {
		if n++; n > 60 {
			break
		}
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		agree(t, "fuzzed", doc)
	})
}

// edgeCases are what a review sent straight to the webhook's port may hold: every member
// read by hand given null, a wrong kind, escapes, duplicates and invalid UTF-8, and the
// same for the members it leaves to json/v2.
var edgeCases = map[string]string{
	"null pod":                    `null`,
	"empty pod":                   `{}`,
	"pod is a string":             `"pod"`,
	"pod is an array":             `[]`,
	"kind null":                   `{"kind":null,"apiVersion":"v1"}`,
	"kind number":                 `{"kind":1}`,
	"metadata null":               `{"metadata":{"name":"a"},"metadata":null}`,
	"metadata merged":             `{"metadata":{"name":"a"},"metadata":{"namespace":"b"}}`,
	"metadata array":              `{"metadata":[]}`,
	"labels null":                 `{"metadata":{"labels":null}}`,
	"labels empty":                `{"metadata":{"labels":{}}}`,
	"labels merged":               `{"metadata":{"labels":{"a":"1"},"labels":{"b":"2","a":"3"}}}`,
	"label value null":            `{"metadata":{"labels":{"a":null}}}`,
	"label value number":          `{"metadata":{"labels":{"a":1}}}`,
	"label escaped":               `{"metadata":{"labels":{"\u0061\n":"\"x\\y\u00e9\ud83d\ude00"}}}`,
	"annotations":                 `{"metadata":{"annotations":{"vault-injector.io/x":"y"}}}`,
	"escaped member name":         `{"\u006bind":"Pod","metadata":{"n\u0061me":"a"}}`,
	"unknown members":             `{"x":{"y":[1,{"z":null}]},"metadata":{"q":1},"spec":{"containers":[{"zz":[],"name":"a"}]}}`,
	"wrong case name":             `{"Metadata":{"name":"a"},"metadata":{"Name":"b"}}`,
	"other meta members":          `{"metadata":{"ownerReferences":[{"name":"x","uid":"u"}],"creationTimestamp":"2026-01-01T00:00:00Z","finalizers":["f"]}}`,
	"bad time":                    `{"metadata":{"creationTimestamp":"yesterday"}}`,
	"spec null":                   `{"spec":null}`,
	"containers null":             `{"spec":{"containers":null}}`,
	"containers empty":            `{"spec":{"containers":[]}}`,
	"containers object":           `{"spec":{"containers":{}}}`,
	"containers twice":            `{"spec":{"containers":[{"name":"a"},{"name":"b"}],"containers":[{"image":"c"}]}}`,
	"container null":              `{"spec":{"containers":[null,{"name":"a"}]}}`,
	"container string":            `{"spec":{"containers":["a"]}}`,
	"container members twice":     `{"spec":{"containers":[{"name":"a","env":[{"name":"x"}],"name":"b","env":[{"name":"y"}]}]}}`,
	"command null":                `{"spec":{"containers":[{"command":null,"args":[]}]}}`,
	"command wrong element":       `{"spec":{"containers":[{"command":["a",1]}]}}`,
	"command null element":        `{"spec":{"containers":[{"command":["a",null,"b"]}]}}`,
	"command string":              `{"spec":{"containers":[{"command":"a"}]}}`,
	"image number":                `{"spec":{"containers":[{"image":3}]}}`,
	"env null":                    `{"spec":{"initContainers":[{"env":null}]}}`,
	"env element null":            `{"spec":{"containers":[{"env":[null,{"name":"a","value":null}]}]}}`,
	"env value object":            `{"spec":{"containers":[{"env":[{"name":"a","value":{}}]}]}}`,
	"env valueFrom":               `{"spec":{"containers":[{"env":[{"name":"a","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}]}]}}`,
	"env valueFrom bad":           `{"spec":{"containers":[{"env":[{"name":"a","valueFrom":{"secretKeyRef":"s"}}]}]}}`,
	"env escaped secret":          `{"spec":{"containers":[{"env":[{"name":"a","value":"vault:secret/data/a#\u0062"}]}]}}`,
	"mounts":                      `{"spec":{"containers":[{"volumeMounts":[{"name":"v","readOnly":true,"mountPath":"/a","subPath":"b","mountPropagation":"None","recursiveReadOnly":"Enabled","subPathExpr":"c"}]}]}}`,
	"mount readOnly null":         `{"spec":{"containers":[{"volumeMounts":[{"readOnly":null}]}]}}`,
	"mount readOnly string":       `{"spec":{"containers":[{"volumeMounts":[{"readOnly":"true"}]}]}}`,
	"volumes":                     `{"spec":{"volumes":[{"name":"a","emptyDir":{"medium":"Memory","sizeLimit":"1Mi"}},{"name":"b","image":{"reference":"r"}}]}}`,
	"volume null":                 `{"spec":{"volumes":[null]}}`,
	"projected token":             `{"spec":{"volumes":[{"name":"t","projected":{"sources":[{"serviceAccountToken":{"audience":"a","expirationSeconds":3607,"path":"token"}},{"configMap":{"name":"c","items":[{"key":"ca.crt","path":"ca.crt","mode":256}],"optional":true}},{"downwardAPI":{"items":[{"path":"ns","fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"},"mode":292},{"path":"cpu","resourceFieldRef":{"resource":"limits.cpu","divisor":"1m"}}]}},{"secret":{"name":"s","items":null,"optional":false}},{"clusterTrustBundle":{"path":"b"}}],"defaultMode":420}}]}}`,
	"projected null":              `{"spec":{"volumes":[{"projected":null},{"projected":{"sources":null,"defaultMode":null}}]}}`,
	"projected wrong kinds":       `{"spec":{"volumes":[{"projected":{"sources":{}}}]}}`,
	"projected mode fraction":     `{"spec":{"volumes":[{"projected":{"defaultMode":4.2e2}}]}}`,
	"projected mode huge":         `{"spec":{"volumes":[{"projected":{"defaultMode":4294967296}}]}}`,
	"projected source null":       `{"spec":{"volumes":[{"projected":{"sources":[null,{"serviceAccountToken":null,"configMap":null,"secret":null,"downwardAPI":null}]}}]}}`,
	"projected source merged":     `{"spec":{"volumes":[{"projected":{"sources":[{"serviceAccountToken":{"path":"a"},"serviceAccountToken":{"audience":"b"}}]}}]}}`,
	"token seconds string":        `{"spec":{"volumes":[{"projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":"3600"}}]}}]}}`,
	"token path escaped":          `{"spec":{"volumes":[{"projected":{"sources":[{"serviceAccountToken":{"path":"t\u006fken\n"}}]}}]}}`,
	"key mode string":             `{"spec":{"volumes":[{"configMap":{"items":[{"key":"k","mode":"0644"}]}}]}}`,
	"key item null":               `{"spec":{"volumes":[{"secret":{"items":[null,{"key":null,"path":1}]}}]}}`,
	"field selector wrong":        `{"spec":{"volumes":[{"projected":{"sources":[{"downwardAPI":{"items":[{"fieldRef":"metadata.name"}]}}]}}]}}`,
	"downward items null":         `{"spec":{"volumes":[{"projected":{"sources":[{"downwardAPI":{"items":null}},{"downwardAPI":{"items":[null]}}]}}]}}`,
	"config map volume":           `{"spec":{"volumes":[{"name":"c","configMap":{"name":"cm","items":[{"key":"a","path":"b"}],"defaultMode":511,"optional":true}}]}}`,
	"secret volume":               `{"spec":{"volumes":[{"name":"s","secret":{"secretName":"sec","defaultMode":256,"optional":null,"items":[]}}]}}`,
	"optional string":             `{"spec":{"volumes":[{"secret":{"optional":"true"}}]}}`,
	"empty dir":                   `{"spec":{"volumes":[{"emptyDir":{}},{"emptyDir":{"medium":"Memory","sizeLimit":"64Mi"}},{"emptyDir":{"sizeLimit":null}},{"emptyDir":null}]}}`,
	"empty dir size number":       `{"spec":{"volumes":[{"emptyDir":{"sizeLimit":1024}}]}}`,
	"empty dir size bad":          `{"spec":{"volumes":[{"emptyDir":{"sizeLimit":"big"}}]}}`,
	"empty dir size twice":        `{"spec":{"volumes":[{"emptyDir":{"sizeLimit":"1Mi","sizeLimit":"2Mi"}}]}}`,
	"security contexts":           `{"spec":{"securityContext":{"runAsUser":1000,"runAsNonRoot":true,"fsGroup":2000,"seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"readOnlyRootFilesystem":true}}]}}`,
	"security contexts empty":     `{"spec":{"securityContext":{},"containers":[{"securityContext":{}}]}}`,
	"security contexts null":      `{"spec":{"securityContext":null,"containers":[{"securityContext":null}]}}`,
	"security context merged":     `{"spec":{"securityContext":{"runAsUser":1},"securityContext":{"fsGroup":2},"containers":[{"securityContext":{"privileged":true},"securityContext":{"runAsUser":3}}]}}`,
	"security context wrong kind": `{"spec":{"securityContext":[],"containers":[{"securityContext":"privileged"}]}}`,
	"security context bad member": `{"spec":{"securityContext":{"runAsUser":"root"}}}`,
	"status empty":                `{"status":{}}`,
	"status null":                 `{"status":{"phase":"Pending"},"status":null}`,
	"status array":                `{"status":[]}`,
	"status bad member":           `{"status":{"startTime":"soon"}}`,
	"volume two sources":          `{"spec":{"volumes":[{"name":"a","emptyDir":{},"secret":{"secretName":"s"}}]}}`,
	"service account":             `{"spec":{"serviceAccountName":"sa","serviceAccount":"old"}}`,
	"service account null":        `{"spec":{"serviceAccountName":null}}`,
	"resources":                   `{"spec":{"containers":[{"resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]}}`,
	"bad quantity":                `{"spec":{"containers":[{"resources":{"limits":{"cpu":"lots"}}}]}}`,
	"ephemeral":                   `{"spec":{"ephemeralContainers":[{"name":"d","image":"busybox","targetContainerName":"a","env":[{"name":"x","value":"y"}]}]}}`,
	"ports":                       `{"spec":{"containers":[{"ports":[{"name":"http","containerPort":8080,"protocol":"TCP","hostPort":1,"hostIP":"::1"},{"containerPort":0}]}]}}`,
	"port fraction":               `{"spec":{"containers":[{"ports":[{"containerPort":1.0}]}]}}`,
	"port exponent":               `{"spec":{"containers":[{"ports":[{"containerPort":1e2}]}]}}`,
	"port negative zero":          `{"spec":{"containers":[{"ports":[{"containerPort":-0}]}]}}`,
	"port out of range":           `{"spec":{"containers":[{"ports":[{"containerPort":99999999999}]}]}}`,
	"port string":                 `{"spec":{"containers":[{"ports":[{"containerPort":"80"}]}]}}`,
	"port null":                   `{"spec":{"containers":[{"ports":[{"containerPort":null}]}]}}`,
	"probe":                       `{"spec":{"containers":[{"livenessProbe":{"httpGet":{"path":"/h","port":"http","scheme":"HTTP","host":"h","httpHeaders":[{"name":"a","value":"b"}]},"periodSeconds":3,"terminationGracePeriodSeconds":4},"readinessProbe":{"tcpSocket":{"port":80},"exec":{"command":["a"]}},"startupProbe":null}]}}`,
	"probe port forms":            `{"spec":{"containers":[{"livenessProbe":{"httpGet":{"port":8080}},"readinessProbe":{"httpGet":{"port":1.5}},"startupProbe":{"httpGet":{"port":null}}}]}}`,
	"probe port bool":             `{"spec":{"containers":[{"livenessProbe":{"httpGet":{"port":true}}}]}}`,
	"probe port huge":             `{"spec":{"containers":[{"livenessProbe":{"httpGet":{"port":4294967296}}}]}}`,
	"probe port escaped":          `{"spec":{"containers":[{"livenessProbe":{"httpGet":{"port":"h\u0074tp"}}}]}}`,
	"probe twice":                 `{"spec":{"containers":[{"livenessProbe":{"periodSeconds":3},"livenessProbe":{"timeoutSeconds":4}}]}}`,
	"probe threshold string":      `{"spec":{"containers":[{"livenessProbe":{"failureThreshold":"3"}}]}}`,
	"quantity null":               `{"spec":{"containers":[{"resources":{"limits":{"cpu":null},"requests":null}}]}}`,
	"quantity number":             `{"spec":{"containers":[{"resources":{"limits":{"cpu":1,"memory":1.5e9}}}]}}`,
	"quantity escaped":            `{"spec":{"containers":[{"resources":{"limits":{"cpu":"1\u0030"}}}]}}`,
	"quantity object":             `{"spec":{"containers":[{"resources":{"limits":{"cpu":{}}}}]}}`,
	"port twice, int then string": `{"spec":{"containers":[{"livenessProbe":{"httpGet":{"port":8080,"port":"http"}}}]}}`,
	"port twice, string then int": `{"spec":{"containers":[{"livenessProbe":{"httpGet":{"port":"http","port":8080}}}]}}`,
	"probe merged over its port":  `{"spec":{"containers":[{"livenessProbe":{"httpGet":{"port":"http"}},"livenessProbe":{"httpGet":{"port":80}}}]}}`,
	"quantity then null":          `{"spec":{"containers":[{"resources":{"limits":{"cpu":"100m","cpu":null}}}]}}`,
	"quantities merged then null": `{"spec":{"containers":[{"resources":{"limits":{"cpu":"1"},"limits":{"cpu":null}}}]}}`,
	"quantities twice":            `{"spec":{"containers":[{"resources":{"limits":{"cpu":"1","cpu":"2"},"limits":{"memory":"1Mi"}}}]}}`,
	"resources claims":            `{"spec":{"containers":[{"resources":{"claims":[{"name":"gpu"}]}}]}}`,
	"tolerations":                 `{"spec":{"tolerations":[{"key":"k","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},{"tolerationSeconds":null},{"value":"v"}]}}`,
	"toleration seconds string":   `{"spec":{"tolerations":[{"tolerationSeconds":"300"}]}}`,
	"spec scalars":                `{"spec":{"terminationGracePeriodSeconds":30,"priority":-5,"enableServiceLinks":false,"preemptionPolicy":"Never","restartPolicy":"Always","dnsPolicy":"ClusterFirst","schedulerName":"s","nodeName":"n","serviceAccount":"x"}}`,
	"spec scalars null":           `{"spec":{"terminationGracePeriodSeconds":null,"priority":null,"enableServiceLinks":null,"preemptionPolicy":null}}`,
	"spec priority overflow":      `{"spec":{"priority":2147483648}}`,
	"spec links string":           `{"spec":{"enableServiceLinks":"true"}}`,
	"owners":                      `{"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"r","uid":"u","controller":true,"blockOwnerDeletion":null},{}]}}`,
	"owners null":                 `{"metadata":{"ownerReferences":null}}`,
	"owner controller string":     `{"metadata":{"ownerReferences":[{"controller":"yes"}]}}`,
	"status":                      `{"status":{"phase":"Running","containerStatuses":[{"name":"a"}]}}`,
	"invalid UTF-8":               "{\"metadata\":{\"name\":\"\xff\xfe\",\"labels\":{\"\xc3\":\"\xe2\x82\"}}}",
	"valid UTF-8":                 `{"metadata":{"name":"été ✓"}}`,
	"lone surrogate":              `{"metadata":{"name":"\udcff"}}`,
	"truncated":                   `{"spec":{"containers":[{"name":"a"`,
	"truncated in env":            `{"spec":{"containers":[{"env":[{"name":"a","value":"b`,
	"trailing junk":               `{"metadata":{}}x`,
	"bad literal":                 `{"spec":{"containers":[{"volumeMounts":[{"readOnly":tru}]}]}}`,
	"missing comma":               `{"spec":{"containers":[{"name":"a" "image":"b"}]}}`,
	"deep unknown":                `{"x":` + deep(200) + `}`,
	"container at depth limits":   `{"spec":{"containers":[{"args":[` + repeat(`"a",`, 300) + `"z"]}]}}`,
}

// TestDecodeEdgeCases reads each edge case with both decoders.
func TestDecodeEdgeCases(t *testing.T) {
	t.Parallel()
	for name, doc := range edgeCases {
		agree(t, name, []byte(doc))
	}
	// Options that change how members match are followed (by handing the pod to json/v2).
	for _, opt := range []jsonv2.Options{jsonv2.MatchCaseInsensitiveNames(true), jsonv2.RejectUnknownMembers(true)} {
		for _, doc := range []string{`{"metadata":{"Name":"x"},"Spec":{"containers":[{"NAME":"c"}]}}`, `{"metadata":{"name":"x","unknown":1}}`} {
			want, got, wantErr, gotErr := both([]byte(doc), opt)
			if (wantErr == nil) != (gotErr == nil) || !reflect.DeepEqual(want, got) {
				t.Errorf("%s under %v: json/v2 %q %v, podjson %q %v", doc, opt, want.Name, wantErr, got.Name, gotErr)
			}
		}
	}
	// Without the lenient options, both refuse what json/v2 refuses.
	for _, doc := range []string{`{"metadata":{"name":"a","name":"b"}}`, "{\"metadata\":{\"name\":\"\xff\"}}"} {
		want, got, wantErr, gotErr := both([]byte(doc), jsontext.AllowDuplicateNames(false), jsontext.AllowInvalidUTF8(false))
		if wantErr == nil || gotErr == nil {
			t.Errorf("%s: strict options: json/v2 error %v, podjson error %v (%q, %q)", doc, wantErr, gotErr, want.Name, got.Name)
		}
	}
}

func deep(n int) string { return repeat("[", n) + repeat("]", n) }

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

func BenchmarkDecode(b *testing.B) {
	for _, shape := range []struct {
		name string
		pod  *corev1.Pod
	}{{"typical", podtest.Typical()}, {"large", podtest.Large()}} {
		doc := marshal(b, shape.pod)
		b.Run(shape.name+"/json-v2", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				var pod corev1.Pod
				if err := jsonv2.Unmarshal(doc, &pod, lenient); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(shape.name+"/podjson", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				var pod corev1.Pod
				if err := jsonv2.Unmarshal(doc, podjson.Into(&pod), lenient); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(shape.name+"/podjson-for-admission", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				var pod corev1.Pod
				if err := jsonv2.Unmarshal(doc, (*admissionInto)(&pod), lenient); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// forAdmission decodes doc with DecodeForAdmission under the webhook's options.
func forAdmission(doc []byte) (corev1.Pod, error) {
	var pod corev1.Pod
	err := jsonv2.Unmarshal(doc, (*admissionInto)(&pod), lenient)
	return pod, err
}

type admissionInto corev1.Pod

func (p *admissionInto) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	return podjson.DecodeForAdmission(dec, (*corev1.Pod)(p), readsVolume, envRoom)
}

// envRoom is the spare capacity the tests ask DecodeForAdmission for in each env.
const envRoom = 5

// TestDecodeForAdmissionBoundsEnvRoom: a review listing many containers, each with an
// empty env, gets room in the first RoomedEnvs envs only, so it cannot make the decoder
// allocate 640 bytes of room per container it lists.
func TestDecodeForAdmissionBoundsEnvRoom(t *testing.T) {
	t.Parallel()
	n := podjson.RoomedEnvs + 50
	doc := []byte(`{"spec":{"containers":[` + strings.Repeat(`{"env":[]},`, n-1) + `{"env":[]}]}}`)
	pod, err := forAdmission(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(pod.Spec.Containers) != n {
		t.Fatalf("decoded %d containers, want %d", len(pod.Spec.Containers), n)
	}
	roomed := 0
	for _, c := range pod.Spec.Containers {
		if c.Env == nil || len(c.Env) != 0 {
			t.Fatalf("env %v, want empty and not nil", c.Env)
		}
		if cap(c.Env) > 0 {
			roomed++
		}
	}
	if roomed != podjson.RoomedEnvs {
		t.Errorf("%d envs got room, want %d", roomed, podjson.RoomedEnvs)
	}
}

// TestDecodeForAdmissionLeavesEnvRoom: every container's env, init or not, has room for
// envRoom more variables past the ones read, so the injector appends in place; the
// variables read are the pod's, in order.
func TestDecodeForAdmissionLeavesEnvRoom(t *testing.T) {
	t.Parallel()
	doc := []byte(`{"spec":{
		"initContainers":[{"name":"i","env":[{"name":"A","value":"1"}]}],
		"containers":[{"name":"c","env":[{"name":"B","value":"2"},{"name":"C","value":"3"}]},{"name":"d","env":[]},{"name":"e"}]}}`)
	pod, err := forAdmission(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env  []corev1.EnvVar
		want []string
	}{
		{pod.Spec.InitContainers[0].Env, []string{"A"}},
		{pod.Spec.Containers[0].Env, []string{"B", "C"}},
		{pod.Spec.Containers[1].Env, []string{}},
	} {
		var got []string
		for _, e := range c.env {
			got = append(got, e.Name)
		}
		if !slices.Equal(got, c.want) || c.env == nil || cap(c.env)-len(c.env) != envRoom {
			t.Errorf("env %v (nil %t), room %d; want %v and room %d", got, c.env == nil, cap(c.env)-len(c.env), c.want, envRoom)
		}
	}
	if pod.Spec.Containers[2].Env != nil {
		t.Errorf("a container without env got %v", pod.Spec.Containers[2].Env)
	}
	var plain corev1.Pod
	if err := jsonv2.Unmarshal(doc, podjson.Into(&plain), lenient); err != nil {
		t.Fatal(err)
	}
	if env := plain.Spec.Containers[0].Env; cap(env) != len(env) {
		t.Errorf("Decode left room %d in an env; want none", cap(env)-len(env))
	}
}

// readsVolume stands for the injector's rule: the sources of volumes named "ours-…" are read.
func readsVolume(name string) bool { return strings.HasPrefix(name, "ours-") }

// namesFirst says, for each volume of doc, whether its name is its first member: the
// sources of those DecodeForAdmission may leave unread.
func namesFirst(t testing.TB, doc []byte) []bool {
	t.Helper()
	var pod struct {
		Spec struct {
			Volumes []jsontext.Value `json:"volumes"`
		} `json:"spec"`
	}
	if err := jsonv2.Unmarshal(doc, &pod, lenient); err != nil {
		t.Fatal(err)
	}
	first := make([]bool, len(pod.Spec.Volumes))
	for i, v := range pod.Spec.Volumes {
		dec := jsontext.NewDecoder(bytes.NewReader(v))
		if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
			continue
		}
		name, err := dec.ReadToken()
		first[i] = err == nil && name.Kind() == '"' && name.String() == "name"
	}
	return first
}

// withoutUnread zeroes what DecodeForAdmission leaves unread of pod, of whose volumes
// nameFirst says which were named first.
func withoutUnread(pod corev1.Pod, nameFirst []bool) corev1.Pod {
	pod.OwnerReferences, pod.Spec.Tolerations, pod.Status = nil, nil, corev1.PodStatus{}
	pod.Spec.Containers = slices.Clone(pod.Spec.Containers)
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].Resources, pod.Spec.Containers[i].Ports = corev1.ResourceRequirements{}, nil
	}
	pod.Spec.Volumes = slices.Clone(pod.Spec.Volumes)
	for i, v := range pod.Spec.Volumes {
		if i < len(nameFirst) && nameFirst[i] && v.Name != "" && !readsVolume(v.Name) {
			pod.Spec.Volumes[i].VolumeSource = corev1.VolumeSource{}
		}
	}
	return pod
}

// TestDecodeForAdmissionLeavesOnlyTheUnread: on every pod of the corpus, DecodeForAdmission
// reads what json/v2 reads but for the members it leaves unread, and the init containers'
// resources and ports are read.
func TestDecodeForAdmissionLeavesOnlyTheUnread(t *testing.T) {
	t.Parallel()
	initResources, sources := 0, 0
	docs := pods(t)
	// Volumes named as the caller's own keep their source.
	for _, name := range []string{"typical", "large"} {
		docs[name+"-own-volumes"] = []byte(strings.ReplaceAll(string(docs[name]), `"name":"kube-api-access-`, `"name":"ours-kube-api-access-`))
	}
	for name, doc := range docs {
		var want corev1.Pod
		if err := jsonv2.Unmarshal(doc, &want, lenient); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := forAdmission(doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w := withoutUnread(want, namesFirst(t, doc)); !reflect.DeepEqual(w, got) {
			t.Fatalf("%s: DecodeForAdmission read more or less than json/v2 less the unread members (-want +got):\n%s", name, cmp.Diff(w, got))
		}
		for _, c := range got.Spec.InitContainers {
			if len(c.Resources.Limits)+len(c.Resources.Requests) > 0 {
				initResources++
			}
		}
		for _, v := range got.Spec.Volumes {
			if v.VolumeSource != (corev1.VolumeSource{}) {
				sources++
			}
		}
	}
	if initResources == 0 || sources < 2 {
		t.Fatalf("%d init containers with resources, %d volumes with sources: the test cannot see them kept", initResources, sources)
	}
}

// TestDecodeForAdmissionRefusesNoLess: what it leaves unread must still be well-formed JSON,
// and what json/v2 takes it takes.
func TestDecodeForAdmissionRefusesNoLess(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`{"spec":{"containers":[{"resources":{"limits":}}]}}`,
		`{"spec":{"containers":[{"ports":[1,]}]}}`,
		`{"spec":{"tolerations":[{"key":"k"}`,
		`{"metadata":{"ownerReferences":[{"name":"x"}}},"spec":{}}`,
		`{"status":{"phase":"Running",}}`,
		`{"spec":{"volumes":[{"name":"theirs","secret":{"secretName":}}]}}`,
	} {
		if _, err := forAdmission([]byte(doc)); err == nil {
			t.Errorf("%s: malformed JSON in a member left unread was taken", doc)
		}
	}
	for name, doc := range edgeCases {
		var want corev1.Pod
		if jsonv2.Unmarshal([]byte(doc), &want, lenient) != nil {
			continue
		}
		w := withoutUnread(want, namesFirst(t, []byte(doc)))
		if got, err := forAdmission([]byte(doc)); err != nil || !reflect.DeepEqual(w, got) {
			t.Errorf("%s: json/v2 takes it, DecodeForAdmission: %v (-want +got):\n%s", name, err, cmp.Diff(w, got))
		}
	}
}

// TestDecodeForAdmissionVolumeNamedTwice: a volume renamed after its source was left unread
// keeps no source, whatever the new name; one named first as the caller's own keeps it.
func TestDecodeForAdmissionVolumeNamedTwice(t *testing.T) {
	t.Parallel()
	for doc, wantSource := range map[string]bool{
		`{"spec":{"volumes":[{"name":"theirs","emptyDir":{},"name":"ours-bin"}]}}`: false,
		`{"spec":{"volumes":[{"name":"ours-bin","emptyDir":{},"name":"theirs"}]}}`: true,
		`{"spec":{"volumes":[{"emptyDir":{},"name":"theirs"}]}}`:                   true,
	} {
		got, err := forAdmission([]byte(doc))
		if err != nil || len(got.Spec.Volumes) != 1 || (got.Spec.Volumes[0].EmptyDir != nil) != wantSource {
			t.Errorf("%s: %+v, %v; want a source: %v", doc, got.Spec.Volumes, err, wantSource)
		}
	}
}
