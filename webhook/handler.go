// Package webhook adapts the injector to Kubernetes admission: it decodes the pod, applies
// its settings, calls injector.Inject and answers with a JSON patch. It also serves the
// TLS endpoint, health probes and metrics.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/injector"
	"github.com/vault-injector/vault-injector/vaultref"
)

// jsonPatchType is the only patch type admission allows; a variable, as the API wants a pointer.
var jsonPatchType = admissionv1.PatchTypeJSONPatch

// MutatePath is where the apiserver sends pod admission reviews.
const MutatePath = "/mutate-pods"

// Handler is the pod mutation as an admission.Handler. It does no I/O of its own, so it
// is safe for dry-run requests and cheap on the admission path.
type Handler struct {
	// Config is the webhook-wide configuration every pod's settings start from.
	Config config.Webhook
	// Metrics records outcomes; nil records nothing.
	Metrics *Metrics
	// Facts does the lookups the mutation needs (image entrypoints); nil does none.
	Facts *FactFinder
}

var _ admission.Handler = (*Handler)(nil)

// errMalformed rejects reviews without a request uid or operation (an empty body decodes
// into one): answering "allowed" to those would hide a broken caller.
var errMalformed = errors.New("malformed admission review: the request has no uid or operation")

// errNotAPod rejects requests for other resources: the webhook is registered for pods only,
// so anything else means a misconfigured MutatingWebhookConfiguration.
var errNotAPod = errors.New("this webhook only handles pods")

// Handle implements admission.Handler.
func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	resp, outcome := h.handle(ctx, req)
	h.Metrics.observe(outcome, time.Since(start))
	return resp
}

func (h *Handler) handle(ctx context.Context, req admission.Request) (admission.Response, Outcome) {
	log := logf.FromContext(ctx)
	if req.Operation == admissionv1.Update && req.SubResource == "ephemeralcontainers" && req.Kind.Group == "" && req.Kind.Kind == "Pod" {
		return h.ephemeral(ctx, req)
	}
	if resp, outcome, done := screen(log, req); done {
		return resp, outcome
	}
	// Cheapest test first: most pods hold no marker at all.
	if raw := bytes.TrimSpace(req.Object.Raw); len(raw) > 0 && raw[0] == '{' && !mayNeedWork(raw) && validJSON(raw) {
		log.V(1).Info("pod left unchanged", "reason", injector.SkipNoReferences)
		return admission.Allowed(string(injector.SkipNoReferences)), OutcomeSkipped
	}
	var pod corev1.Pod
	if err := decodeJSON(req.Object.Raw, &pod); err != nil {
		log.Error(err, "cannot decode pod")
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decode pod: %w", err)), OutcomeError
	}
	if pod.Namespace != "" && pod.Namespace != req.Namespace {
		log.Info("denied pod: namespace mismatch")
		return admission.Denied(fmt.Sprintf("%v: the pod says %q, the request %q", errOtherNamespace,
			truncate(pod.Namespace, maxNameBytes), truncate(req.Namespace, maxNameBytes))), OutcomeDenied
	}
	pod.Namespace = req.Namespace
	log = log.WithValues("pod", injector.PodName(&pod), "dryRun", req.DryRun != nil && *req.DryRun)
	return h.mutate(logr.NewContext(ctx, log), &pod)
}

// screen answers the requests that are not a pod creation to mutate, from the request
// alone; done says it did.
func screen(log logr.Logger, req admission.Request) (resp admission.Response, outcome Outcome, done bool) {
	switch {
	case req.UID == "" || req.Operation == "":
		// The apiserver always sets both: this is not an admission request.
		log.Error(errMalformed, "malformed admission request")
		return admission.Errored(http.StatusBadRequest, errMalformed), OutcomeError, true
	case req.Operation != admissionv1.Create:
		return admission.Allowed("only pod creation is mutated"), OutcomeSkipped, true
	case req.Kind.Group != "" || req.Kind.Kind != "Pod" || req.SubResource != "":
		log.Error(errNotAPod, "unexpected admission request", "kind", req.Kind, "subResource", truncate(req.SubResource, maxNameBytes))
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("%w, got %s %q", errNotAPod,
			truncate(req.Kind.Kind, maxNameBytes), truncate(req.SubResource, maxNameBytes))), OutcomeError, true
	case req.Namespace == "":
		log.Info("denied pod: no namespace in the request")
		return admission.Denied(errNoNamespace.Error()), OutcomeDenied, true
	}
	return admission.Response{}, "", false
}

// ephemeral checks the ephemeral containers a debug session adds to a running pod: none may
// reach the injector's volumes or envexec. Nothing is mutated.
func (h *Handler) ephemeral(ctx context.Context, req admission.Request) (admission.Response, Outcome) {
	log := logf.FromContext(ctx)
	var pod corev1.Pod
	if err := decodeJSON(req.Object.Raw, &pod); err != nil {
		log.Error(err, "cannot decode pod")
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decode pod: %w", err)), OutcomeError
	}
	pod.Namespace = req.Namespace
	if err := injector.EphemeralProblems(&pod); err != nil {
		log.Info("denied ephemeral container", "pod", injector.PodName(&pod), "reason", problemMessage(err))
		return admission.Denied(problemMessage(err)), OutcomeDenied
	}
	return admission.Allowed("ephemeral containers stay away from the injector's parts"), OutcomeSkipped
}

