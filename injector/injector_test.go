package injector_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/injector"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// caseConfig is testdata/<case>/config.yaml: webhook flags, as an operator would pass them.
type caseConfig struct {
	Flags []string `json:"flags"`
}

// baseFlags make the goldens independent of the shipped defaults.
var baseFlags = []string{
	"--injector-image=registry.example/vault-injector:v0.1.0",
	"--envexec-path=/usr/local/bin/envexec",
	"--vault-addr=https://vault.example:8200",
}

// TestGolden walks testdata/<case>/: pod.yaml (+ config.yaml, facts.yaml) in, want.pod.yaml and
// want.report.yaml, or want.err, out. `go test ./injector -update` rewrites the wants.
func TestGolden(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil || len(dirs) < 15 {
		t.Fatalf("want at least 15 cases in testdata, got %d (%v)", len(dirs), err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			if *update {
				for _, stale := range []string{"want.err", "want.pod.yaml", "want.report.yaml"} {
					if err := os.Remove(filepath.Join(dir, stale)); err != nil && !errors.Is(err, os.ErrNotExist) {
						t.Fatal(err)
					}
				}
			}
			pod, cfg, facts, err := load(t, dir)
			if err != nil {
				goldenFile(t, filepath.Join(dir, "want.err"), []byte(err.Error()+"\n"))
				return
			}
			before := pod.DeepCopy()
			out, report, err := injector.Inject(pod, cfg, facts)
			if d := cmp.Diff(before, pod); d != "" {
				t.Fatalf("Inject modified its input:\n%s", d)
			}
			checkInPlace(t, before, cfg, facts, out, report, err)
			if err != nil {
				goldenFile(t, filepath.Join(dir, "want.err"), []byte(err.Error()+"\n"))
				return
			}
			goldenFile(t, filepath.Join(dir, "want.pod.yaml"), marshal(t, out))
			goldenFile(t, filepath.Join(dir, "want.report.yaml"), marshal(t, report))
			checkChanges(t, pod, out, report)
			checkIdempotent(t, out, cfg, facts)
			checkIndependent(t, pod, before, cfg, facts, report)
			checkRestricted(t, out)
			if report.Skipped != injector.SkipNone && out != pod {
				t.Errorf("skipped (%s) but returned a new pod", report.Skipped)
			}
		})
	}
}

func load(t *testing.T, dir string) (*corev1.Pod, config.Pod, injector.Facts, error) {
	t.Helper()
	var pod corev1.Pod
	readYAML(t, filepath.Join(dir, "pod.yaml"), &pod, true)
	var facts injector.Facts
	readYAML(t, filepath.Join(dir, "facts.yaml"), &facts, false)

	var cc caseConfig
	readYAML(t, filepath.Join(dir, "config.yaml"), &cc, false)
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	w, err := config.ParseWebhook(fs, append(append([]string{}, baseFlags...), cc.Flags...), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config.yaml: %v", err)
	}
	cfg, _, err := config.ParsePod(pod.Annotations, pod.Spec.ServiceAccountName, w)
	return &pod, cfg, facts, err
}

func readYAML(t *testing.T, path string, into any, required bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !required {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func goldenFile(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (if this case is new, run go test ./injector -update and review the result)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, d)
	}
}

// checkChanges applies the report's changes to the input as the JSON patch the webhook
// sends: the result must be exactly Inject's pod, so no field Inject writes is missing
// from the changes, and none is there twice.
func checkChanges(t *testing.T, in, out *corev1.Pod, report injector.Report) {
	t.Helper()
	if report.Skipped != injector.SkipNone {
		if len(report.Changes) > 0 {
			t.Errorf("skipped (%s) with %d changes", report.Skipped, len(report.Changes))
		}
		return
	}
	ops := make([]map[string]any, len(report.Changes))
	seen := map[string]bool{}
	for i, c := range report.Changes {
		ops[i] = map[string]any{"op": "add", "path": c.Path, "value": c.Value}
		if !strings.HasSuffix(c.Path, "/-") && seen[c.Path] {
			t.Errorf("path %s changed twice", c.Path)
		}
		seen[c.Path] = true
	}
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	ops2, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatch.DecodePatch(ops2)
	if err != nil {
		t.Fatal(err)
	}
	patched, err := patch.Apply(raw)
	if err != nil {
		t.Fatalf("the changes do not apply: %v", err)
	}
	var got corev1.Pod
	if err := json.Unmarshal(patched, &got); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(out, &got); d != "" {
		t.Errorf("the input with the changes applied differs from Inject's pod (-inject +patched):\n%s", d)
	}
}

