package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/injector"
)

// patchOp is one RFC 6902 operation. The patch only ever adds or replaces ("add" does
// both), so nothing the request carried, known to our Go types or not, is removed.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// errUnexpectedChange means the injector changed a field buildPatch does not write: a
// programming error, caught here instead of silently dropping the change.
var errUnexpectedChange = errors.New("internal error: the injector changed a field the patch does not cover")

// buildPatch writes the JSON patch that turns the request's pod into out, touching only
// what the injector changes: annotations, volumes, the inserted init container, and the
// command, args, env, volume mounts, termination message policy and exec probes of
// wrapped containers. Diffing whole documents instead would rewrite the user's init
// containers when ours is inserted before them, dropping fields our types do not know, and
// costs a JSON round trip of the whole pod.
func buildPatch(in, out *corev1.Pod) ([]byte, error) {
	ops := make([]patchOp, 0, 64)
	ops = mapOps(ops, "/metadata/annotations", in.Annotations, out.Annotations)
	ops = listOps(ops, "/spec/volumes", in.Spec.Volumes, out.Spec.Volumes)
	inserted := len(out.Spec.InitContainers) > len(in.Spec.InitContainers)
	shift := 0
	if inserted {
		shift = 1
	}
	var err error
	for i := range in.Spec.InitContainers {
		if ops, err = containerOps(ops, "/spec/initContainers/"+strconv.Itoa(i), &in.Spec.InitContainers[i], &out.Spec.InitContainers[i+shift]); err != nil {
			return nil, err
		}
	}
	for i := range in.Spec.Containers {
		if ops, err = containerOps(ops, "/spec/containers/"+strconv.Itoa(i), &in.Spec.Containers[i], &out.Spec.Containers[i]); err != nil {
			return nil, err
		}
	}
	if inserted {
		if out.Spec.InitContainers[0].Name != injector.InitContainerName {
			return nil, fmt.Errorf("%w: init container %q at index 0", errUnexpectedChange, out.Spec.InitContainers[0].Name)
		}
		// Last, so the indexes above still name the user's init containers.
		if len(in.Spec.InitContainers) == 0 {
			ops = append(ops, patchOp{Op: "add", Path: "/spec/initContainers", Value: out.Spec.InitContainers})
		} else {
			ops = append(ops, patchOp{Op: "add", Path: "/spec/initContainers/0", Value: out.Spec.InitContainers[0]})
		}
	}
	if len(ops) == 0 {
		return nil, nil
	}
	return json.Marshal(ops)
}

// containerOps writes the changes the injector makes to one container, and refuses any
// other change.
func containerOps(ops []patchOp, path string, a, b *corev1.Container) ([]patchOp, error) {
	if !slices.Equal(a.Command, b.Command) {
		ops = append(ops, patchOp{Op: "add", Path: path + "/command", Value: b.Command})
	}
	if !slices.Equal(a.Args, b.Args) {
		ops = append(ops, patchOp{Op: "add", Path: path + "/args", Value: b.Args})
	}
	ops = listOps(ops, path+"/env", a.Env, b.Env)
	ops = listOps(ops, path+"/volumeMounts", a.VolumeMounts, b.VolumeMounts)
	if a.TerminationMessagePolicy != b.TerminationMessagePolicy {
		ops = append(ops, patchOp{Op: "add", Path: path + "/terminationMessagePolicy", Value: b.TerminationMessagePolicy})
	}
	for _, p := range []struct {
		name string
		a, b *corev1.Probe
	}{{"livenessProbe", a.LivenessProbe, b.LivenessProbe}, {"readinessProbe", a.ReadinessProbe, b.ReadinessProbe}, {"startupProbe", a.StartupProbe, b.StartupProbe}} {
		if p.a != nil && p.a.Exec != nil && p.b != nil && p.b.Exec != nil && !slices.Equal(p.a.Exec.Command, p.b.Exec.Command) {
			ops = append(ops, patchOp{Op: "add", Path: path + "/" + p.name + "/exec/command", Value: p.b.Exec.Command})
		}
	}
	// reflect.DeepEqual, not equality.Semantic: an untouched field of out is in's own value
	// or a copy of it, so it keeps its exact representation (a Quantity its cached
	// string), and the semantic comparison's per-type calls were a fifth of admission time.
	if wa, wb := withoutCovered(a), withoutCovered(b); !reflect.DeepEqual(&wa, &wb) {
		return nil, fmt.Errorf("%w: container %q", errUnexpectedChange, a.Name)
	}
	return ops, nil
}

// withoutCovered blanks what containerOps writes, leaving what must not have changed.
func withoutCovered(c *corev1.Container) corev1.Container {
	x := *c
	x.Command, x.Args, x.Env, x.VolumeMounts, x.TerminationMessagePolicy = nil, nil, nil, nil, ""
	x.LivenessProbe, x.ReadinessProbe, x.StartupProbe = probeWithoutExec(c.LivenessProbe), probeWithoutExec(c.ReadinessProbe), probeWithoutExec(c.StartupProbe)
	return x
}

func probeWithoutExec(p *corev1.Probe) *corev1.Probe {
	if p == nil || p.Exec == nil {
		return p
	}
	x := *p
	x.Exec = &corev1.ExecAction{}
	return &x
}

// listOps appends to a list that only grew (each new item at "/-"), and writes it whole
// when the request had none or when it changed otherwise.
func listOps[T any](ops []patchOp, path string, a, b []T) []patchOp {
	switch {
	case len(b) == 0 || (len(a) == len(b) && reflect.DeepEqual(a, b)):
		return ops
	case len(a) > 0 && len(a) < len(b) && reflect.DeepEqual(a, b[:len(a)]):
		for i := len(a); i < len(b); i++ {
			// A pointer: boxing the item itself would copy it to the heap.
			ops = append(ops, patchOp{Op: "add", Path: path + "/-", Value: &b[i]})
		}
		return ops
	}
	return append(ops, patchOp{Op: "add", Path: path, Value: b})
}

// mapOps sets the keys of b that a lacks or holds differently; the whole map when a is
// empty, since the request may not have the map at all.
func mapOps(ops []patchOp, path string, a, b map[string]string) []patchOp {
	if len(a) == 0 {
		if len(b) > 0 {
			ops = append(ops, patchOp{Op: "add", Path: path, Value: b})
		}
		return ops
	}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if v, ok := a[k]; !ok || v != b[k] {
			ops = append(ops, patchOp{Op: "add", Path: path + "/" + escapePointer(k), Value: b[k]})
		}
	}
	return ops
}

// escapePointer escapes a map key for a JSON pointer (RFC 6901): annotation keys hold "/".
func escapePointer(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}
