package report

import "fmt"

// The targets for the admission path.
const (
	// MinThroughputRatio is the least webhook/floor throughput accepted.
	MinThroughputRatio = 0.8
	// MaxP99Ratio is the most webhook/floor p99 latency accepted.
	MaxP99Ratio = 1.5
	// MaxPeakRSS is the webhook's memory budget under load.
	MaxPeakRSS = 40 << 20
)

// Target is one of the targets and how this run fared.
type Target struct {
	// Name says what is measured and the limit.
	Name string `json:"name"`
	// Clients is the load level it applies to; 0 for all levels.
	Clients int `json:"clients,omitempty"`
	// Value is the measured figure.
	Value float64 `json:"value"`
	// Limit is the target figure.
	Limit float64 `json:"limit"`
	// Met says whether the figure meets the target.
	Met bool `json:"met"`
	// Gap says how far a missed target is, in words.
	Gap string `json:"gap,omitempty"`
}

// EvaluateAdmission checks the load figures against the targets: the two ratios at every
// level, and the webhook's peak memory over the whole run.
func EvaluateAdmission(a *Admission) []Target {
	var out []Target
	var peak int64
	for _, l := range a.Levels {
		tp := Target{
			Name: fmt.Sprintf("throughput ≥ %.1f× floor", MinThroughputRatio), Clients: l.Clients,
			Value: l.ThroughputRatio, Limit: MinThroughputRatio, Met: l.ThroughputRatio >= MinThroughputRatio,
		}
		if !tp.Met && l.ThroughputRatio > 0 {
			tp.Gap = fmt.Sprintf("%.0f%% more requests/s needed (%.0f, want ≥ %.0f)",
				(MinThroughputRatio/l.ThroughputRatio-1)*100, l.Ours.Throughput, MinThroughputRatio*l.Floor.Throughput)
		}
		p99 := Target{
			Name: fmt.Sprintf("p99 ≤ %.1f× floor", MaxP99Ratio), Clients: l.Clients,
			Value: l.P99Ratio, Limit: MaxP99Ratio, Met: l.P99Ratio > 0 && l.P99Ratio <= MaxP99Ratio,
		}
		if !p99.Met && l.P99Ratio > 0 {
			limit := MaxP99Ratio * float64(l.Floor.Latency.P99)
			p99.Gap = fmt.Sprintf("p99 %s, %.0f%% over the %s limit", ms(l.Ours.Latency.P99),
				(float64(l.Ours.Latency.P99)/limit-1)*100, msf(limit))
		}
		out = append(out, tp, p99)
		peak = max(peak, l.Ours.PeakRSS)
	}
	if len(a.Levels) > 0 {
		rss := Target{Name: "peak RSS < 40 MiB", Value: mib(peak), Limit: mib(MaxPeakRSS), Met: peak < MaxPeakRSS}
		if !rss.Met {
			rss.Gap = fmt.Sprintf("%.1f MiB over", mib(peak-MaxPeakRSS))
		}
		out = append(out, rss)
	}
	return out
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
