package podjson

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
)

// fieldIndex maps a JSON member name to the index of the struct field json/v2 decodes it
// into, for reflect.Value.FieldByIndex.
type fieldIndex map[string][]int

// fieldsOf indexes T's fields as json/v2 names them: a field's name is its json tag's
// name or else its Go name; a tag of "-" and unexported fields are ignored; an embedded
// struct without a name has its fields inlined; where names clash, the shallowest field
// wins. It panics, when the package is loaded, on a field it cannot index as json/v2 does,
// and on a type with a method of its own that json/v2 would call instead.
// TestDecodeMatchesJSONv2 holds this to json/v2 on random pods with every field set.
func fieldsOf[T any]() fieldIndex {
	fields := fieldIndex{}
	collect(reflect.TypeFor[T](), nil, fields)
	return fields
}

func collect(t reflect.Type, parent []int, fields fieldIndex) {
	refuseMethods(t)
	var embedded []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, options, _ := strings.Cut(tag, ",")
		index := append(append([]int(nil), parent...), i)
		switch {
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			f.Index = index
			embedded = append(embedded, f)
			continue
		case f.Anonymous && name == "", strings.Contains(options, "inline"), strings.Contains(options, "unknown"):
			// An embedded pointer, or a field json/v2 reads in its own way: none in the
			// pod's types today; a Kubernetes update that adds one must not go unnoticed.
			panic(fmt.Sprintf("podjson: %s.%s is a kind of field podjson cannot index", t, f.Name))
		case name == "":
			name = f.Name
		}
		switch old, ok := fields[name]; {
		case !ok || len(old) > len(index):
			fields[name] = index
		case len(old) == len(index):
			panic(fmt.Sprintf("podjson: %s has two fields named %q at one depth", t, name)) // json/v2 would drop both
		}
	}
	for _, f := range embedded {
		collect(f.Type, f.Index, fields)
	}
}

// refuseMethods panics when json/v2 would read t through a method of t's own.
func refuseMethods(t reflect.Type) {
	for _, m := range unmarshalers {
		if reflect.PointerTo(t).Implements(m) {
			panic(fmt.Sprintf("podjson: %s is read by its own %s, which podjson does not call", t, m))
		}
	}
}

// unmarshalers are the interfaces through which json/v2 lets a type read itself.
var unmarshalers = []reflect.Type{
	reflect.TypeFor[jsonv2.UnmarshalerFrom](), reflect.TypeFor[jsonv2.Unmarshaler](),
	reflect.TypeFor[json.Unmarshaler](), reflect.TypeFor[encoding.TextUnmarshaler](),
}
