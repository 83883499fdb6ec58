// Package webhook adapts the injector to Kubernetes admission: it decodes the pod, applies
// its settings, calls injector.Inject and answers with a JSON patch. It also serves the
// TLS endpoint, health probes and metrics.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/injector"
)

// jsonPatchType is the only patch type admission allows; a variable, as the API wants a pointer.
var jsonPatchType = admissionv1.PatchTypeJSONPatch

// MutatePath is where the apiserver sends pod admission reviews.
const MutatePath = "/mutate-pods"

// Handler is the pod mutation as a RequestHandler. It does no I/O of its own, so it
// is safe for dry-run requests and cheap on the admission path.
type Handler struct {
	// Config is the webhook-wide configuration every pod's settings start from.
	Config config.Webhook
	// Metrics records outcomes; nil records nothing.
	Metrics *Metrics
	// Facts does the lookups the mutation needs (image entrypoints); nil does none.
	Facts *FactFinder
}

var _ RequestHandler = (*Handler)(nil)

// errMalformed rejects reviews without a request uid or operation (an empty body decodes
// into one): answering "allowed" to those would hide a broken caller.
var errMalformed = errors.New("malformed admission review: the request has no uid or operation")

// errNotAPod rejects requests for other resources: the webhook is registered for pods only,
// so anything else means a misconfigured MutatingWebhookConfiguration.
var errNotAPod = errors.New("this webhook only handles pods")

// Handle implements RequestHandler.
func (h *Handler) Handle(ctx context.Context, req Request) Response {
	start := time.Now()
	resp, outcome := h.handle(ctx, req)
	h.Metrics.observe(outcome, time.Since(start))
	return resp
}

func (h *Handler) handle(ctx context.Context, req Request) (Response, Outcome) {
	log := logr.FromContextOrDiscard(ctx)
	if req.Operation == admissionv1.Update && req.SubResource == "ephemeralcontainers" && req.Kind.Group == "" && req.Kind.Kind == "Pod" {
		return h.ephemeral(ctx, req)
	}
	if resp, outcome, done := screen(log, req); done {
		return resp, outcome
	}
	pod, err := req.Pod()
	if err != nil {
		log.Error(err, "cannot decode pod")
		return Errored(http.StatusBadRequest, fmt.Errorf("decode pod: %w", err)), OutcomeError
	}
	if pod.Namespace != "" && pod.Namespace != req.Namespace {
		log.Info("denied pod: namespace mismatch")
		return Denied(fmt.Sprintf("%v: the pod says %q, the request %q", errOtherNamespace,
			truncate(pod.Namespace, maxNameBytes), truncate(req.Namespace, maxNameBytes))), OutcomeDenied
	}
	pod.Namespace = req.Namespace
	log = log.WithValues("pod", injector.PodName(pod), "dryRun", req.DryRun != nil && *req.DryRun)
	return h.mutate(logr.NewContext(ctx, log), pod)
}

// screen answers the requests that are not a pod creation to mutate, from the request
// alone; done says it did.
func screen(log logr.Logger, req Request) (resp Response, outcome Outcome, done bool) {
	switch {
	case req.UID == "" || req.Operation == "":
		// The apiserver always sets both: this is not an admission request.
		log.Error(errMalformed, "malformed admission request")
		return Errored(http.StatusBadRequest, errMalformed), OutcomeError, true
	case req.Operation != admissionv1.Create:
		return Allowed("only pod creation is mutated"), OutcomeSkipped, true
	case req.Kind.Group != "" || req.Kind.Kind != "Pod" || req.SubResource != "":
		log.Error(errNotAPod, "unexpected admission request", "kind", req.Kind, "subResource", truncate(req.SubResource, maxNameBytes))
		return Errored(http.StatusBadRequest, fmt.Errorf("%w, got %s %q", errNotAPod,
			truncate(req.Kind.Kind, maxNameBytes), truncate(req.SubResource, maxNameBytes))), OutcomeError, true
	case req.Namespace == "":
		log.Info("denied pod: no namespace in the request")
		return Denied(errNoNamespace.Error()), OutcomeDenied, true
	}
	return Response{}, "", false
}

// ephemeral checks the ephemeral containers a debug session adds to a running pod: none may
// reach the injector's volumes or envexec. Nothing is mutated.
func (h *Handler) ephemeral(ctx context.Context, req Request) (Response, Outcome) {
	log := logr.FromContextOrDiscard(ctx)
	pod, err := req.Pod()
	if err != nil {
		log.Error(err, "cannot decode pod")
		return Errored(http.StatusBadRequest, fmt.Errorf("decode pod: %w", err)), OutcomeError
	}
	pod.Namespace = req.Namespace
	if err := injector.EphemeralProblems(pod); err != nil {
		log.Info("denied ephemeral container", "pod", injector.PodName(pod), "reason", problemMessage(err))
		return Denied(problemMessage(err)), OutcomeDenied
	}
	return Allowed("ephemeral containers stay away from the injector's parts"), OutcomeSkipped
}

// mutate runs the one composition (Admit) and answers with its decision.
func (h *Handler) mutate(ctx context.Context, pod *corev1.Pod) (Response, Outcome) {
	log := logr.FromContextOrDiscard(ctx)
	d := Admit(ctx, pod, h.Config, h.Facts)
	warnings := boundWarnings(d.Warnings)
	switch d.Outcome {
	case OutcomeSkipped:
		log.V(1).Info("pod left unchanged", "reason", d.Skipped)
		return Allowed(string(d.Skipped)).WithWarnings(warnings...), OutcomeSkipped
	case OutcomeDenied:
		log.Info("denied pod", "reason", d.Message())
		return Denied(d.Message()).WithWarnings(warnings...), OutcomeDenied
	case OutcomeError:
		log.Error(errors.New(d.Message()), "cannot decide on the pod")
		return Errored(http.StatusInternalServerError, errors.New(d.Message())).WithWarnings(warnings...), OutcomeError
	case OutcomeMutated:
	}
	resp := Allowed("")
	resp.Patch, resp.PatchType, resp.patchOwned = d.Patch, &jsonPatchType, true
	// Request detail goes at V(1), as for skipped pods: at info, every admitted pod cost an
	// encoded line and a write to stderr, for what the requests metric already counts.
	// Denials and errors, which someone must act on, stay at info.
	if debug := log.V(1); debug.Enabled() {
		for _, c := range d.Report.Containers {
			debug.Info("wrapped container", "container", c.Name, "init", c.Init, "variables", c.Variables)
		}
		debug.Info("injected pod", "containers", len(d.Report.Containers), "role", d.Config.Role, "vaultAddr", d.Config.VaultAddr)
	}
	return resp.WithWarnings(warnings...), OutcomeMutated
}
