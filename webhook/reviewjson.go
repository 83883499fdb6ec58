package webhook

import (
	"encoding/base64"
	"strconv"
	"sync"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// appendReview writes out, an AdmissionReview that answers, byte for byte as
// jsonv2.Marshal(out, jsonv1.DefaultOptionsV1()) writes it: json/v2's reflection over the
// review cost a fifth of writing it. It reports false, writing nothing, for a review with
// parts it does not write (another kind, a request, no response, audit annotations, status
// details or type and list metadata), which the caller leaves to json/v2.
// TestReviewIsJSONv2 holds the two to the same bytes.
func appendReview(b []byte, out review) ([]byte, bool) {
	resp := out.Response
	if out.Kind != "AdmissionReview" || out.Request != nil || resp == nil || len(resp.AuditAnnotations) > 0 || !plainStatus(resp.Result) {
		return b, false
	}
	b = append(b, `{"apiVersion":`...)
	b = appendV1String(b, out.APIVersion)
	b = append(b, `,"kind":"AdmissionReview","response":{"uid":`...)
	b = appendV1String(b, string(resp.UID))
	b = append(b, `,"allowed":`...)
	b = strconv.AppendBool(b, resp.Allowed)
	if s := resp.Result; s != nil {
		b = append(b, `,"status":{"metadata":{}`...)
		for _, m := range [...]struct{ key, value string }{
			{`,"status":`, s.Status}, {`,"message":`, s.Message}, {`,"reason":`, string(s.Reason)},
		} {
			if m.value != "" {
				b = appendV1String(append(b, m.key...), m.value)
			}
		}
		if s.Code != 0 {
			b = strconv.AppendInt(append(b, `,"code":`...), int64(s.Code), 10)
		}
		b = append(b, '}')
	}
	if len(resp.Patch) > 0 {
		b = append(b, `,"patch":"`...)
		b = base64.StdEncoding.AppendEncode(b, resp.Patch)
		b = append(b, '"')
	}
	if resp.PatchType != nil {
		b = appendV1String(append(b, `,"patchType":`...), string(*resp.PatchType))
	}
	if len(resp.Warnings) > 0 {
		b = append(b, `,"warnings":[`...)
		for i, w := range resp.Warnings {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendV1String(b, w)
		}
		b = append(b, ']')
	}
	return append(b, "}}"...), true
}

// plainStatus says whether appendReview writes s whole: none, or only its status,
// message, reason and code. A field a newer API adds to metav1.Status fails
// TestReviewKnowsEveryField.
func plainStatus(s *metav1.Status) bool {
	return s == nil || *s == metav1.Status{Status: s.Status, Message: s.Message, Reason: s.Reason, Code: s.Code}
}

// appendV1String writes s quoted as json/v2 does under jsonv1.DefaultOptionsV1: a
// plainJSON string as it is, any other through json/v2 itself.
func appendV1String(b []byte, s string) []byte {
	if !plainJSON(s) {
		out, err := jsonv2.Marshal(s, jsonv1.DefaultOptionsV1())
		if err != nil {
			panic("json/v2 cannot encode a string: " + err.Error()) // it always can, invalid UTF-8 included
		}
		return append(b, out...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// reviewBuffers recycles response buffers, each a *[]byte, as patchBuffers does patches.
var reviewBuffers sync.Pool

// maxPooledReview keeps the rare huge response from pinning its buffer in the pool.
const maxPooledReview = 256 << 10
