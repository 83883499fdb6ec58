package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/vault-injector/vault-injector/bench/gobench"
)

// The targets for the admission path.
const (
	// MinThroughputRatio is the least webhook/floor throughput accepted.
	MinThroughputRatio = 0.85
	// MaxP99Ratio is the most webhook/floor p99 latency accepted.
	MaxP99Ratio = 1.3
	// MaxPeakRSS is the webhook's memory budget under load.
	MaxPeakRSS = 30 << 20
)

// Target is one of the targets and how this run fared.
type Target struct {
	// Name says what is measured and the limit.
	Name string `json:"name"`
	// Clients is the load level it applies to; 0 for all levels.
	Clients int `json:"clients,omitempty"`
	// Part names what the target is about when it is not the admission load run.
	Part string `json:"part,omitempty"`
	// Value is the measured figure.
	Value float64 `json:"value"`
	// Limit is the target figure.
	Limit float64 `json:"limit"`
	// Met says whether the figure meets the target.
	Met bool `json:"met"`
	// Gap says how far a missed target is, in words.
	Gap string `json:"gap,omitempty"`
}

// roundsReaching says how many rounds' own ratio reached the throughput target, so a
// ratio met or missed by less than the machine's noise reads as such; "" without rounds.
func roundsReaching(ratios []float64) string {
	if len(ratios) == 0 {
		return ""
	}
	n := 0
	for _, r := range ratios {
		if r >= MinThroughputRatio {
			n++
		}
	}
	return fmt.Sprintf("%d of %d rounds at ≥ %.2f", n, len(ratios), MinThroughputRatio)
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// EvaluateAdmission checks the load figures against the targets: the two ratios at every
// level, and the webhook's peak memory over the whole run.
func EvaluateAdmission(a *Admission) []Target {
	var out []Target
	var peak int64
	for _, l := range a.Levels {
		tp := Target{
			Name: fmt.Sprintf("throughput ≥ %.2f× floor", MinThroughputRatio), Clients: l.Clients,
			Value: l.ThroughputRatio, Limit: MinThroughputRatio, Met: l.ThroughputRatio >= MinThroughputRatio,
		}
		if !tp.Met && l.ThroughputRatio > 0 {
			tp.Gap = fmt.Sprintf("%.0f%% more requests/s needed (%.0f, want ≥ %.0f)",
				(MinThroughputRatio/l.ThroughputRatio-1)*100, l.Ours.Throughput, MinThroughputRatio*l.Floor.Throughput)
		}
		tp.Gap = joinNonEmpty(tp.Gap, roundsReaching(l.RoundThroughputRatios))
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
		rss := Target{Name: fmt.Sprintf("peak RSS ≤ %.0f MiB", mib(MaxPeakRSS)), Value: mib(peak), Limit: mib(MaxPeakRSS), Met: peak <= MaxPeakRSS}
		if !rss.Met {
			rss.Gap = fmt.Sprintf("%.1f MiB over", mib(peak-MaxPeakRSS))
		}
		out = append(out, rss)
	}
	return out
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// The targets for envexec.
const (
	// MaxEnvexecBytes is the largest stripped envexec binary accepted (8 MB).
	MaxEnvexecBytes = 8_000_000
	// MaxStartupRatio is the most envexec may take for 100 references over 20 paths, in
	// units of one login plus one read.
	MaxStartupRatio = 2
)

// Benchmark names the envexec targets compare; see envexec/bench_test.go.
const (
	startupBench    = "BenchmarkStartup/refs=100/paths=20"
	yardstickBench  = "BenchmarkVaultFloor/login+read"
	vaultFloorBench = "BenchmarkVaultFloor/login+20-reads"
)

// EvaluateEnvexec checks envexec's size (when measured, > 0) and its start-up with 100
// references over 20 paths against one login plus one read by a bare client in the same
// run. A miss also says what Vault alone needs for the same 20 reads, which bounds what
// any client can reach on this machine.
func EvaluateEnvexec(benchmarks []gobench.Benchmark, envexecBytes int64) []Target {
	var out []Target
	if envexecBytes > 0 {
		t := Target{Name: "envexec stripped binary < 8 MB", Part: "envexec", Value: float64(envexecBytes) / 1e6, Limit: MaxEnvexecBytes / 1e6, Met: envexecBytes < MaxEnvexecBytes}
		if !t.Met {
			t.Gap = fmt.Sprintf("%d bytes over", envexecBytes-MaxEnvexecBytes)
		}
		out = append(out, t)
	}
	medians := map[string]float64{}
	for _, b := range benchmarks {
		if strings.HasSuffix(b.Package, "/envexec") {
			medians[b.Name] = b.Metrics["ns/op"].Median
		}
	}
	startup, yardstick, floor := medians[startupBench], medians[yardstickBench], medians[vaultFloorBench]
	if startup == 0 || yardstick == 0 {
		return out
	}
	t := Target{
		Name:  fmt.Sprintf("envexec 100 refs / 20 paths ≤ %d× one login + one read", MaxStartupRatio),
		Part:  "envexec",
		Value: startup / yardstick, Limit: MaxStartupRatio, Met: startup/yardstick <= MaxStartupRatio,
	}
	if !t.Met {
		t.Gap = fmt.Sprintf("%s, want ≤ %s", dur(startup), dur(MaxStartupRatio*yardstick))
		if floor > 0 {
			t.Gap += fmt.Sprintf("; Vault alone takes %.1f× (%s) to log in and serve the 20 reads to a bare client, "+
				"and envexec takes %.2f× what Vault alone takes", floor/yardstick, dur(floor), startup/floor)
		}
	}
	return append(out, t)
}

// MaxImageVolumeOverhead is the most the image-volume delivery may add to the median start
// of the same pod without references.
const MaxImageVolumeOverhead = 0.20

// EvaluatePodStart checks the image-volume pod's median start against the plain pod's.
func EvaluatePodStart(p *PodStart) []Target {
	if p.Plain.P50 <= 0 || p.ImageVolume.P50 <= 0 {
		return nil
	}
	added := float64(p.ImageVolume.P50)/float64(p.Plain.P50) - 1
	t := Target{
		Name: fmt.Sprintf("image-volume pod start ≤ plain + %.0f%% (median)", MaxImageVolumeOverhead*100), Part: "pod start",
		Value: added, Limit: MaxImageVolumeOverhead, Met: added <= MaxImageVolumeOverhead,
	}
	if !t.Met {
		t.Gap = fmt.Sprintf("adds %s to the plain pod's %s, want ≤ %s", p.ImageVolume.P50-p.Plain.P50, p.Plain.P50,
			time.Duration(MaxImageVolumeOverhead*float64(p.Plain.P50)).Round(time.Millisecond))
	}
	return []Target{t}
}
