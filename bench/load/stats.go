package load

import (
	"math"
	"slices"
	"time"
)

// Result is what one run measured.
type Result struct {
	// Clients is the number of concurrent clients.
	Clients int `json:"clients"`
	// Elapsed is the run's wall time, from the first request to the last response.
	Elapsed time.Duration `json:"elapsedNs"`
	// Requests counts the responses that passed the check.
	Requests int `json:"requests"`
	// Errors counts the requests that failed or whose response did not pass the check.
	Errors int `json:"errors"`
	// ErrorSamples are a few of the errors, to tell what went wrong.
	ErrorSamples []string `json:"errorSamples,omitempty"`
	// Throughput is checked responses per second.
	Throughput float64 `json:"requestsPerSecond"`
	// Latency summarizes the checked responses' latencies.
	Latency Latency `json:"latency"`
	// Protocol is the HTTP version the server answered with, e.g. "HTTP/2.0".
	Protocol string `json:"protocol"`
	// samples are the checked responses' latencies, kept so runs can be merged.
	samples []time.Duration
}

// Merge combines runs of one server at one level into one result, as if they had been one
// run: requests and errors add up, throughput is over their summed time, and the
// percentiles are exact over every request of every run.
func Merge(runs ...Result) Result {
	var r Result
	var all []time.Duration
	for _, x := range runs {
		r.Clients = max(r.Clients, x.Clients)
		r.Elapsed += x.Elapsed
		r.Requests += x.Requests
		r.Errors += x.Errors
		if r.Protocol == "" {
			r.Protocol = x.Protocol
		}
		for _, s := range x.ErrorSamples {
			if len(r.ErrorSamples) < maxErrorSamples {
				r.ErrorSamples = append(r.ErrorSamples, s)
			}
		}
		all = append(all, x.samples...)
	}
	if r.Elapsed > 0 {
		r.Throughput = float64(r.Requests) / r.Elapsed.Seconds()
	}
	r.Latency = Summarize(all)
	r.samples = all
	return r
}

// Latency holds exact percentiles (nearest rank) over every recorded request.
type Latency struct {
	// Mean is the arithmetic mean.
	Mean time.Duration `json:"meanNs"`
	// P50 is the median.
	P50 time.Duration `json:"p50Ns"`
	// P90 is the 90th percentile.
	P90 time.Duration `json:"p90Ns"`
	// P99 is the 99th percentile.
	P99 time.Duration `json:"p99Ns"`
	// P999 is the 99.9th percentile.
	P999 time.Duration `json:"p999Ns"`
	// Max is the slowest request.
	Max time.Duration `json:"maxNs"`
}

func summarize(workers []worker, clients int, elapsed time.Duration) Result {
	r := Result{Clients: clients, Elapsed: elapsed}
	var all []time.Duration
	for i := range workers {
		w := &workers[i]
		all = append(all, w.latencies...)
		r.Errors += w.errors
		if r.Protocol == "" {
			r.Protocol = w.proto
		}
		for _, s := range w.samples {
			if len(r.ErrorSamples) < maxErrorSamples {
				r.ErrorSamples = append(r.ErrorSamples, s)
			}
		}
	}
	r.Requests = len(all)
	if elapsed > 0 {
		r.Throughput = float64(r.Requests) / elapsed.Seconds()
	}
	r.Latency = Summarize(all)
	r.samples = all
	return r
}

// Summarize computes exact percentiles of samples, which it sorts in place.
func Summarize(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	return Latency{
		Mean: sum / time.Duration(len(samples)),
		P50:  Percentile(samples, 50), P90: Percentile(samples, 90), P99: Percentile(samples, 99),
		P999: Percentile(samples, 99.9), Max: samples[len(samples)-1],
	}
}

// Percentile is the nearest-rank p-th percentile of sorted samples: the smallest sample
// that at least p percent of the samples do not exceed.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// The epsilon keeps float error from pushing an exact rank (p·n whole) one up.
	rank := int(math.Ceil(float64(len(sorted))*p/100 - 1e-9))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
