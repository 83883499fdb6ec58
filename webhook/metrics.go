package webhook

import (
	"time"

	"github.com/vault-injector/vault-injector/internal/buildinfo"
	"github.com/vault-injector/vault-injector/internal/metrics"
	"github.com/vault-injector/vault-injector/registry"
)

// Outcome is what happened to one admission request; a closed set, so it is a safe label.
type Outcome string

// The outcomes of an admission request.
const (
	OutcomeMutated Outcome = "mutated"
	OutcomeSkipped Outcome = "skipped"
	OutcomeDenied  Outcome = "denied"
	OutcomeError   Outcome = "error"
)

// Metrics are the webhook's own Prometheus series, labelled by outcome only: pod, image or
// variable names would make unbounded series and could reveal more than they should.
type Metrics struct {
	requests     *metrics.CounterVec
	latency      *metrics.HistogramVec
	imageLookups *metrics.CounterVec
	lookupTime   *metrics.HistogramVec
}

// NewMetrics registers the series on reg, the server's own registry.
func NewMetrics(reg *metrics.Registry) (*Metrics, error) {
	m := &Metrics{
		requests: metrics.NewCounterVec("vault_injector_admission_requests_total",
			"Pod admission requests handled, by outcome: mutated, skipped, denied (the pod's fault), error (a dependency or the request failed).",
			"outcome"),
		imageLookups: metrics.NewCounterVec("vault_injector_image_lookups_total",
			"Image config lookups, by outcome (hit, fetched, negative-hit, error).", "outcome"),
	}
	var err error
	m.latency, err = metrics.NewHistogramVec("vault_injector_admission_duration_seconds",
		"Time to handle one pod admission request, by outcome.", "outcome",
		// From the cheap skip (~0.1 ms) to past the longest webhook timeout the apiserver
		// allows (30 s): a request that overstays it must land in a bucket of its own, not
		// in +Inf beside one that took 2 s.
		[]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60})
	if err != nil {
		return nil, err
	}
	m.lookupTime, err = metrics.NewHistogramVec("vault_injector_image_lookup_duration_seconds",
		"Time to answer one image config lookup, by outcome.", "outcome",
		// Up to the resolver's fetch timeout (30 s) and past it.
		[]float64{0.00001, 0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60})
	if err != nil {
		return nil, err
	}
	for _, c := range []metrics.Collector{m.requests, m.latency, m.imageLookups, m.lookupTime, buildInfoGauge(buildinfo.Read())} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, o := range []Outcome{OutcomeMutated, OutcomeSkipped, OutcomeDenied, OutcomeError} {
		m.requests.With(string(o))
		m.latency.With(string(o))
	}
	return m, nil
}

// buildInfoGauge is vault_injector_build_info: 1, labelled with which build runs, so a
// dashboard or an alert can tell the versions of a rollout apart. The labels come from
// the binary, never from a request, so they are few and hold nothing secret.
func buildInfoGauge(info buildinfo.Info) metrics.Collector {
	return metrics.NewFunc("vault_injector_build_info",
		"Always 1; the labels name the running build: version, commit and the Go version that built it.", "gauge",
		[]string{"commit", info.Commit, "go_version", info.GoVersion, "version", info.Version},
		func() (float64, bool) { return 1, true })
}

func (m *Metrics) observe(o Outcome, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.With(string(o)).Inc()
	m.latency.With(string(o)).Observe(d.Seconds())
}

// ImageLookup records one image config lookup; pass it to registry.New.
func (m *Metrics) ImageLookup(o registry.Outcome, d time.Duration) {
	if m == nil {
		return
	}
	m.imageLookups.With(string(o)).Inc()
	m.lookupTime.With(string(o)).Observe(d.Seconds())
}
