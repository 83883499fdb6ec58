package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// killWindow and settle bound the errors a disruption may explain: from a second before
// it began to five seconds after it was over.
const (
	killWindow = time.Second
	settle     = 5 * time.Second
)

// figures is the soak's outcome, for the report and for -json.
type figures struct {
	Duration   string  `json:"duration"`
	Rate       int     `json:"ratePerSecond"`
	KillSignal string  `json:"killSignal"`
	Sent       int     `json:"sent"`
	Failed     int     `json:"failed"`
	ErrorRate  float64 `json:"errorRate"`
	// Latency is over the successful creations (client → apiserver → webhook → etcd).
	Latency     percentiles  `json:"latency"`
	Errors      []errorCount `json:"errors"`
	Minutes     []minute     `json:"minutes"`
	Disruptions []disruption `json:"disruptions"`
	// UnexplainedFailures are failures outside every disruption's window.
	UnexplainedFailures int `json:"unexplainedFailures"`
	// Connections counts the connections the balancer routed to each replica.
	Connections map[string]int64 `json:"connections"`
	Stored      int              `json:"storedPods"`
	// Uninjected lists pods stored without their injection: must be empty.
	Uninjected []string `json:"uninjected"`
}

// minute is one minute of the run.
type minute struct {
	Minute   int                     `json:"minute"`
	Sent     int                     `json:"sent"`
	Failed   int                     `json:"failed"`
	Latency  percentiles             `json:"latency"`
	Replicas map[string]replicaStats `json:"replicas"`
}

// replicaStats is one replica during one minute.
type replicaStats struct {
	// MaxRSSMiB is the highest resident memory sampled.
	MaxRSSMiB float64 `json:"maxRssMiB"`
	// Mutated is how many pods it mutated, from its sampled counter.
	Mutated int64 `json:"mutated"`
	// Down is how many samples found it not running.
	Down int `json:"downSamples"`
}

// disruption is an event with the failures its window holds.
type disruption struct {
	Kind     string  `json:"kind"`
	Replica  string  `json:"replica,omitempty"`
	AtSec    float64 `json:"atSeconds"`
	TookSec  float64 `json:"tookSeconds"`
	Failures int     `json:"failures"`
	Err      string  `json:"error,omitempty"`
}

func summarize(o options, results []result, samples []sample, events []event, pods storedPods) figures {
	f := figures{
		Duration: o.duration.String(), Rate: o.rate, KillSignal: o.signalName,
		Sent: len(results), Errors: errorCounts(results), Stored: pods.total, Uninjected: pods.uninjected,
	}
	var ok []time.Duration
	for _, r := range results {
		if r.err != "" {
			f.Failed++
			if !explained(r, events) {
				f.UnexplainedFailures++
			}
			continue
		}
		ok = append(ok, r.latency)
	}
	if f.Sent > 0 {
		f.ErrorRate = float64(f.Failed) / float64(f.Sent)
	}
	f.Latency = percentilesOf(ok)
	f.Minutes = minutes(results, samples, o.duration)
	for _, e := range events {
		d := disruption{Kind: e.kind, Replica: e.replica, AtSec: e.at.Seconds(), TookSec: (e.until - e.at).Seconds(), Err: e.err}
		for _, r := range results {
			if r.err == "" || !inWindow(r, e) {
				continue
			}
			// A failure near a kill is the kill's, even inside a rotation's window.
			if e.kind == "kill" || !explainedBy(r, events, "kill") {
				d.Failures++
			}
		}
		f.Disruptions = append(f.Disruptions, d)
	}
	return f
}

// inWindow reports whether r was sent while e could explain its failure: from e's start
// (a second earlier for a kill, whose in-flight requests die) to settle after its end.
func inWindow(r result, e event) bool {
	from := e.at
	if e.kind == "kill" {
		from -= killWindow
	}
	return r.at >= from && r.at <= e.until+settle
}

// explainedBy reports whether an event of kind (any kind if empty) explains r.
func explainedBy(r result, events []event, kind string) bool {
	for _, e := range events {
		if (kind == "" || e.kind == kind) && inWindow(r, e) {
			return true
		}
	}
	return false
}

func explained(r result, events []event) bool { return explainedBy(r, events, "") }

