package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/go-logr/logr"
	"golang.org/x/sync/semaphore"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxReviewBytes caps a request body: two objects of at most 3 MiB (the old and the new)
// and the rest of the review, as the apiserver may send.
const maxReviewBytes = 7 << 20

// bodies recycles request buffers: reading a review into a fresh slice was the largest
// allocation of a request. Decoding copies what it keeps, so a buffer is free again once
// the review is decoded.
var bodies sync.Pool

// maxPooledBytes keeps the rare huge review from pinning its buffer in the pool.
const maxPooledBytes = 256 << 10

// preGrowBytes is the most a buffer is grown to for an announced length before any of
// the body arrives: reviews are kilobytes.
const preGrowBytes = 32 << 10

func getBuffer(contentLength int64) *bytes.Buffer {
	buf, ok := bodies.Get().(*bytes.Buffer)
	if !ok {
		buf = new(bytes.Buffer)
	}
	// Sized for the announced body, but never beyond preGrowBytes: a client that announces
	// 7 MiB and sends nothing must not get our memory for free. A larger body grows the
	// buffer as it arrives, each byte charged to the budget first (budgetedBody).
	if contentLength > 0 {
		buf.Grow(int(min(contentLength, preGrowBytes)) + bytes.MinRead)
	}
	return buf
}

func putBuffer(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledBytes {
		return
	}
	buf.Reset()
	bodies.Put(buf)
}

// reviewVersions are the AdmissionReview versions we answer; both share one shape.
var reviewVersions = map[string]bool{"admission.k8s.io/v1": true, "admission.k8s.io/v1beta1": true}

// ReviewServer is the HTTP side of the admission webhook. It decodes AdmissionReviews with
// decodeJSON (encoding/json/v2): controller-runtime's universal deserializer cost more
// per request than the whole mutation. It answers every request with an
// AdmissionReview, errors included, and never lets a panic escape.
type ReviewServer struct {
	// Handler decides each request.
	Handler RequestHandler
	// Log is the base logger; requests add their uid, namespace, name and user to it.
	Log logr.Logger
	// BodyBytesInFlight bounds the request body bytes held at once, read and not yet
	// decoded, over all requests; 0 means DefaultBodyBytesInFlight. A read waits up to
	// budgetWait for room, then the request is refused.
	BodyBytesInFlight int64

	budgetOnce sync.Once
	budget     *semaphore.Weighted
}

// DefaultBodyBytesInFlight is ReviewServer's default bound on the body bytes held at
// once. Whoever reaches the port can send large bodies slowly; the read timeout ends
// each after 30 s, but without a bound on all of them together enough of them would
// still take a replica past its memory limit. Bytes are charged as they arrive, not as
// announced, so holding the budget costs a caller the bytes themselves. Real reviews
// are kilobytes.
const DefaultBodyBytesInFlight = 32 << 20

// budgetWait is how long a read waits for room in the budget before its request is
// refused: long enough for a burst of legitimate reviews to be decoded.
const budgetWait = 2 * time.Second

// errBusy refuses a request whose body found no room in the budget in time.
var errBusy = errors.New("too many request bytes are being read at once; try again")

// bodyBudget is the server's bound on body bytes held, made on first use.
func (s *ReviewServer) bodyBudget() *semaphore.Weighted {
	s.budgetOnce.Do(func() {
		limit := s.BodyBytesInFlight
		if limit <= 0 {
			limit = DefaultBodyBytesInFlight
		}
		s.budget = semaphore.NewWeighted(limit)
	})
	return s.budget
}

// budgetedBody charges what it reads to the budget, waiting up to budgetWait for room,
// and gives it all back with release. A caller that sends nothing holds nothing.
type budgetedBody struct {
	r      io.Reader
	ctx    context.Context //nolint:containedctx // the request's, for the reads of its body only
	budget *semaphore.Weighted
	held   int64
}

func (b *budgetedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		if !b.budget.TryAcquire(int64(n)) {
			ctx, cancel := context.WithTimeout(b.ctx, budgetWait)
			aerr := b.budget.Acquire(ctx, int64(n))
			cancel()
			if aerr != nil {
				return 0, errBusy
			}
		}
		b.held += int64(n)
	}
	return n, err
}

// release gives back what the body held, once it is decoded (decoding copies what it keeps).
func (b *budgetedBody) release() {
	b.budget.Release(b.held)
	b.held = 0
}

// review is an AdmissionReview of either version, as read and written.
type review struct {
	APIVersion string                         `json:"apiVersion"`
	Kind       string                         `json:"kind"`
	Request    *admissionv1.AdmissionRequest  `json:"request,omitempty"`
	Response   *admissionv1.AdmissionResponse `json:"response,omitempty"`
}

