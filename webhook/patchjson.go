package webhook

import (
	"encoding/json"
	"fmt"
	"sync"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/injector"
)

// patchOf writes the injector's changes as a JSON patch, in their order: the bytes
// encoding/json writes for a list of patchOp. The values most patches are made of (env
// variables, volume mounts, commands, plain strings) are written here directly, the rest
// by encoding/json: its reflection over 46 small values was a fifth of a typical
// request's time. TestPatchIsEncodingJSON holds the two to the same bytes.
func patchOf(changes []injector.Change) ([]byte, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	b := getPatchBuffer(160 * len(changes))
	b = append(b, '[')
	for i, c := range changes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"op":"add","path":`...)
		b = appendString(b, c.Path)
		b = append(b, `,"value":`...)
		var err error
		if b, err = appendValue(b, c.Value); err != nil {
			return nil, fmt.Errorf("write the patch: %w", err)
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// patchBuffers recycles patch buffers, each a *[]byte: the patch was the largest
// allocation of an admitted pod. ReviewServer returns the patch of a response Handler
// made (Response.patchOwned) once it has written it (releasePatch); a patch kept by
// anyone else (`mutate -f`, tests) simply never comes back. patchOf writes a buffer from
// its start, so nothing of an earlier pod's patch can reach the next one.
var patchBuffers sync.Pool

// maxPooledPatch keeps the rare huge patch from pinning its buffer in the pool.
const maxPooledPatch = 64 << 10

// getPatchBuffer is an empty buffer, recycled when one is free; append grows one that is
// too small.
func getPatchBuffer(size int) []byte {
	if p, ok := patchBuffers.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, size)
}

// releasePatch gives a written patch's buffer back for the next pod; the caller must not
// use patch afterwards.
func releasePatch(patch []byte) {
	if cap(patch) == 0 || cap(patch) > maxPooledPatch {
		return
	}
	patchBuffers.Put(&patch) // getPatchBuffer empties it
}

// patchOp is one RFC 6902 operation, as encoding/json writes it; patchOf writes the same.
// The injector only ever adds or replaces ("add" does both), so nothing the request
// carried, known to our Go types or not, is removed.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// appendValue appends v as encoding/json writes it.
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return appendString(b, v), nil
	case corev1.TerminationMessagePolicy:
		return appendString(b, string(v)), nil
	case []string:
		return appendStrings(b, v), nil
	case *corev1.EnvVar:
		if v != nil && fieldRefOnly(v.ValueFrom) {
			return appendEnvVar(b, v), nil
		}
	case *corev1.VolumeMount:
		if v != nil && plainMount(v) {
			return appendVolumeMount(b, v), nil
		}
	case *corev1.Container:
		if out, ok := appendInitContainer(b, v); ok {
			return out, nil
		}
	case *corev1.Volume:
		if out, ok := appendOurVolume(b, v); ok {
			return out, nil
		}
	}
	return appendMarshalled(b, v)
}

func appendMarshalled(b []byte, v any) ([]byte, error) {
	out, err := json.Marshal(v)
	if err != nil {
		return b, fmt.Errorf("encode a %T: %w", v, err)
	}
	return append(b, out...), nil
}

// appendStrings writes list as encoding/json does: null when nil, else an array of
// strings (any string type, such as corev1.Capability).
func appendStrings[S ~string](b []byte, list []S) []byte {
	if list == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, string(s))
	}
	return append(b, ']')
}

// fieldRefOnly says whether appendEnvVar writes src whole: none, or only a field
// reference (the pod's name and namespace the injector hands envexec). Any other source,
// including one a newer API adds, goes to encoding/json.
func fieldRefOnly(src *corev1.EnvVarSource) bool {
	if src == nil {
		return true
	}
	// A field a newer API adds to the selector itself fails TestPatchKnowsEveryField.
	return src.FieldRef != nil && *src == (corev1.EnvVarSource{FieldRef: src.FieldRef})
}

// appendEnvVar writes an env variable whose valueFrom is none or a field reference
// (fieldRefOnly), fields in corev1.EnvVar's order.
func appendEnvVar(b []byte, e *corev1.EnvVar) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, e.Name)
	if e.Value != "" {
		b = append(b, `,"value":`...)
		b = appendString(b, e.Value)
	}
	if src := e.ValueFrom; src != nil {
		b = append(b, `,"valueFrom":{"fieldRef":{`...)
		if src.FieldRef.APIVersion != "" {
			b = append(b, `"apiVersion":`...)
			b = appendString(b, src.FieldRef.APIVersion)
			b = append(b, ',')
		}
		b = append(b, `"fieldPath":`...)
		b = appendString(b, src.FieldRef.FieldPath)
		b = append(b, "}}"...)
	}
	return append(b, '}')
}

// appendVolumeMount writes a mount without recursiveReadOnly and mountPropagation, fields
// in corev1.VolumeMount's order.
func appendVolumeMount(b []byte, m *corev1.VolumeMount) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, m.Name)
	if m.ReadOnly {
		b = append(b, `,"readOnly":true`...)
	}
	b = append(b, `,"mountPath":`...)
	b = appendString(b, m.MountPath)
	if m.SubPath != "" {
		b = append(b, `,"subPath":`...)
		b = appendString(b, m.SubPath)
	}
	if m.SubPathExpr != "" {
		b = append(b, `,"subPathExpr":`...)
		b = appendString(b, m.SubPathExpr)
	}
	return append(b, '}')
}

// appendString writes s quoted. Printable ASCII other than what encoding/json escapes
// (quote, backslash, and <, > and & for HTML) is written as it is; any other string goes
// through encoding/json, so its escapes stay encoding/json's.
func appendString(b []byte, s string) []byte {
	if !plainJSON(s) {
		out, err := json.Marshal(s)
		if err != nil {
			panic("encoding/json cannot encode a string: " + err.Error()) // it always can
		}
		return append(b, out...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainJSON says whether encoding/json, and json/v2 under jsonv1.DefaultOptionsV1, write
// s quoted as it is: printable ASCII but for what they escape (quote, backslash, and <,
// > and & for HTML). appendString and appendV1String write such strings themselves.
func plainJSON(s string) bool {
	for i := range len(s) {
		if !plainByte[s[i]] {
			return false
		}
	}
	return true
}

// plainByte marks plainJSON's bytes: one load per byte instead of seven comparisons, as
// the patch's strings are most of its bytes.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