// minutes buckets the results and samples by minute of the run; the final samples,
// taken just after the end, count in the last minute.
func minutes(results []result, samples []sample, duration time.Duration) []minute {
	last := int((duration - 1) / time.Minute)
	var out []minute
	get := func(i int) *minute {
		for len(out) <= i {
			out = append(out, minute{Minute: len(out) + 1, Replicas: map[string]replicaStats{}})
		}
		return &out[i]
	}
	lat := map[int][]time.Duration{}
	for _, r := range results {
		i := min(int(r.at/time.Minute), last)
		m := get(i)
		m.Sent++
		if r.err != "" {
			m.Failed++
		} else {
			lat[i] = append(lat[i], r.latency)
		}
	}
	for i := range out {
		out[i].Latency = percentilesOf(lat[i])
	}
	byReplica := map[string][]sample{}
	for _, s := range samples {
		byReplica[s.replica] = append(byReplica[s.replica], s)
	}
	for name, ss := range byReplica {
		deltas := mutatedDeltas(ss)
		for j, s := range ss {
			m := get(min(int(s.at/time.Minute), last))
			st := m.Replicas[name]
			st.MaxRSSMiB = max(st.MaxRSSMiB, float64(s.rss)/(1<<20))
			st.Mutated += deltas[j]
			if s.rss == 0 {
				st.Down++
			}
			m.Replicas[name] = st
		}
	}
	return out
}

// write prints the report as Markdown.
func (f figures) write(w io.Writer, replicas []string) {
	fmt.Fprintf(w, "## Soak: %s at %d pods/s, replicas killed with %s\n\n", f.Duration, f.Rate, f.KillSignal)
	fmt.Fprintf(w, "- creations: %d sent, %d failed (%.3f%%), %d outside any disruption window\n",
		f.Sent, f.Failed, 100*f.ErrorRate, f.UnexplainedFailures)
	fmt.Fprintf(w, "- latency of successful creations: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		f.Latency.P50, f.Latency.P90, f.Latency.P99, f.Latency.Max)
	fmt.Fprintf(w, "- pods stored: %d, stored without injection: %d\n", f.Stored, len(f.Uninjected))
	fmt.Fprintf(w, "- connections the balancer routed:")
	for _, r := range replicas {
		fmt.Fprintf(w, " %s %d", r, f.Connections[r])
	}
	fmt.Fprintf(w, "\n\n")
	fmt.Fprintf(w, "| minute | sent | failed | p50 ms | p99 ms |")
	for _, r := range replicas {
		fmt.Fprintf(w, " %s max RSS MiB | %s mutated |", r, r)
	}
	fmt.Fprintf(w, "\n|---|---|---|---|---|%s\n", strings.Repeat("---|---|", len(replicas)))
	for _, m := range f.Minutes {
		fmt.Fprintf(w, "| %d | %d | %d | %.1f | %.1f |", m.Minute, m.Sent, m.Failed, m.Latency.P50, m.Latency.P99)
		for _, r := range replicas {
			st := m.Replicas[r]
			fmt.Fprintf(w, " %.1f | %d |", st.MaxRSSMiB, st.Mutated)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n| disruption | replica | at s | over after s | failures in window | error |\n|---|---|---|---|---|---|\n")
	for _, d := range f.Disruptions {
		fmt.Fprintf(w, "| %s | %s | %.1f | %.2f | %d | %s |\n", d.Kind, d.Replica, d.AtSec, d.TookSec, d.Failures, d.Err)
	}
	if len(f.Errors) > 0 {
		fmt.Fprintf(w, "\nfailures by message:\n")
		for _, e := range f.Errors[:min(len(f.Errors), 10)] {
			fmt.Fprintf(w, "- %d × %s\n", e.Count, e.Message)
		}
	}
}

func writeJSON(path string, f figures) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode figures: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil { //nolint:gosec // the operator's own -json path
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// verdict is the soak's pass/fail: no pod stored without injection, no failure during a
// certificate rotation, and failures within -max-error-rate.
func (f figures) verdict(o options) error {
	var problems []string
	if len(f.Uninjected) > 0 {
		problems = append(problems, fmt.Sprintf("%d pods stored without their injection (first: %s)", len(f.Uninjected), f.Uninjected[0]))
	}
	for _, d := range f.Disruptions {
		if d.Err != "" {
			problems = append(problems, fmt.Sprintf("%s at %.0fs failed: %s", d.Kind, d.AtSec, d.Err))
		}
		if d.Kind == "rotate" && d.Failures > 0 {
			problems = append(problems, fmt.Sprintf("the certificate rotation at %.0fs dropped %d requests", d.AtSec, d.Failures))
		}
	}
	if f.ErrorRate > o.maxErrRate {
		problems = append(problems, fmt.Sprintf("error rate %.3f%% is above -max-error-rate %.3f%%", 100*f.ErrorRate, 100*o.maxErrRate))
	}
	if len(problems) > 0 {
		return fmt.Errorf("soak failed: %s", strings.Join(problems, "; "))
	}
	return nil
}
