package metrics

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// runtimeNames are the Go runtime's families, under the names Prometheus' Go client
// gives them, so existing dashboards find them.
var runtimeNames = []string{
	"go_gc_duration_seconds", "go_gc_gogc_percent", "go_gc_gomemlimit_bytes", "go_goroutines", "go_info",
	"go_memstats_alloc_bytes", "go_memstats_alloc_bytes_total", "go_memstats_buck_hash_sys_bytes",
	"go_memstats_frees_total", "go_memstats_gc_sys_bytes", "go_memstats_heap_alloc_bytes",
	"go_memstats_heap_idle_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_heap_objects",
	"go_memstats_heap_released_bytes", "go_memstats_heap_sys_bytes", "go_memstats_last_gc_time_seconds",
	"go_memstats_mallocs_total", "go_memstats_mcache_inuse_bytes", "go_memstats_mcache_sys_bytes",
	"go_memstats_mspan_inuse_bytes", "go_memstats_mspan_sys_bytes", "go_memstats_next_gc_bytes",
	"go_memstats_other_sys_bytes", "go_memstats_stack_inuse_bytes", "go_memstats_stack_sys_bytes",
	"go_memstats_sys_bytes", "go_sched_gomaxprocs_threads", "go_threads",
}

// Runtime is the Go runtime's families: goroutines, threads, memory, collector settings
// and pauses. Each scrape reads the memory statistics once.
type Runtime struct{}

// Names implements Collector.
func (Runtime) Names() []string { return runtimeNames }

// runtimeSamples are what Runtime reads from runtime/metrics, which, unlike
// runtime.ReadMemStats, does not stop the world: a busy scraper cannot pause admissions.
var runtimeSamples = []string{
	"/gc/gogc:percent", "/gc/gomemlimit:bytes", "/gc/heap/allocs:bytes", "/gc/heap/allocs:objects",
	"/gc/heap/frees:objects", "/gc/heap/tiny/allocs:objects", "/gc/heap/goal:bytes", "/gc/heap/objects:objects",
	"/memory/classes/heap/free:bytes", "/memory/classes/heap/objects:bytes", "/memory/classes/heap/released:bytes",
	"/memory/classes/heap/stacks:bytes", "/memory/classes/heap/unused:bytes", "/memory/classes/total:bytes",
	"/memory/classes/metadata/mcache/free:bytes", "/memory/classes/metadata/mcache/inuse:bytes",
	"/memory/classes/metadata/mspan/free:bytes", "/memory/classes/metadata/mspan/inuse:bytes",
	"/memory/classes/metadata/other:bytes", "/memory/classes/os-stacks:bytes", "/memory/classes/other:bytes",
	"/memory/classes/profiling/buckets:bytes",
}

