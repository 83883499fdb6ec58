package podjson

import (
	"reflect"
	"strconv"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// integer reads a JSON number into n. A plain integer in range is parsed here; any other
// number (a fraction, an exponent, out of range) is left to json/v2.
func integer[N int32 | int64](d *decoder, n *N) error {
	if d.dec.PeekKind() != '0' {
		return jsonv2.UnmarshalDecode(d.dec, n)
	}
	raw, err := d.dec.ReadValue()
	if err != nil {
		return err
	}
	bits := 64
	if _, is32 := any(n).(*int32); is32 {
		bits = 32
	}
	if v, err := strconv.ParseInt(string(raw), 10, bits); err == nil {
		*n = N(v)
		return nil
	}
	return d.decide(raw, n)
}

// optional reads a JSON value into the pointer *p with read, as json/v2 does: null sets it
// to nil, any other value is read into what it points to, allocated if it is nil.
func optional[T any](d *decoder, p **T, read func(*decoder, *T) error) error {
	if d.dec.PeekKind() == 'n' {
		return jsonv2.UnmarshalDecode(d.dec, p)
	}
	if *p == nil {
		*p = new(T)
	}
	return read(d, *p)
}

// quantity reads a resource quantity as json/v2 does, through its UnmarshalJSON method.
func (d *decoder) quantity(q *resource.Quantity) error {
	raw, err := d.dec.ReadValue()
	if err != nil {
		return err
	}
	if err := q.UnmarshalJSON(raw); err != nil {
		return d.fail(raw, q)
	}
	return nil
}

// intOrString reads a port: a plain integer or a string here, anything else by json/v2.
func (d *decoder) intOrString(v *intstr.IntOrString) error {
	if kind := d.dec.PeekKind(); kind == '"' {
		var s string
		if err := str(d, &s); err != nil {
			return err
		}
		// As IntOrString.UnmarshalJSON (json/v2's way) does: only these two fields, so a
		// member named twice merges as it does there.
		v.Type, v.StrVal = intstr.String, s
		return nil
	} else if kind == '0' {
		raw, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		if n, err := strconv.ParseInt(string(raw), 10, 32); err == nil {
			v.Type, v.IntVal = intstr.Int, int32(n)
			return nil
		}
		return d.decide(raw, v)
	}
	return jsonv2.UnmarshalDecode(d.dec, v)
}

// decide reads a value already taken from the decoder as json/v2 would have, for the
// uncommon forms the hand-written code leaves to it.
func (d *decoder) decide(raw []byte, v any) error {
	if jsonv2.Unmarshal(raw, v, d.dec.Options()) != nil {
		return d.fail(raw, v)
	}
	return nil
}

// fail is the error for a value that cannot be read into v: it names where the value was
// and its Go type, never the value.
func (d *decoder) fail(raw []byte, v any) error {
	return &jsonv2.SemanticError{
		ByteOffset:  d.dec.InputOffset() - int64(len(raw)),
		JSONPointer: d.dec.StackPointer(),
		JSONKind:    jsontext.Value(raw).Kind(),
		GoType:      reflect.TypeOf(v).Elem(),
	}
}
