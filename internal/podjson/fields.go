package podjson

import (
	"reflect"
	"strings"
)

// fieldIndex maps a JSON member name to the index of the struct field json/v2 decodes it
// into, for reflect.Value.FieldByIndex.
type fieldIndex map[string][]int

// fieldsOf indexes T's fields as json/v2 names them: a field's name is its json tag's
// name or else its Go name; a tag of "-" and unexported fields are ignored; an embedded
// struct without a name has its fields inlined; where names clash, the shallowest field
// wins. TestDecodeMatchesJSONv2 holds this to json/v2 on random pods with every field set.
func fieldsOf[T any]() fieldIndex {
	fields := fieldIndex{}
	collect(reflect.TypeFor[T](), nil, fields)
	return fields
}

func collect(t reflect.Type, parent []int, fields fieldIndex) {
	var embedded []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		index := append(append([]int(nil), parent...), i)
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			f.Index = index
			embedded = append(embedded, f)
			continue
		}
		if name == "" {
			name = f.Name
		}
		if old, ok := fields[name]; !ok || len(old) > len(index) {
			fields[name] = index
		}
	}
	for _, f := range embedded {
		collect(f.Type, f.Index, fields)
	}
}
