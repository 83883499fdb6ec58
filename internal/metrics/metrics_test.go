package metrics_test

import (
	"bytes"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/internal/metrics"
	"github.com/vault-injector/vault-injector/internal/metricstest"
	"github.com/vault-injector/vault-injector/internal/tools"
)

// registry has one family of each kind, with values set.
func registry(t *testing.T) *metrics.Registry {
	t.Helper()
	reg := metrics.NewRegistry()
	requests := metrics.NewCounterVec("requests_total", "Requests, by outcome.", "outcome")
	requests.With("mutated").Inc()
	requests.With("mutated").Inc()
	requests.With("denied").Inc()
	plainFamily, plain := metrics.NewCounter("reads_total", "Reads;\nwith a \\ and a newline.")
	plain.Inc()
	latency, err := metrics.NewHistogramVec("latency_seconds", "Latency.", "outcome", []float64{0.1, 1})
	if err != nil {
		t.Fatal(err)
	}
	latency.With("mutated").Observe(0.05)
	latency.With("mutated").Observe(0.1) // le: on the bound counts in it
	latency.With("mutated").Observe(5)
	info := metrics.NewFunc("build_info", "Build.", "gauge", []string{"version", `v1 "quoted" \ back`}, func() (float64, bool) { return 1, true })
	absent := metrics.NewFunc("expiry_seconds", "Expiry.", "gauge", nil, func() (float64, bool) { return 0, false })
	for _, c := range []metrics.Collector{requests, plainFamily, latency, info, absent} {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// TestText is the exposition format byte for byte: headers, label escaping, cumulative
// buckets with +Inf, sum and count, and a family whose value is absent.
func TestText(t *testing.T) {
	t.Parallel()
	want := `# HELP requests_total Requests, by outcome.
# TYPE requests_total counter
requests_total{outcome="mutated"} 2
requests_total{outcome="denied"} 1
# HELP reads_total Reads;\nwith a \\ and a newline.
# TYPE reads_total counter
reads_total 1
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{outcome="mutated",le="0.1"} 2
latency_seconds_bucket{outcome="mutated",le="1"} 2
latency_seconds_bucket{outcome="mutated",le="+Inf"} 3
latency_seconds_sum{outcome="mutated"} 5.15
latency_seconds_count{outcome="mutated"} 3
# HELP build_info Build.
# TYPE build_info gauge
build_info{version="v1 \"quoted\" \\ back"} 1
# HELP expiry_seconds Expiry.
# TYPE expiry_seconds gauge
`
	if got := string(registry(t).Text()); got != want {
		t.Errorf("text:\n%s\nwant:\n%s", got, want)
	}
}

// TestPrometheusReadsIt: Prometheus' own parser reads the page back to the same values,
// escaped label values included.
func TestPrometheusReadsIt(t *testing.T) {
	t.Parallel()
	text := registry(t).Text()
	if v, ok := metricstest.Value(t, text, "requests_total", "outcome", "mutated"); !ok || v != 2 {
		t.Errorf("requests_total{mutated} = %v, %v; want 2", v, ok)
	}
	if v, ok := metricstest.Value(t, text, "build_info", "version", `v1 "quoted" \ back`); !ok || v != 1 {
		t.Errorf("build_info with the escaped version = %v, %v; want 1", v, ok)
	}
	h := metricstest.Parse(t, text)["latency_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 3 || h.GetSampleSum() != 5.15 {
		t.Errorf("histogram count %d, sum %v; want 3 and 5.15", h.GetSampleCount(), h.GetSampleSum())
	}
}

// TestPromtoolChecksIt runs the page through `promtool check metrics`, Prometheus' linter
// for exposition pages, with the runtime and process families included.
func TestPromtoolChecksIt(t *testing.T) {
	t.Parallel()
	promtool, err := tools.Promtool(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry(t)
	for _, c := range []metrics.Collector{metrics.Runtime{}, metrics.Process{}} {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.CommandContext(t.Context(), promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(reg.Text())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestRegisterRefuses a second family of the same name, families whose lines would
// collide, a name Prometheus cannot read, and buckets that are not increasing.
func TestRegisterRefuses(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	if err := reg.Register(metrics.NewCounterVec("a_total", "A.", "x")); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(metrics.NewCounterVec("a_total", "A again.", "x")); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("duplicate: %v", err)
	}
	if err := reg.Register(metrics.NewCounterVec("a_total_count", "A histogram's line.", "x")); err == nil || !strings.Contains(err.Error(), "collides") {
		t.Errorf("a family named like another's _count line: %v", err)
	}
	h, err := metrics.NewHistogramVec("b", "B.", "x", []float64{1})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(metrics.NewCounterVec("b_sum", "B's sum.", "x")); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(h); err == nil || !strings.Contains(err.Error(), "collides") {
		t.Errorf("a histogram whose _sum line is another family: %v", err)
	}
	if err := reg.Register(metrics.NewCounterVec("a-b", "Dash.", "x")); err == nil || !strings.Contains(err.Error(), "not valid") {
		t.Errorf("invalid name: %v", err)
	}
	if err := reg.Register(metrics.Runtime{}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(metrics.Runtime{}); err == nil {
		t.Error("the runtime families registered twice")
	}
	for _, b := range [][]float64{{1, 1}, {2, 1}, {1, math.Inf(1)}, {math.NaN()}} {
		if _, err := metrics.NewHistogramVec("h", "H.", "x", b); err == nil {
			t.Errorf("buckets %v accepted", b)
		}
	}
	if got := strings.Join(reg.Names(), ","); !strings.HasPrefix(got, "a_total,b_sum,go_gc_duration_seconds,") {
		t.Errorf("names = %s", got)
	}
}

// TestConcurrentUse counts and observes from many goroutines while the page is scraped
// (run with -race): nothing is lost, and every page parses with cumulative buckets that
// never exceed the count.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	counts := metrics.NewCounterVec("c_total", "C.", "k")
	hist, err := metrics.NewHistogramVec("h_seconds", "H.", "k", []float64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []metrics.Collector{counts, hist} {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			key := []string{"a", "b"}[w%2]
			for range each {
				counts.With(key).Inc()
				hist.With(key).Observe(1.5)
			}
		})
	}
	pages := make(chan []byte, 20)
	go func() {
		defer close(pages)
		for range cap(pages) {
			pages <- reg.Text()
		}
	}()
	wg.Wait()
	for page := range pages { // taken while the counts moved: each must still hold together
		for _, m := range metricstest.Parse(t, page)["h_seconds"].GetMetric() {
			h, last := m.GetHistogram(), uint64(0)
			for _, b := range h.GetBucket() {
				if b.GetCumulativeCount() < last || b.GetCumulativeCount() > h.GetSampleCount() {
					t.Fatalf("bucket le=%v holds %d after %d, of %d in all", b.GetUpperBound(), b.GetCumulativeCount(), last, h.GetSampleCount())
				}
				last = b.GetCumulativeCount()
			}
		}
	}
	text := reg.Text()
	for _, k := range []string{"a", "b"} {
		if v, _ := metricstest.Value(t, text, "c_total", "k", k); v != workers/2*each {
			t.Errorf("c_total{k=%s} = %v, want %d", k, v, workers/2*each)
		}
	}
	for _, m := range metricstest.Parse(t, text)["h_seconds"].GetMetric() {
		if h := m.GetHistogram(); h.GetSampleCount() != workers/2*each || h.GetSampleSum() != 1.5*workers/2*each {
			t.Errorf("histogram count %d sum %v, want %d and %v", h.GetSampleCount(), h.GetSampleSum(), workers/2*each, 1.5*workers/2*each)
		}
	}
}

// TestRuntimeAndProcess reads values that must hold for this very process.
func TestRuntimeAndProcess(t *testing.T) {
	reg := metrics.NewRegistry()
	for _, c := range []metrics.Collector{metrics.Runtime{}, metrics.Process{}} {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	old := debug.SetGCPercent(137)
	defer debug.SetGCPercent(old)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	text := reg.Text()
	runtime.ReadMemStats(&after)
	value := func(name string) float64 {
		v, ok := metricstest.Value(t, text, name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		return v
	}
	if v := value("go_gc_gogc_percent"); v != 137 {
		t.Errorf("go_gc_gogc_percent = %v, want 137", v)
	}
	if v := value("go_memstats_alloc_bytes_total"); v < float64(before.TotalAlloc) || v > float64(after.TotalAlloc) {
		t.Errorf("go_memstats_alloc_bytes_total = %v, want between %d and %d", v, before.TotalAlloc, after.TotalAlloc)
	}
	if v := value("go_memstats_mallocs_total"); v < float64(before.Mallocs) || v > float64(after.Mallocs) {
		t.Errorf("go_memstats_mallocs_total = %v, want between %d and %d", v, before.Mallocs, after.Mallocs)
	}
	if alloc, inuse, sys := value("go_memstats_alloc_bytes"), value("go_memstats_heap_inuse_bytes"), value("go_memstats_sys_bytes"); alloc <= 0 || inuse < alloc || sys < value("go_memstats_heap_sys_bytes") {
		t.Errorf("alloc %v, heap in use %v, sys %v", alloc, inuse, sys)
	}
	if last := time.Unix(0, int64(value("go_memstats_last_gc_time_seconds")*1e9)); time.Since(last) > time.Minute {
		t.Errorf("last GC at %v, but one ran just now", last)
	}
	if v := value("go_goroutines"); v < 2 {
		t.Errorf("go_goroutines = %v", v)
	}
	if v := value("process_resident_memory_bytes"); v < 1<<20 || v > 1<<32 {
		t.Errorf("process_resident_memory_bytes = %v", v)
	}
	if v := value("process_open_fds"); v < 3 || v > value("process_max_fds") {
		t.Errorf("process_open_fds = %v of %v", v, value("process_max_fds"))
	}
	start := time.Unix(int64(value("process_start_time_seconds")), 0)
	if age := time.Since(start); age < 0 || age > time.Hour {
		t.Errorf("process started %v ago", age)
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil && value("process_cpu_seconds_total") <= 0 {
		t.Errorf("process_cpu_seconds_total = %v", value("process_cpu_seconds_total"))
	}
	if m := metricstest.Parse(t, text)["go_info"].GetMetric(); len(m) != 1 || !strings.HasPrefix(m[0].GetLabel()[0].GetValue(), "go1.") {
		t.Errorf("go_info = %v", m)
	}
}

// TestNamesAreWhatIsWritten: every family a collector names has a header on the page, and
// the page has no family it does not name, so SeriesNames (the chart's checks) cannot drift.
func TestNamesAreWhatIsWritten(t *testing.T) {
	t.Parallel()
	reg := registry(t)
	for _, c := range []metrics.Collector{metrics.Runtime{}, metrics.Process{}} {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	var written []string
	for line := range strings.Lines(string(reg.Text())) {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			written = append(written, strings.Fields(rest)[0])
		}
	}
	slices.Sort(written)
	if names := reg.Names(); !slices.Equal(written, names) {
		t.Errorf("families written:\n%v\nnamed:\n%v", written, names)
	}
}

// TestLabelsAndNaN: a label Prometheus reserves or cannot read is refused when the family
// is made, and a NaN observation counts in +Inf only, as Prometheus' client has it.
func TestLabelsAndNaN(t *testing.T) {
	t.Parallel()
	for _, label := range []string{"le", "quantile", "a-b", "__x", "a:b"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("label %q accepted", label)
				}
			}()
			metrics.NewCounterVec("x_total", "X.", label)
		}()
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a histogram without a label accepted")
			}
		}()
		_, _ = metrics.NewHistogramVec("h", "H.", "", []float64{1})
	}()
	h, err := metrics.NewHistogramVec("h", "H.", "k", []float64{1})
	if err != nil {
		t.Fatal(err)
	}
	h.With("v").Observe(math.NaN())
	reg := metrics.NewRegistry()
	if err := reg.Register(h); err != nil {
		t.Fatal(err)
	}
	if text := string(reg.Text()); !strings.Contains(text, `h_bucket{k="v",le="1"} 0`+"\n") || !strings.Contains(text, `h_bucket{k="v",le="+Inf"} 1`+"\n") {
		t.Errorf("NaN observed:\n%s", text)
	}
}

// TestServeHTTP answers GET and HEAD with the page and its media type, and nothing else.
func TestServeHTTP(t *testing.T) {
	t.Parallel()
	reg := registry(t)
	for _, tc := range []struct {
		method string
		code   int
		body   bool
	}{{http.MethodGet, 200, true}, {http.MethodHead, 200, false}, {http.MethodPost, 405, false}} {
		w := httptest.NewRecorder()
		reg.ServeHTTP(w, httptest.NewRequestWithContext(t.Context(), tc.method, "/metrics", nil))
		if w.Code != tc.code {
			t.Errorf("%s: status %d, want %d", tc.method, w.Code, tc.code)
		}
		if tc.body && (w.Header().Get("Content-Type") != metrics.ContentType || !bytes.Equal(w.Body.Bytes(), reg.Text())) {
			t.Errorf("%s: content type %q, body %q", tc.method, w.Header().Get("Content-Type"), w.Body.String())
		}
		if !tc.body && tc.code == 200 && w.Body.Len() != 0 {
			t.Errorf("%s: body %q, want none", tc.method, w.Body.String())
		}
	}
}
