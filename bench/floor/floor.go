// Package floor is the admission server the webhook is measured against: it does the least
// any webhook must (read the body, decode the AdmissionReview, answer with a fixed allowed
// response and patch), so the gap to it is what vault-injector's own work costs.
package floor

import (
	"fmt"
	"io"
	"net/http"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxBody is the apiserver's and controller-runtime's limit on an admission body.
const maxBody = 7 << 20

// lenient are the options the webhook decodes with (webhook/decode.go): the floor must pay
// for the same decoder, or the ratio measures the JSON library instead of our work.
var lenient = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// Handler answers every AdmissionReview with Patch; it is safe for concurrent use.
type Handler struct {
	// Patch is the JSON patch every response carries; the harness sets the webhook's own
	// answer for the same pod, so both servers send the same number of bytes.
	Patch []byte
	// DecodePod also decodes the request's object into a corev1.Pod, as any webhook that
	// reads the pod must; the load harness leaves it off, the Go benchmarks measure both
	// to show how much of the webhook's cost is that decoding.
	DecodePod bool
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		http.Error(w, fmt.Sprintf("read body: %v (limit %d bytes)", err, maxBody), http.StatusBadRequest)
		return
	}
	var review admissionv1.AdmissionReview
	if h.DecodePod {
		var withPod podReview
		if err := jsonv2.Unmarshal(body, &withPod, lenient); err != nil || withPod.Request == nil {
			http.Error(w, fmt.Sprintf("decode admission review and pod: %v", err), http.StatusBadRequest)
			return
		}
		review.TypeMeta, review.Request = withPod.TypeMeta, &withPod.Request.AdmissionRequest
	} else if err := jsonv2.Unmarshal(body, &review, lenient); err != nil || review.Request == nil {
		http.Error(w, fmt.Sprintf("decode admission review: %v", err), http.StatusBadRequest)
		return
	}
	patchType := admissionv1.PatchTypeJSONPatch
	review.Response = &admissionv1.AdmissionResponse{
		UID: review.Request.UID, Allowed: true, PatchType: &patchType, Patch: h.Patch,
	}
	review.Request = nil
	w.Header().Set("Content-Type", "application/json")
	if err := jsonv2.MarshalWrite(w, &review, jsonv1.DefaultOptionsV1()); err != nil {
		// The client is gone; there is no one left to tell.
		return
	}
}

// podReview is an AdmissionReview whose object is decoded as a pod in the same pass, as
// the webhook reads it (webhook/admission.go).
type podReview struct {
	metav1.TypeMeta `json:",inline"`
	Request         *struct {
		admissionv1.AdmissionRequest
		// Object shadows the embedded request's raw object.
		Object corev1.Pod `json:"object"`
	} `json:"request"`
}
