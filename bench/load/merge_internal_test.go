package load

import (
	"slices"
	"testing"
	"time"
)

// TestMergePercentilesOverEveryRequest checks that merged percentiles are over the union of
// the runs' requests, not combined from each run's percentiles: two slow requests in a short
// run must not become the median of a hundred.
func TestMergePercentilesOverEveryRequest(t *testing.T) {
	t.Parallel()
	slow := Result{Requests: 2, Elapsed: time.Second, samples: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}}
	fast := Result{Requests: 98, Elapsed: time.Second, samples: slices.Repeat([]time.Duration{time.Millisecond}, 98)}
	m := Merge(slow, fast)
	if m.Latency.P50 != time.Millisecond || m.Latency.P99 != 10*time.Millisecond || m.Latency.Max != 10*time.Millisecond {
		t.Errorf("p50 %v p99 %v max %v, want 1ms, 10ms, 10ms", m.Latency.P50, m.Latency.P99, m.Latency.Max)
	}
	if m.Throughput != 50 || m.Requests != 100 {
		t.Errorf("%d requests at %v/s, want 100 at 50/s", m.Requests, m.Throughput)
	}
}
