package webhook

import (
	"errors"
	"fmt"
	"io"
	"reflect"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/internal/podjson"
)

// decodeJSON reads what the apiserver sends with the encoding/json/v2 decoder (from the
// go-json-experiment module, which becomes an alias of the standard library's package
// from Go 1.27). It decodes in one pass where encoding/json validates the whole input
// first, and decoding is most of the admission path's cost: a typical pod takes about
// half the time and allocations. Like the apiserver it matches field names exactly;
// like encoding/json it takes duplicate names (the last wins) and turns invalid UTF-8 and
// lone surrogates into U+FFFD.
//
// Its errors name where the input went wrong, never what it held there: the decoder's own
// messages quote the offending text, which may be a value the user meant to keep secret.
func decodeJSON(data []byte, v any) error {
	err := jsonv2.Unmarshal(data, v, lenient)
	var semantic *jsonv2.SemanticError
	var syntactic *jsontext.SyntacticError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &semantic):
		what := "a JSON " + semantic.JSONKind.String()
		if semantic.JSONKind == 0 {
			what = "JSON"
		}
		into := "its Go type"
		if semantic.GoType != nil {
			into = semantic.GoType.String()
		}
		return fmt.Errorf("%w: cannot read %s as %s at %q (byte %d)", errUndecodable, what, into, semantic.JSONPointer, semantic.ByteOffset)
	case errors.As(err, &syntactic):
		why := "malformed JSON"
		if errors.Is(err, io.ErrUnexpectedEOF) {
			why = "truncated JSON"
		}
		return fmt.Errorf("%w: %s at %q (byte %d)", errUndecodable, why, syntactic.JSONPointer, syntactic.ByteOffset)
	default:
		return fmt.Errorf("%w: %s", errUndecodable, reflect.TypeOf(err))
	}
}

// decodePod reads a pod as decodeJSON does, with the hand-written decoder the webhook
// reads every review's pod with (internal/podjson).
func decodePod(data []byte, pod *corev1.Pod) error {
	return decodeJSON(data, podjson.Into(pod))
}

// errUndecodable marks input that is not the JSON of the expected object.
var errUndecodable = errors.New("not the expected JSON")

// lenient are the decoder options encoding/json has always had.
var lenient = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