func (Runtime) write(b []byte) []byte {
	samples := make([]metrics.Sample, len(runtimeSamples))
	for i, name := range runtimeSamples {
		samples[i].Name = name
	}
	metrics.Read(samples)
	v := map[string]float64{}
	for _, s := range samples {
		v[s.Name] = uintValue(s)
	}
	gauge := func(b []byte, name, help string, v float64) []byte {
		return sample(desc{name, help, "gauge"}.header(b), name, nil, v)
	}
	counter := func(b []byte, name, help string, v float64) []byte {
		return sample(desc{name, help, "counter"}.header(b), name, nil, v)
	}
	lastGC, b := gcPauses(b)
	heapFree, heapReleased := v["/memory/classes/heap/free:bytes"], v["/memory/classes/heap/released:bytes"]
	heapInuse := v["/memory/classes/heap/objects:bytes"] + v["/memory/classes/heap/unused:bytes"]
	tiny := v["/gc/heap/tiny/allocs:objects"] // counted by the runtime as allocations, never as frees
	b = gauge(b, "go_gc_gogc_percent", "Heap growth that triggers a collection, in percent (GOGC); 2^64-1 when off.", v["/gc/gogc:percent"])
	b = gauge(b, "go_gc_gomemlimit_bytes", "Soft memory limit of the Go runtime (GOMEMLIMIT).", v["/gc/gomemlimit:bytes"])
	b = gauge(b, "go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine()))
	b = desc{"go_info", "Information about the Go environment.", "gauge"}.header(b)
	b = sample(b, "go_info", []string{"version", runtime.Version()}, 1)
	b = gauge(b, "go_memstats_alloc_bytes", "Bytes of allocated heap objects.", v["/memory/classes/heap/objects:bytes"])
	b = counter(b, "go_memstats_alloc_bytes_total", "Total bytes allocated for heap objects, even if freed.", v["/gc/heap/allocs:bytes"])
	b = gauge(b, "go_memstats_buck_hash_sys_bytes", "Bytes of the profiling bucket hash table.", v["/memory/classes/profiling/buckets:bytes"])
	b = counter(b, "go_memstats_frees_total", "Total number of heap objects freed.", v["/gc/heap/frees:objects"]+tiny)
	b = gauge(b, "go_memstats_gc_sys_bytes", "Bytes of garbage collection metadata.", v["/memory/classes/metadata/other:bytes"])
	b = gauge(b, "go_memstats_heap_alloc_bytes", "Bytes of allocated heap objects.", v["/memory/classes/heap/objects:bytes"])
	b = gauge(b, "go_memstats_heap_idle_bytes", "Bytes in idle (unused) heap spans.", heapFree+heapReleased)
	b = gauge(b, "go_memstats_heap_inuse_bytes", "Bytes in in-use heap spans.", heapInuse)
	b = gauge(b, "go_memstats_heap_objects", "Number of allocated heap objects.", v["/gc/heap/objects:objects"])
	b = gauge(b, "go_memstats_heap_released_bytes", "Bytes of heap memory returned to the operating system.", heapReleased)
	b = gauge(b, "go_memstats_heap_sys_bytes", "Bytes of heap memory obtained from the operating system.", heapInuse+heapFree+heapReleased)
	b = gauge(b, "go_memstats_last_gc_time_seconds", "Unix time of the last garbage collection.", lastGC)
	b = counter(b, "go_memstats_mallocs_total", "Total number of heap objects allocated.", v["/gc/heap/allocs:objects"]+tiny)
	mcache, mspan := v["/memory/classes/metadata/mcache/inuse:bytes"], v["/memory/classes/metadata/mspan/inuse:bytes"]
	b = gauge(b, "go_memstats_mcache_inuse_bytes", "Bytes in use by mcache structures.", mcache)
	b = gauge(b, "go_memstats_mcache_sys_bytes", "Bytes of mcache structures obtained from the operating system.", mcache+v["/memory/classes/metadata/mcache/free:bytes"])
	b = gauge(b, "go_memstats_mspan_inuse_bytes", "Bytes in use by mspan structures.", mspan)
	b = gauge(b, "go_memstats_mspan_sys_bytes", "Bytes of mspan structures obtained from the operating system.", mspan+v["/memory/classes/metadata/mspan/free:bytes"])
	b = gauge(b, "go_memstats_next_gc_bytes", "Heap size at which the next garbage collection starts.", v["/gc/heap/goal:bytes"])
	b = gauge(b, "go_memstats_other_sys_bytes", "Bytes of other runtime allocations.", v["/memory/classes/other:bytes"])
	b = gauge(b, "go_memstats_stack_inuse_bytes", "Bytes in stack spans.", v["/memory/classes/heap/stacks:bytes"])
	b = gauge(b, "go_memstats_stack_sys_bytes", "Bytes of stack memory obtained from the operating system.", v["/memory/classes/heap/stacks:bytes"]+v["/memory/classes/os-stacks:bytes"])
	b = gauge(b, "go_memstats_sys_bytes", "Bytes of memory obtained from the operating system.", v["/memory/classes/total:bytes"])
	b = gauge(b, "go_sched_gomaxprocs_threads", "Number of threads that may run Go code at once (GOMAXPROCS).", float64(runtime.GOMAXPROCS(0)))
	threads, _ := runtime.ThreadCreateProfile(nil)
	return gauge(b, "go_threads", "Number of OS threads created.", float64(threads))
}

// uintValue is a runtime/metrics sample's value, or NaN if this Go has no such metric.
func uintValue(s metrics.Sample) float64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return math.NaN()
	}
	return float64(s.Value.Uint64())
}

