package webhook

import (
	"encoding/json"
	"fmt"
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

// buildPatch writes the JSON patch that turns the request's pod into out, touching only
// what the injector changed: the annotations, the volumes, the wrapped containers and the
// inserted init container. Diffing whole documents instead would rewrite the user's
// containers when ours is inserted before them, dropping fields our types do not know.
func buildPatch(in, out *corev1.Pod) ([]byte, error) {
	var ops []patchOp
	var err error
	add := func(path string, a, b any) {
		if err == nil {
			ops, err = additive(ops, path, a, b)
		}
	}
	add("/metadata/annotations", in.Annotations, out.Annotations)
	add("/spec/volumes", in.Spec.Volumes, out.Spec.Volumes)
	inserted := len(out.Spec.InitContainers) > len(in.Spec.InitContainers)
	shift := 0
	if inserted {
		shift = 1
	}
	for i := range in.Spec.InitContainers {
		add("/spec/initContainers/"+strconv.Itoa(i), &in.Spec.InitContainers[i], &out.Spec.InitContainers[i+shift])
	}
	for i := range in.Spec.Containers {
		add("/spec/containers/"+strconv.Itoa(i), &in.Spec.Containers[i], &out.Spec.Containers[i])
	}
	if err != nil {
		return nil, err
	}
	if inserted {
		if out.Spec.InitContainers[0].Name != injector.InitContainerName {
			return nil, fmt.Errorf("internal error: unexpected init container %q at index 0", out.Spec.InitContainers[0].Name)
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

// additive appends the operations that turn a into b, both typed values, without removing
// anything: maps are walked key by key, lists that only grew get appended to, and any other
// change replaces the value at path.
func additive(ops []patchOp, path string, a, b any) ([]patchOp, error) {
	ga, err := generic(a)
	if err != nil {
		return nil, err
	}
	gb, err := generic(b)
	if err != nil {
		return nil, err
	}
	return diff(ops, path, ga, gb), nil
}

func generic(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode pod: %w", err)
	}
	var g any
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("decode pod: %w", err)
	}
	return g, nil
}

func diff(ops []patchOp, path string, a, b any) []patchOp {
	if reflect.DeepEqual(a, b) || b == nil {
		return ops
	}
	switch bv := b.(type) {
	case map[string]any:
		av, ok := a.(map[string]any)
		if !ok {
			break
		}
		for _, k := range sortedKeys(bv) {
			if _, had := av[k]; !had {
				ops = append(ops, patchOp{Op: "add", Path: path + "/" + escapePointer(k), Value: bv[k]})
				continue
			}
			ops = diff(ops, path+"/"+escapePointer(k), av[k], bv[k])
		}
		return ops
	case []any:
		av, ok := a.([]any)
		if !ok || len(av) == 0 || len(av) >= len(bv) || !reflect.DeepEqual(av, bv[:len(av)]) {
			break
		}
		for _, item := range bv[len(av):] {
			ops = append(ops, patchOp{Op: "add", Path: path + "/-", Value: item})
		}
		return ops
	}
	return append(ops, patchOp{Op: "add", Path: path, Value: b})
}

// escapePointer escapes a map key for a JSON pointer (RFC 6901): annotation keys hold "/".
func escapePointer(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
