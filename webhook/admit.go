package webhook

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/injector"
)

// Decision is what the webhook makes of one pod, whoever asked: the admission handler
// answers with it, `vault-injector mutate -f` prints it.
type Decision struct {
	// Outcome is mutated, skipped, denied or error (a dependency failed, not the pod).
	Outcome Outcome
	// Skipped is why a skipped pod was left alone.
	Skipped injector.SkipReason
	// Patch is the JSON patch against the pod as submitted; nil unless mutated.
	Patch []byte
	// Err says why the pod was denied or errored. Its text names pod, container and
	// variable, never a value.
	Err error
	// Warnings are for the user (kubectl prints them): annotations, pull secrets, and
	// references let through in warn mode.
	Warnings []string
	// Config is the pod's parsed settings, for logs; zero when its annotations were bad.
	Config config.Pod
	// Report says what the injector did, for logs.
	Report injector.Report
}

// Admit is the one composition of a pod's mutation: parse its settings, plan, gather the
// facts the plan names (facts may be nil: no lookups), inject, and write the patch from
// the paths the injector changed. pod.Namespace must be the caller's word (the admission
// request's), since pull secrets are read there. The injection is written into pod itself
// (injector.Plan.InjectInPlace): callers hand over a pod they decoded for this call alone.
func Admit(ctx context.Context, pod *corev1.Pod, wh config.Webhook, facts *FactFinder) Decision {
	cfg, warnings, err := config.ParsePod(pod.Annotations, pod.Spec.ServiceAccountName, wh)
	if err != nil {
		return Decision{Outcome: OutcomeDenied, Err: podError(pod, err), Warnings: warnings}
	}
	d := Decision{Config: cfg, Warnings: warnings}
	plan := injector.NewPlan(pod, cfg)
	if d.Skipped = plan.Skipped(); d.Skipped != injector.SkipNone {
		d.Outcome = OutcomeSkipped
		return d
	}
	if err := plan.Err(); err != nil {
		d.Outcome, d.Err = OutcomeDenied, err
		return d
	}
	found, lookupWarnings, err := facts.Find(ctx, pod.Namespace, pod, plan.Lookups)
	d.Warnings = append(d.Warnings, lookupWarnings...)
	switch {
	case errors.Is(err, errLookup) && registryUnavailable(err):
		// Not the pod's fault: answering "denied" would hide an outage from the error
		// alerts and tell the user to fix a pod that is fine.
		d.Outcome, d.Err = OutcomeError, podError(pod, err)
		return d
	case errors.Is(err, errLookup):
		d.Outcome, d.Err = OutcomeDenied, podError(pod, err)
		return d
	case err != nil:
		d.Outcome, d.Err = OutcomeError, podError(pod, err)
		return d
	}
	report, err := plan.InjectInPlace(found)
	if err != nil {
		d.Outcome, d.Err = OutcomeDenied, err
		return d
	}
	d.Report, d.Warnings = report, append(d.Warnings, report.Warnings...)
	if d.Skipped = report.Skipped; d.Skipped != injector.SkipNone || len(report.Changes) == 0 {
		d.Outcome = OutcomeSkipped
		return d
	}
	if d.Patch, err = patchOf(report.Changes); err != nil {
		d.Outcome, d.Err = OutcomeError, err
		return d
	}
	d.Outcome = OutcomeMutated
	return d
}

// Message is the decision's error for the user: its problems one per line, bounded; ""
// when there is none.
func (d Decision) Message() string {
	if named, ok := d.Err.(*namedError); ok { //nolint:errorlint // only an error Admit made itself, not one it wraps
		return named.Error() // bounded already
	}
	if d.Err == nil {
		return ""
	}
	return problemMessage(d.Err)
}

// podError puts the pod's name in front of problems that do not name it themselves
// (annotations, lookups); the injector's FieldErrors already do.
func podError(pod *corev1.Pod, err error) error {
	return &namedError{pod: truncate(injector.PodName(pod), 2*maxNameBytes), err: err}
}

// namedError is err about one pod; its message is the pod's name, then err's problems
// one per line, bounded.
type namedError struct {
	pod string
	err error
}

func (e *namedError) Error() string {
	return fmt.Sprintf("pod %q: %s", e.pod, problemMessage(e.err))
}

func (e *namedError) Unwrap() error { return e.err }
