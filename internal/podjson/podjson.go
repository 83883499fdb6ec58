// Package podjson decodes a pod from JSON exactly as encoding/json/v2 does, a quarter to a
// third faster (BenchmarkDecode): the admission path decodes one pod per request, and
// json/v2's reflection over corev1.Pod was half of the handler's cost. The members a pod has many of (containers,
// env variables, mounts, labels, annotations) are read by hand; every other member, and any
// value of a kind the hand-written code does not expect (null, a number where a string
// goes), is handed to json/v2 itself, so results and errors stay json/v2's.
package podjson

import (
	"reflect"
	"sync"
	"unicode/utf8"
	"unsafe"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	corev1 "k8s.io/api/core/v1"
)

// Decode reads the next JSON value of dec into pod, with the result and errors of
// jsonv2.UnmarshalDecode(dec, pod) under dec's options. Like json/v2 it merges an object
// into what pod already holds and zeroes it for null. Under options that change how
// members are matched (MatchCaseInsensitiveNames, RejectUnknownMembers), which the
// hand-written code does not follow, json/v2 reads the whole pod.
func Decode(dec *jsontext.Decoder, pod *corev1.Pod) error {
	return decode(dec, pod, nil, 0)
}

// DecodeForAdmission is Decode leaving unread, and so zero, the members of a pod the
// admission path never reads: the resources and ports of its containers (not of its init
// containers, whose own the injector compares whole), its tolerations, its owner
// references, its status, and the source of each volume whose name comes first (as the
// apiserver writes it) and is not one readsVolume reads. Their JSON is still checked to
// be well formed, and anything else is read as Decode reads it. They were a fifth of a
// typical pod's decoding and most of its allocations. A volume named twice, renamed after
// its source was left unread, keeps no source: a review only a caller of the port could
// write, which the injector then refuses if the name is one of its own.
// TestAdmitNeedsNothingLeftUnread holds the admission path to never needing them.
// Each container's env gets room for envRoom more variables, so the injector appends its
// settings in place (injector.EnvRoom) instead of copying the list; only the first
// RoomedEnvs envs of a pod do, so a pod of many containers cannot make its decoding
// allocate more than that for room it may never use.
func DecodeForAdmission(dec *jsontext.Decoder, pod *corev1.Pod, readsVolume func(name string) bool, envRoom int) error {
	return decode(dec, pod, readsVolume, envRoom)
}

// decode reads pod, leaving unread what DecodeForAdmission does when readsVolume is set.
func decode(dec *jsontext.Decoder, pod *corev1.Pod, readsVolume func(name string) bool, envRoom int) error {
	opts := dec.Options()
	if v, _ := jsonv2.GetOption(opts, jsonv2.MatchCaseInsensitiveNames); v {
		return jsonv2.UnmarshalDecode(dec, pod)
	}
	if v, _ := jsonv2.GetOption(opts, jsonv2.RejectUnknownMembers); v {
		return jsonv2.UnmarshalDecode(dec, pod)
	}
	d, ok := decoders.Get().(*decoder)
	if !ok {
		d = new(decoder)
	}
	d.dec, d.leaveUnread, d.readsVolume = dec, readsVolume != nil, readsVolume
	d.envRoom, d.roomedLeft = envRoom, 0
	if envRoom > 0 {
		d.roomedLeft = RoomedEnvs
	}
	err := d.pod(pod)
	d.release()
	return err
}

// RoomedEnvs is how many envs of one pod DecodeForAdmission gives room: more than the
// containers of any pod seen in practice, and at most 64 KiB of room however many
// containers a review lists.
const RoomedEnvs = 100

// nextEnvRoom is the room the next env read gets, counted against the pod's budget.
func (d *decoder) nextEnvRoom() int {
	if d.roomedLeft == 0 {
		return 0
	}
	d.roomedLeft--
	return d.envRoom
}

// decoders recycles the scratch space of decoding: each array of a pod is read into
// scratch first and then copied into a slice of its exact length.
var decoders = sync.Pool{New: func() any { return new(decoder) }}

// decoder reads one pod; its scratch slices are empty between uses.
type decoder struct {
	dec *jsontext.Decoder
	// leaveUnread skips what DecodeForAdmission leaves unread; readsVolume is its caller's.
	leaveUnread bool
	readsVolume func(name string) bool
	// envRoom is the spare capacity an env is given while roomedLeft, the envs that may
	// still get it, is not zero (it is zero when no room was asked for).
	envRoom, roomedLeft int
	// buf holds a name or string that had to be unquoted.
	buf []byte
	// strs makes the strings read, sharing repeated ones.
	strs interned
	// Scratch for arrays; nested arrays of the same type never occur in the members read
	// by hand, so one of each suffices.
	texts      []string
	env        []corev1.EnvVar
	mounts     []corev1.VolumeMount
	containers []corev1.Container
}

// maxScratch is the most bytes a recycled scratch slice keeps room for, so that one huge
// pod does not pin its memory in the pool: 40 containers, 400 variables.
const maxScratch = 16 << 10

func (d *decoder) release() {
	d.dec, d.readsVolume = nil, nil
	if cap(d.buf) > 4096 {
		d.buf = nil
	}
	d.texts = recycle(d.texts)
	d.env = recycle(d.env)
	d.mounts = recycle(d.mounts)
	d.containers = recycle(d.containers)
	decoders.Put(d)
}

// recycle empties s for the next pod, dropping it if it grew too big to keep.
func recycle[T any](s []T) []T {
	var zero T
	if cap(s)*int(unsafe.Sizeof(zero)) > maxScratch {
		return nil
	}
	clear(s[:cap(s)])
	return s[:0]
}

