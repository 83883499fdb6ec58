package metrics

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runtimeNames are the Go runtime's families, under the names Prometheus' Go client
// gives them, so existing dashboards find them.
var runtimeNames = []string{
	"go_gc_duration_seconds", "go_gc_gogc_percent", "go_gc_gomemlimit_bytes", "go_goroutines", "go_info",
	"go_memstats_alloc_bytes", "go_memstats_alloc_bytes_total", "go_memstats_frees_total",
	"go_memstats_heap_idle_bytes", "go_memstats_heap_inuse_bytes", "go_memstats_heap_objects",
	"go_memstats_heap_released_bytes", "go_memstats_heap_sys_bytes", "go_memstats_last_gc_time_seconds",
	"go_memstats_mallocs_total", "go_memstats_next_gc_bytes", "go_memstats_stack_inuse_bytes",
	"go_memstats_sys_bytes", "go_sched_gomaxprocs_threads", "go_threads",
}

// Runtime is the Go runtime's families: goroutines, threads, memory, collector settings
// and pauses. Each scrape reads the memory statistics once.
type Runtime struct{}

// Names implements Collector.
func (Runtime) Names() []string { return runtimeNames }

func (Runtime) write(b []byte) []byte {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gauge := func(b []byte, name, help string, v float64) []byte {
		return sample(desc{name, help, "gauge"}.header(b), name, nil, v)
	}
	counter := func(b []byte, name, help string, v float64) []byte {
		return sample(desc{name, help, "counter"}.header(b), name, nil, v)
	}
	b = gcPauses(b)
	settings := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(settings)
	b = gauge(b, "go_gc_gogc_percent", "Heap growth that triggers a collection, in percent (GOGC); 0 when off.", uintValue(settings[0]))
	b = gauge(b, "go_gc_gomemlimit_bytes", "Soft memory limit of the Go runtime (GOMEMLIMIT).", uintValue(settings[1]))
	b = gauge(b, "go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine()))
	b = desc{"go_info", "Information about the Go environment.", "gauge"}.header(b)
	b = sample(b, "go_info", []string{"version", runtime.Version()}, 1)
	b = gauge(b, "go_memstats_alloc_bytes", "Bytes of allocated heap objects.", float64(ms.HeapAlloc))
	b = counter(b, "go_memstats_alloc_bytes_total", "Total bytes allocated for heap objects, even if freed.", float64(ms.TotalAlloc))
	b = counter(b, "go_memstats_frees_total", "Total number of heap objects freed.", float64(ms.Frees))
	b = gauge(b, "go_memstats_heap_idle_bytes", "Bytes in idle (unused) heap spans.", float64(ms.HeapIdle))
	b = gauge(b, "go_memstats_heap_inuse_bytes", "Bytes in in-use heap spans.", float64(ms.HeapInuse))
	b = gauge(b, "go_memstats_heap_objects", "Number of allocated heap objects.", float64(ms.HeapObjects))
	b = gauge(b, "go_memstats_heap_released_bytes", "Bytes of heap memory returned to the operating system.", float64(ms.HeapReleased))
	b = gauge(b, "go_memstats_heap_sys_bytes", "Bytes of heap memory obtained from the operating system.", float64(ms.HeapSys))
	b = gauge(b, "go_memstats_last_gc_time_seconds", "Unix time of the last garbage collection.", float64(ms.LastGC)/1e9)
	b = counter(b, "go_memstats_mallocs_total", "Total number of heap objects allocated.", float64(ms.Mallocs))
	b = gauge(b, "go_memstats_next_gc_bytes", "Heap size at which the next garbage collection starts.", float64(ms.NextGC))
	b = gauge(b, "go_memstats_stack_inuse_bytes", "Bytes in stack spans.", float64(ms.StackInuse))
	b = gauge(b, "go_memstats_sys_bytes", "Bytes of memory obtained from the operating system.", float64(ms.Sys))
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

// gcPauses is the summary of stop-the-world pause times, as Prometheus' Go client has it.
func gcPauses(b []byte) []byte {
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
	return sample(b, name+"_count", nil, float64(stats.NumGC))
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

// bootTime is the kernel's boot time (Unix seconds), the base of a process' start time.
func bootTime() (float64, bool) {
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