// checkInPlace: InjectInPlace leaves in a copy of the input exactly the pod Inject
// returned, with the same report (changes included) and error; a skipped or refused pod is
// left as it was. Every env gets spare capacity first, as the webhook's decoder leaves it,
// so the appends land in place.
func checkInPlace(t *testing.T, before *corev1.Pod, cfg config.Pod, facts injector.Facts, out *corev1.Pod, report injector.Report, err error) {
	t.Helper()
	pod := before.DeepCopy()
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if cs[i].Env != nil {
				cs[i].Env = slices.Grow(cs[i].Env, injector.EnvRoom)
			}
		}
	}
	got, gotErr := injector.NewPlan(pod, cfg).InjectInPlace(facts)
	if fmt.Sprint(gotErr) != fmt.Sprint(err) {
		t.Fatalf("InjectInPlace error %v, Inject's %v", gotErr, err)
	}
	want := out
	if err != nil || report.Skipped != injector.SkipNone {
		want = before
	}
	if d := cmp.Diff(want, pod); d != "" {
		t.Errorf("InjectInPlace left a pod other than Inject's (-inject +in place):\n%s", d)
	}
	if d := cmp.Diff(report, got); d != "" {
		t.Errorf("InjectInPlace reported otherwise than Inject (-inject +in place):\n%s", d)
	}
}

// checkIdempotent: a second pass, as under reinvocationPolicy IfNeeded, changes nothing.
func checkIdempotent(t *testing.T, out *corev1.Pod, cfg config.Pod, facts injector.Facts) {
	t.Helper()
	again, _, err := injector.Inject(out, cfg, facts)
	if err != nil {
		t.Fatalf("second Inject: %v", err)
	}
	if d := cmp.Diff(out, again); d != "" {
		t.Errorf("second Inject changed the pod:\n%s", d)
	}
}

// checkIndependent checks that what Inject writes belongs to its result alone, since the
// result shares the rest with the input: scribbling over one result's annotations and its
// wrapped containers' env, mounts, command and probes changes neither the input nor a
// second result of the same input.
func checkIndependent(t *testing.T, pod, before *corev1.Pod, cfg config.Pod, facts injector.Facts, report injector.Report) {
	t.Helper()
	if report.Skipped != injector.SkipNone {
		return
	}
	one, _, err1 := injector.Inject(pod, cfg, facts)
	two, _, err2 := injector.Inject(pod, cfg, facts)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	want := two.DeepCopy()
	one.Annotations["scribbled"] = "yes"
	if len(one.Spec.Volumes) > len(pod.Spec.Volumes) { // Inject added its volumes
		for j := range one.Spec.Volumes {
			one.Spec.Volumes[j].Name = "scribbled"
		}
		one.Spec.Volumes = append(one.Spec.Volumes, corev1.Volume{Name: "scribbled"})
	}
	for _, cs := range [][]corev1.Container{one.Spec.InitContainers, one.Spec.Containers} {
		for j := range cs {
			cs[j].Image = "scribbled"
		}
	}
	one.Spec.InitContainers = append(one.Spec.InitContainers, corev1.Container{Name: "scribbled"})
	for _, wrapped := range report.Containers {
		cs := one.Spec.Containers
		if wrapped.Init {
			cs = one.Spec.InitContainers
		}
		for i := range cs {
			c := &cs[i]
			if c.Name != wrapped.Name {
				continue
			}
			for j := range c.Env {
				c.Env[j].Value = "scribbled"
			}
			c.Env = append(c.Env, corev1.EnvVar{Name: "SCRIBBLED"})
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "scribbled"})
			for j := range c.VolumeMounts {
				c.VolumeMounts[j].Name = "scribbled"
			}
			for j := range c.Command {
				c.Command[j] = "scribbled"
			}
			for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
				if p != nil && p.Exec != nil {
					p.Exec.Command, p.PeriodSeconds = []string{"scribbled"}, 99
				}
			}
		}
	}
	if d := cmp.Diff(before, pod); d != "" {
		t.Errorf("writing to Inject's result changed its input:\n%s", d)
	}
	if d := cmp.Diff(want, two); d != "" {
		t.Errorf("writing to one result of Inject changed another:\n%s", d)
	}
}

