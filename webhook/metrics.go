package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vault-injector/vault-injector/internal/buildinfo"
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
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	imageLookups *prometheus.CounterVec
	lookupTime   *prometheus.HistogramVec
}

// NewMetrics registers the series on reg (controller-runtime's registry in production).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vault_injector_admission_requests_total",
			Help: "Pod admission requests handled, by outcome: mutated, skipped, denied (the pod's fault), error (a dependency or the request failed).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vault_injector_admission_duration_seconds",
			Help: "Time to handle one pod admission request, by outcome.",
			// From the cheap skip (~0.1 ms) to past the longest webhook timeout the apiserver
			// allows (30 s): a request that overstays it must land in a bucket of its own, not
			// in +Inf beside one that took 2 s.
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60},
		}, []string{"outcome"}),
		imageLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vault_injector_image_lookups_total",
			Help: "Image config lookups, by outcome (hit, fetched, negative-hit, error).",
		}, []string{"outcome"}),
	}
	m.lookupTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "vault_injector_image_lookup_duration_seconds",
		Help: "Time to answer one image config lookup, by outcome.",
		// Up to the resolver's fetch timeout (30 s) and past it.
		Buckets: []float64{0.00001, 0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"outcome"})
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.imageLookups, m.lookupTime, buildInfoGauge(buildinfo.Read())} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, o := range []Outcome{OutcomeMutated, OutcomeSkipped, OutcomeDenied, OutcomeError} {
		m.requests.WithLabelValues(string(o))
		m.latency.WithLabelValues(string(o))
	}
	return m, nil
}

// buildInfoGauge is vault_injector_build_info: 1, labelled with which build runs, so a
// dashboard or an alert can tell the versions of a rollout apart. The labels come from
// the binary, never from a request, so they are few and hold nothing secret.
func buildInfoGauge(info buildinfo.Info) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vault_injector_build_info",
		Help: "Always 1; the labels name the running build: version, commit and the Go version that built it.",
	}, []string{"version", "commit", "go_version"})
	g.WithLabelValues(info.Version, info.Commit, info.GoVersion).Set(1)
	return g
}

func (m *Metrics) observe(o Outcome, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(string(o)).Inc()
	m.latency.WithLabelValues(string(o)).Observe(d.Seconds())
}

// ImageLookup records one image config lookup; pass it to registry.New.
func (m *Metrics) ImageLookup(o registry.Outcome, d time.Duration) {
	if m == nil {
		return
	}
	m.imageLookups.WithLabelValues(string(o)).Inc()
	m.lookupTime.WithLabelValues(string(o)).Observe(d.Seconds())
}
