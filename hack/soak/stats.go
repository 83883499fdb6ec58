package main

import (
	"regexp"
	"slices"
	"time"
)

// percentiles of a set of durations, in milliseconds.
type percentiles struct {
	P50 float64 `json:"p50Ms"`
	P90 float64 `json:"p90Ms"`
	P99 float64 `json:"p99Ms"`
	Max float64 `json:"maxMs"`
}

func percentilesOf(ds []time.Duration) percentiles {
	if len(ds) == 0 {
		return percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q*float64(len(s))+0.5) - 1
		return ms(s[min(max(i, 0), len(s)-1)])
	}
	return percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// podName makes error messages about different pods the same message.
var podName = regexp.MustCompile(`soak-\d+`)

// errorCounts groups failure messages, most frequent first.
func errorCounts(results []result) []errorCount {
	counts := map[string]int{}
	for _, r := range results {
		if r.err != "" {
			msg := podName.ReplaceAllString(r.err, "soak-N")
			if len(msg) > 300 {
				msg = msg[:300] + "..."
			}
			counts[msg]++
		}
	}
	out := make([]errorCount, 0, len(counts))
	for m, n := range counts {
		out = append(out, errorCount{Message: m, Count: n})
	}
	slices.SortFunc(out, func(a, b errorCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return compareStrings(a.Message, b.Message)
	})
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// errorCount is one distinct failure message and how often it came.
type errorCount struct {
	Message string `json:"message"`
	Count   int    `json:"count"`
}

// mutatedDeltas turns a replica's counter samples into pods mutated since the previous
// sample; a counter that went down means the replica restarted from zero.
func mutatedDeltas(samples []sample) []int64 {
	out := make([]int64, len(samples))
	last := int64(-1)
	for i, s := range samples {
		switch {
		case s.mutated < 0:
			continue
		case last < 0 || s.mutated < last:
			out[i] = s.mutated
		default:
			out[i] = s.mutated - last
		}
		last = s.mutated
	}
	return out
}