// object reads a JSON object member by member, calling member with each name (valid only
// until the next read). A value that is not an object goes to json/v2 whole, which zeroes
// whole for null and reports any other kind.
func (d *decoder) object(whole any, member func(name []byte) error) error {
	if d.dec.PeekKind() != '{' {
		return jsonv2.UnmarshalDecode(d.dec, whole)
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	for d.dec.PeekKind() != '}' {
		raw, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		if err := member(d.unquote(raw)); err != nil {
			return err
		}
	}
	_, err := d.dec.ReadToken()
	return err
}

// array reads a JSON array, calling elem once per element; a value that is not an array
// goes to json/v2 whole. It reports whether it read an array.
func (d *decoder) array(whole any, elem func() error) (bool, error) {
	if d.dec.PeekKind() != '[' {
		return false, jsonv2.UnmarshalDecode(d.dec, whole)
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return true, err
	}
	for d.dec.PeekKind() != ']' {
		if err := elem(); err != nil {
			return true, err
		}
	}
	_, err := d.dec.ReadToken()
	return true, err
}

// unquote returns the contents of the JSON string raw, which stay valid until the next
// read: the bytes between its quotes when they need no unescaping, else its unquoted form
// in d.buf. Invalid UTF-8 becomes U+FFFD as in json/v2 (the decoder's options decide
// whether it is accepted at all).
func (d *decoder) unquote(raw []byte) []byte {
	inner := raw[1 : len(raw)-1]
	ascii := true
	for _, c := range inner {
		if c == '\\' {
			d.buf, _ = jsontext.AppendUnquote(d.buf[:0], raw)
			return d.buf
		}
		ascii = ascii && c < utf8.RuneSelf
	}
	if ascii || utf8.Valid(inner) {
		return inner
	}
	d.buf, _ = jsontext.AppendUnquote(d.buf[:0], raw)
	return d.buf
}

// str reads a JSON string into s.
func str[S ~string](d *decoder, s *S) error {
	if d.dec.PeekKind() != '"' {
		return jsonv2.UnmarshalDecode(d.dec, s)
	}
	raw, err := d.dec.ReadValue()
	if err != nil {
		return err
	}
	*s = S(d.strs.str(d.unquote(raw)))
	return nil
}

// boolean reads a JSON boolean into b.
func (d *decoder) boolean(b *bool) error {
	if k := d.dec.PeekKind(); k != 't' && k != 'f' {
		return jsonv2.UnmarshalDecode(d.dec, b)
	}
	tok, err := d.dec.ReadToken()
	if err != nil {
		return err
	}
	*b = tok.Bool()
	return nil
}

// stringMap reads a JSON object of strings into m, merging into an existing map as
// json/v2 does.
func (d *decoder) stringMap(m *map[string]string) error {
	if *m == nil && d.dec.PeekKind() == '{' {
		*m = make(map[string]string)
	}
	return d.object(m, func(name []byte) error {
		key := d.strs.str(name)
		if d.dec.PeekKind() != '"' {
			var v string
			err := jsonv2.UnmarshalDecode(d.dec, &v)
			if err == nil {
				(*m)[key] = v
			}
			return err
		}
		raw, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		(*m)[key] = d.strs.str(d.unquote(raw))
		return nil
	})
}

// slice reads a JSON array into s, one element at a time with read. The elements are
// read into scratch, if given, and then copied into a slice of their exact length; any
// other array grows as it is read. An empty array gives an empty, non-nil slice as in
// json/v2.
func slice[T any](d *decoder, s *[]T, scratch *[]T, read func(*decoder, *T) error) error {
	return sliceRoom(d, s, scratch, 0, read)
}

// sliceRoom is slice leaving room for that many more elements in a slice read from
// scratch.
func sliceRoom[T any](d *decoder, s *[]T, scratch *[]T, room int, read func(*decoder, *T) error) error {
	var grown []T
	buf := &grown
	if scratch != nil {
		buf = scratch
	}
	start := len(*buf)
	isArray, err := d.array(s, func() error {
		var zero T
		*buf = append(*buf, zero)
		return read(d, &(*buf)[len(*buf)-1])
	})
	if !isArray {
		return err
	}
	switch {
	case scratch != nil:
		*s = exact((*buf)[start:], room)
		*buf = (*buf)[:start]
	case grown == nil:
		*s = []T{}
	default:
		*s = grown
	}
	return err
}

// exact copies a scratch slice into one of its own, exactly as long and with room for
// that many more; an empty array yields an empty, non-nil slice as in json/v2.
func exact[T any](scratch []T, room int) []T {
	s := make([]T, len(scratch), len(scratch)+room)
	copy(s, scratch)
	clear(scratch)
	return s
}

// rest reads a member that is not read by hand into the field of v (a pointer to a struct
// described by fields) that json/v2 would choose, skipping an unknown name as json/v2 does.
func (d *decoder) rest(v any, fields fieldIndex, name []byte) error {
	index, ok := fields[string(name)]
	if !ok {
		return d.dec.SkipValue()
	}
	return jsonv2.UnmarshalDecode(d.dec, reflect.ValueOf(v).Elem().FieldByIndex(index).Addr().Interface())
}

// Into returns pod as a target for jsonv2.Unmarshal and UnmarshalDecode that Decode reads.
func Into(pod *corev1.Pod) jsonv2.UnmarshalerFrom { return (*into)(pod) }

type into corev1.Pod

// UnmarshalJSONFrom implements jsonv2.UnmarshalerFrom.
func (p *into) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	return Decode(dec, (*corev1.Pod)(p))
}
