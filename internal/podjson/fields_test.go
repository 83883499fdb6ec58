package podjson

import (
	"reflect"
	"testing"
	"time"
)

// TestFieldsOfRefusesWhatItCannotIndex: a field json/v2 would read in a way the index does
// not follow stops the package from loading, rather than decoding a pod differently.
func TestFieldsOfRefusesWhatItCannotIndex(t *testing.T) {
	t.Parallel()
	type inner struct {
		A string `json:"a"`
	}
	type other struct {
		A string `json:"a"`
	}
	type (
		embedsMethod struct {
			time.Time
			A string `json:"a"`
		}
		pointerEmbed struct{ *inner }
		inlineField  struct {
			X inner `json:",inline"`
		}
	)
	// Two fields named "a" at one depth, built at run time: go vet refuses the literal.
	tie := reflect.StructOf([]reflect.StructField{
		{Name: "Inner", Type: reflect.TypeFor[inner](), Anonymous: true},
		{Name: "Other", Type: reflect.TypeFor[other](), Anonymous: true},
	})
	cases := []reflect.Type{
		reflect.TypeFor[pointerEmbed](), reflect.TypeFor[inlineField](), tie,
		reflect.TypeFor[time.Time](), reflect.TypeFor[embedsMethod](),
	}
	for _, typ := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%v was indexed", typ)
				}
			}()
			collect(typ, nil, fieldIndex{})
		}()
	}
	type fine struct {
		inner
		B string `json:"b"`
		A int    `json:"a"` // shallower than inner's: wins, as in json/v2
		c string //nolint:unused // unexported: ignored
		D string `json:"-"`
	}
	got := fieldIndex{}
	collect(reflect.TypeOf(fine{}), nil, got)
	want := fieldIndex{"a": {2}, "b": {1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("index %v, want %v", got, want)
	}
}
