package webhook

import (
	"context"
	"net/http"

	"github.com/go-json-experiment/json/jsontext"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vault-injector/vault-injector/injector"
	"github.com/vault-injector/vault-injector/internal/podjson"
)

// Request is one admission request as the apiserver sent it. Reviews read by
// ReviewServer carry the object already decoded as a pod (one pass over the body),
// without the members the admission path never reads (podjson.DecodeForAdmission); a
// Request built in code has only Object.Raw, which Pod decodes whole.
type Request struct {
	admissionv1.AdmissionRequest
	// pod is the object decoded with the review; nil when only Object.Raw is known.
	pod *corev1.Pod
}

// Pod returns the request's object as a pod, decoding Object.Raw when the review did not.
// The pod is the caller's to modify.
func (r *Request) Pod() (*corev1.Pod, error) {
	if r.pod != nil {
		return r.pod, nil
	}
	var pod corev1.Pod
	if err := decodePod(r.Object.Raw, &pod); err != nil {
		return nil, err
	}
	return &pod, nil
}

// Response is the answer to one Request, as the AdmissionReview carries it.
type Response struct {
	admissionv1.AdmissionResponse
	// patchOwned says Patch came from patchOf for this response alone, so ReviewServer
	// may recycle its buffer once written; a patch any other handler returns is never
	// recycled, as it may be shared.
	patchOwned bool
}

// RequestHandler decides admission requests; *Handler is the pod mutation.
type RequestHandler interface {
	// Handle answers req; it never fails, an error is an answer too.
	Handle(ctx context.Context, req Request) Response
}

// Allowed admits the object; message, if any, says why (a skip reason).
func Allowed(message string) Response {
	return Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: true, Result: &metav1.Status{Code: http.StatusOK, Message: message}}}
}

// Denied refuses the object with a message for its author (HTTP 403 in the status).
func Denied(message string) Response {
	return Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{
		Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden, Message: message,
	}}}
}

// Errored refuses the object because the request could not be decided: code is the HTTP
// status (400 for a malformed request, 500 for a failed dependency).
func Errored(code int32, err error) Response {
	return Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{Code: code, Message: err.Error()}}}
}

// WithWarnings adds warnings for the user; kubectl prints them.
func (r Response) WithWarnings(warnings ...string) Response {
	r.Warnings = append(r.Warnings, warnings...)
	return r
}

// wireReview is an AdmissionReview as the fast path reads it: its object decoded as a pod
// in the same pass as the rest, its old object skipped (the webhook never reads it). Any
// error sends the body down the slow path (review), which says precisely what is wrong.
type wireReview struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Request    *wireRequest `json:"request,omitempty"`
}

type wireRequest struct {
	admissionv1.AdmissionRequest
	// Object and OldObject shadow the embedded request's fields of the same names.
	Object    podObject `json:"object"`
	OldObject skipped   `json:"oldObject"`
}

// podObject decodes a request's object straight into a pod, leaving unread what the
// admission path never reads.
type podObject struct{ pod *corev1.Pod }

// UnmarshalJSONFrom implements the streaming unmarshaler of encoding/json/v2.
func (p *podObject) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if dec.PeekKind() == 'n' {
		p.pod = nil
		_, err := dec.ReadToken()
		return err
	}
	var pod corev1.Pod
	if err := podjson.DecodeForAdmission(dec, &pod, injector.ReadsVolume, injector.EnvRoom); err != nil {
		return err
	}
	p.pod = &pod
	return nil
}

// skipped is a value read and dropped.
type skipped struct{}

// UnmarshalJSONFrom implements the streaming unmarshaler of encoding/json/v2.
func (skipped) UnmarshalJSONFrom(dec *jsontext.Decoder) error { return dec.SkipValue() }