// ServeHTTP implements http.Handler.
func (s *ReviewServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	buf := getBuffer(r.ContentLength)
	defer putBuffer(buf)
	in := &budgetedBody{r: io.LimitReader(r.Body, maxReviewBytes+1), ctx: r.Context(), budget: s.bodyBudget()}
	defer in.release() // on every path; a no-op once released below
	_, err := buf.ReadFrom(in)
	body := buf.Bytes()
	switch {
	case errors.Is(err, errBusy):
		s.fail(w, "", http.StatusTooManyRequests, errBusy)
		return
	case err != nil:
		s.fail(w, "", http.StatusBadRequest, fmt.Errorf("read request body: %w", err))
		return
	case len(body) > maxReviewBytes:
		s.fail(w, "", http.StatusRequestEntityTooLarge, fmt.Errorf("request entity is too large; limit is %d bytes", maxReviewBytes))
		return
	case len(body) == 0:
		s.fail(w, "", http.StatusBadRequest, errors.New("request body is empty"))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		s.fail(w, "", http.StatusBadRequest, fmt.Errorf("contentType=%s, expected application/json", ct))
		return
	}
	req, apiVersion, err := readReview(body)
	in.release() // decoded: the body's bytes are no longer needed
	if err != nil {
		s.fail(w, apiVersion, http.StatusBadRequest, err)
		return
	}
	resp := s.handle(r, req)
	resp.UID = req.UID
	if resp.Result == nil {
		resp.Result = &metav1.Status{}
	}
	if resp.Result.Code == 0 {
		resp.Result.Code = http.StatusOK
	}
	s.write(w, review{APIVersion: apiVersion, Kind: "AdmissionReview", Response: &resp.AdmissionResponse})
	if resp.patchOwned {
		releasePatch(resp.Patch) // written out: the encoder copied it into the response
	}
}

// readReview decodes an AdmissionReview of either version. The fast path decodes the pod
// with the rest in one pass; a body it cannot read goes through the slow path, which keeps
// the object's bytes for the handler to decode, so every error names what went wrong where.
func readReview(body []byte) (Request, string, error) {
	var fast wireReview
	if err := decodeJSON(body, &fast); err == nil && reviewVersions[fast.APIVersion] && fast.Kind == "AdmissionReview" && fast.Request != nil {
		return Request{AdmissionRequest: fast.Request.AdmissionRequest, pod: fast.Request.Object.pod}, fast.APIVersion, nil
	}
	var in review
	if err := decodeJSON(body, &in); err != nil {
		return Request{}, "", fmt.Errorf("decode AdmissionReview: %w", err)
	}
	if !reviewVersions[in.APIVersion] || in.Kind != "AdmissionReview" {
		return Request{}, "", fmt.Errorf("not an AdmissionReview of admission.k8s.io/v1 or v1beta1: %s %s", in.APIVersion, in.Kind)
	}
	if in.Request == nil {
		return Request{}, in.APIVersion, errMalformed
	}
	return Request{AdmissionRequest: *in.Request}, in.APIVersion, nil
}

// handle runs the handler with a request-scoped logger, turning a panic into a 500.
func (s *ReviewServer) handle(r *http.Request, req Request) (resp Response) {
	log := deferValues(s.Log, "requestID", req.UID, "namespace", req.Namespace, "name", req.Name, "user", req.UserInfo.Username)
	defer func() {
		if p := recover(); p != nil {
			log.Error(fmt.Errorf("%v", p), "panic while handling an admission request")
			resp = Errored(http.StatusInternalServerError, errors.New("internal error"))
		}
	}()
	return s.Handler.Handle(logr.NewContext(r.Context(), log), req)
}

// fail answers with an AdmissionReview that carries the error: the apiserver reads the
// review, not the HTTP status.
func (s *ReviewServer) fail(w http.ResponseWriter, apiVersion string, code int32, err error) {
	s.Log.Info("bad admission request", "code", code, "reason", err.Error())
	resp := Errored(code, err)
	if apiVersion == "" {
		apiVersion = "admission.k8s.io/v1"
	}
	s.write(w, review{APIVersion: apiVersion, Kind: "AdmissionReview", Response: &resp.AdmissionResponse})
}

func (s *ReviewServer) write(w http.ResponseWriter, out review) {
	w.Header().Set("Content-Type", "application/json")
	buf, _ := reviewBuffers.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	b, ok := appendReview((*buf)[:0], out)
	var err error
	if ok {
		_, err = w.Write(b)
		if cap(b) <= maxPooledReview {
			*buf = b
			reviewBuffers.Put(buf)
		}
	} else {
		err = jsonv2.MarshalWrite(w, out, jsonv1.DefaultOptionsV1())
	}
	if err != nil {
		s.Log.Error(err, "cannot write the admission response")
	}
}