// gcPauses writes the summary of stop-the-world pause times, as Prometheus' Go client has
// it, and returns the Unix time of the last collection (0 before the first).
func gcPauses(b []byte) (float64, []byte) {
	const name = "go_gc_duration_seconds"
	stats := debug.GCStats{PauseQuantiles: make([]time.Duration, 5)}
	debug.ReadGCStats(&stats)
	b = desc{name, "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.", "summary"}.header(b)
	for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
		v := 0.0
		if stats.NumGC > 0 {
			v = stats.PauseQuantiles[i].Seconds()
		}
		b = sample(b, name, []string{"quantile", q}, v)
	}
	b = sample(b, name+"_sum", nil, stats.PauseTotal.Seconds())
	b = sample(b, name+"_count", nil, float64(stats.NumGC))
	if stats.NumGC == 0 {
		return 0, b
	}
	return float64(stats.LastGC.UnixNano()) / 1e9, b
}

// processNames are the process' families, as Prometheus' process collector names them.
var processNames = []string{
	"process_cpu_seconds_total", "process_max_fds", "process_open_fds", "process_resident_memory_bytes",
	"process_start_time_seconds", "process_virtual_memory_bytes",
}

// Process is this process' families, read from /proc at each scrape; a file that cannot be
// read leaves its families without a series.
type Process struct{}

// Names implements Collector.
func (Process) Names() []string { return processNames }

// userHZ is the kernel's clock tick for /proc times: 100 on every Linux architecture Go
// supports.
const userHZ = 100

func (Process) write(b []byte) []byte {
	stat, statOK := procStat()
	family := func(b []byte, name, help, kind string, v float64, ok bool) []byte {
		b = desc{name, help, kind}.header(b)
		if ok {
			b = sample(b, name, nil, v)
		}
		return b
	}
	b = family(b, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter",
		(stat.utime+stat.stime)/userHZ, statOK)
	var limit syscall.Rlimit
	limitErr := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit)
	b = family(b, "process_max_fds", "Maximum number of open file descriptors.", "gauge", float64(limit.Cur), limitErr == nil)
	fds, fdsErr := os.ReadDir("/proc/self/fd")
	b = family(b, "process_open_fds", "Number of open file descriptors.", "gauge", float64(len(fds)), fdsErr == nil)
	b = family(b, "process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
		stat.rssPages*float64(os.Getpagesize()), statOK)
	boot, bootOK := bootTime()
	b = family(b, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge",
		boot+stat.start/userHZ, statOK && bootOK)
	return family(b, "process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", stat.vsize, statOK)
}

// procStatFields are the fields of /proc/self/stat the process families read.
type procStatFields struct {
	utime, stime, start, vsize, rssPages float64
}

// procStat reads /proc/self/stat. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from after its last ')'.
func procStat() (procStatFields, bool) {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return procStatFields{}, false
	}
	end := strings.LastIndexByte(string(data), ')')
	if end < 0 {
		return procStatFields{}, false
	}
	f := strings.Fields(string(data[end+1:])) // f[0] is field 3 (state)
	if len(f) < 22 {
		return procStatFields{}, false
	}
	var out procStatFields
	for _, x := range []struct {
		to    *float64
		field int
	}{{&out.utime, 14}, {&out.stime, 15}, {&out.start, 22}, {&out.vsize, 23}, {&out.rssPages, 24}} {
		v, err := strconv.ParseFloat(f[x.field-3], 64)
		if err != nil {
			return procStatFields{}, false
		}
		*x.to = v
	}
	return out, true
}

// bootTime is the kernel's boot time (Unix seconds), the base of a process' start time;
// read once, as it never changes.
var bootTime = sync.OnceValues(readBootTime)

func readBootTime() (float64, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			t, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return t, err == nil
		}
	}
	return 0, false
}