// checkRestricted evaluates the injected init container alone against the real Pod
// Security "restricted" checks: our part must pass in any namespace.
func checkRestricted(t *testing.T, out *corev1.Pod) {
	t.Helper()
	for _, c := range out.Spec.InitContainers {
		if c.Name != injector.InitContainerName {
			continue
		}
		spec := corev1.PodSpec{InitContainers: []corev1.Container{c}, Volumes: out.Spec.Volumes}
		eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
		if err != nil {
			t.Fatal(err)
		}
		lv := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
		for _, r := range eval.EvaluatePod(lv, &metav1.ObjectMeta{}, &spec) {
			if !r.Allowed {
				t.Errorf("init container fails PSA restricted: %s: %s", r.ForbiddenReason, r.ForbiddenDetail)
			}
		}
	}
}

// planConfig is a valid pod configuration for plan tests.
func planConfig() config.Pod {
	return config.Pod{
		Inject: true, InjectorImage: "img", EnvexecPath: "/envexec", VaultAddr: "http://v:8200",
		Role: "r", AuthPath: "kubernetes", LogLevel: config.LogInfo, TokenExpiration: 10 * time.Minute,
	}
}

// TestPlanLookups: the plan names each image once, in pod order, with every container
// without a command that runs it, and nothing for containers that set one or need no
// envexec.
func TestPlanLookups(t *testing.T) {
	t.Parallel()
	ref := []corev1.EnvVar{{Name: "A", Value: "vault:s/p#k"}}
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{
			{Name: "migrate", Image: "migrate:1", Env: ref},
		},
		Containers: []corev1.Container{
			{Name: "with-command", Image: "cmd:1", Command: []string{"/x"}, Env: ref},
			{Name: "no-refs", Image: "plain:1"},
			{Name: "app", Image: "app:1", Env: ref},
			{Name: "app-again", Image: "app:1", Env: ref},
			{Name: "literal", Image: "literal:1", Env: []corev1.EnvVar{{Name: "B", Value: "Vault:x"}}},
		},
	}}
	plan := injector.NewPlan(pod, planConfig())
	want := []injector.ImageLookup{{Image: "migrate:1", Containers: []string{"migrate"}}, {Image: "app:1", Containers: []string{"app", "app-again"}}}
	if d := cmp.Diff(want, plan.Lookups); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if plan.Skipped() != injector.SkipNone || plan.Err() != nil {
		t.Errorf("skipped %q, err %v; want work and no problem", plan.Skipped(), plan.Err())
	}
}

// TestPlanDeniesBeforeLookups: a pod that will be denied whatever its images say (here a
// malformed reference, and an init container only named like ours) gets no lookup.
func TestPlanDeniesBeforeLookups(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: injector.InitContainerName, Image: "injector:1"}},
		Containers: []corev1.Container{
			{Name: "bad", Image: "bad:1", Env: []corev1.EnvVar{{Name: "A", Value: "vault:s/p#"}}},
			{Name: "app", Image: "app:1", Env: []corev1.EnvVar{{Name: "B", Value: "vault:s/p#k"}}},
		},
	}}
	plan := injector.NewPlan(pod, planConfig())
	if len(plan.Lookups) != 0 {
		t.Errorf("lookups %v for a pod that is denied anyway", plan.Lookups)
	}
	err := plan.Err()
	for _, want := range []string{`container "bad": env "A": invalid vault reference`, `container "vault-injector-init": the init container name`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("plan error %v lacks %q", err, want)
		}
	}
}

// TestResultsIndependentOfSpareCapacity gives Inject lists with room to grow in place, as
// decoded lists often have, so a result appending there would write into its input's
// array and into every other result's.
func TestResultsIndependentOfSpareCapacity(t *testing.T) {
	env := make([]corev1.EnvVar, 1, 64)
	env[0] = corev1.EnvVar{Name: "DB", Value: "vault:secret/data/db#password"}
	mounts := make([]corev1.VolumeMount, 1, 16)
	mounts[0] = corev1.VolumeMount{Name: "data", MountPath: "/data"}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"},
		Spec: corev1.PodSpec{
			Volumes:    make([]corev1.Volume, 0, 16),
			Containers: []corev1.Container{{Name: "app", Image: "app", Command: []string{"/app"}, Env: env, VolumeMounts: mounts}},
		},
	}
	cfg := planConfig()
	before := pod.DeepCopy()
	_, report, err := injector.Inject(pod, cfg, injector.Facts{})
	if err != nil {
		t.Fatal(err)
	}
	checkIndependent(t, pod, before, cfg, injector.Facts{}, report)
}