// mutate applies the pod's settings, gathers the facts, runs the injector and writes the
// patch of what it changed.
func (h *Handler) mutate(ctx context.Context, pod *corev1.Pod) (admission.Response, Outcome) {
	log := logr.FromContextOrDiscard(ctx)

	cfg, annotationWarnings, err := config.ParsePod(pod.Annotations, pod.Spec.ServiceAccountName, h.Config)
	if err != nil {
		log.Info("denied pod: bad annotations", "reason", problemMessage(err))
		return deny(pod, err, annotationWarnings), OutcomeDenied
	}
	if !cfg.Inject {
		log.V(1).Info("pod left unchanged", "reason", injector.SkipOptedOut)
		return admission.Allowed(string(injector.SkipOptedOut)), OutcomeSkipped
	}
	facts, warnings, err := h.Facts.Find(ctx, pod.Namespace, pod, cfg)
	warnings = append(annotationWarnings, warnings...)
	switch {
	case errors.Is(err, errLookup) && registryUnavailable(err):
		// Not the pod's fault: answering "denied" would hide an outage from the error
		// alerts and tell the user to fix a pod that is fine.
		log.Error(errors.New(problemMessage(err)), "cannot read image configs: registry unavailable")
		return errored(pod, err, warnings), OutcomeError
	case errors.Is(err, errLookup):
		log.Info("denied pod: image lookup failed", "reason", problemMessage(err))
		return deny(pod, err, warnings), OutcomeDenied
	case err != nil:
		log.Error(err, "cannot gather facts")
		return errored(pod, err, warnings), OutcomeError
	}
	out, report, err := injector.Inject(pod, cfg, facts)
	if err != nil {
		log.Info("denied pod: cannot inject", "reason", problemMessage(err))
		return admission.Denied(problemMessage(err)).WithWarnings(boundWarnings(warnings)...), OutcomeDenied
	}
	if report.Skipped != injector.SkipNone {
		log.V(1).Info("pod left unchanged", "reason", report.Skipped)
		return admission.Allowed(string(report.Skipped)), OutcomeSkipped
	}
	patch, err := buildPatch(pod, out)
	if err != nil {
		log.Error(err, "cannot compute patch")
		return admission.Errored(http.StatusInternalServerError, err), OutcomeError
	}
	resp := admission.Allowed("")
	resp.Patch, resp.PatchType = patch, &jsonPatchType
	for _, c := range report.Containers {
		log.V(1).Info("wrapped container", "container", c.Name, "init", c.Init, "variables", c.Variables)
	}
	log.Info("injected pod", "containers", len(report.Containers), "role", cfg.Role, "vaultAddr", cfg.VaultAddr)
	return resp.WithWarnings(boundWarnings(append(warnings, report.Warnings...))...), OutcomeMutated
}

// deny answers a pod the user can fix: the pod's name, then its problems, bounded.
func deny(pod *corev1.Pod, err error, warnings []string) admission.Response {
	return admission.Denied(fmt.Sprintf("pod %q: %s", truncate(injector.PodName(pod), 2*maxNameBytes), problemMessage(err))).
		WithWarnings(boundWarnings(warnings)...)
}

// errored answers a pod the webhook could not handle for want of a dependency (a registry,
// the apiserver): HTTP 500, the pod's name, then the problems, bounded. The apiserver
// refuses the pod whatever the failure policy, which covers only a webhook it cannot call.
func errored(pod *corev1.Pod, err error, warnings []string) admission.Response {
	msg := fmt.Sprintf("pod %q: %s", truncate(injector.PodName(pod), 2*maxNameBytes), problemMessage(err))
	return admission.Errored(http.StatusInternalServerError, errors.New(msg)).WithWarnings(boundWarnings(warnings)...)
}

// workMarkers are the byte strings without which a pod needs nothing from us: no
// reference (every form contains one of vaultref.Schemes), none of our annotations to
// check. The apiserver serializes objects with Go's encoder, which never escapes these
// bytes.
var workMarkers = func() [][]byte {
	out := [][]byte{[]byte(config.AnnotationPrefix), []byte(config.BankVaultsPrefix)}
	for _, s := range vaultref.Schemes() {
		out = append(out, []byte(s))
	}
	return out
}()

// mayNeedWork is a cheap pre-check on the raw pod: most pods in a cluster hold no
// reference, and answering them without decoding keeps the admission path near its floor.
func mayNeedWork(raw []byte) bool {
	return slices.ContainsFunc(workMarkers, func(m []byte) bool { return bytes.Contains(raw, m) })
}
