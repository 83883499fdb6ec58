// Package report holds the figures of one `make bench` run and writes them as
// bench/RESULTS.md for people and bench/results.json for tools.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/vault-injector/vault-injector/bench/gobench"
	"github.com/vault-injector/vault-injector/bench/load"
)

// Schema versions results.json; bump it when a field changes meaning.
const Schema = 1

// Results are the figures of one run; sections not run stay empty.
type Results struct {
	// Schema is the version of this format.
	Schema int `json:"schema"`
	// Date is when the run started.
	Date time.Time `json:"date"`
	// Commit is `git describe --always --dirty` of the measured tree.
	Commit string `json:"commit"`
	// Machine describes where the figures were taken.
	Machine Machine `json:"machine"`
	// Commands are the commands that produced the figures, in order.
	Commands []string `json:"commands"`
	// Admission holds the HTTPS load figures against the floor.
	Admission *Admission `json:"admission,omitempty"`
	// GoBenchmarks are the in-process benchmarks (injector, webhook, registry, envexec).
	GoBenchmarks []gobench.Benchmark `json:"goBenchmarks,omitempty"`
	// GoBenchmarkErrors say which benchmark packages failed, and why.
	GoBenchmarkErrors []string `json:"goBenchmarkErrors,omitempty"`
	// EnvexecBytes is the size of the envexec binary, static and stripped as `make build`
	// builds it.
	EnvexecBytes int64 `json:"envexecBytes,omitempty"`
	// Benchstat is benchstat's summary of the Go benchmarks.
	Benchstat string `json:"benchstat,omitempty"`
	// Comparison is benchstat's comparison with a baseline run, when one was given.
	Comparison string `json:"comparison,omitempty"`
	// Profile is pprof's top tables for the handler benchmark.
	Profile string `json:"profile,omitempty"`
	// PodStart is the pod start overhead (issue 6 part 5); nil until a section measures it.
	PodStart *PodStart `json:"podStart"`
	// Targets are the targets and whether this run met them.
	Targets []Target `json:"targets"`
	// Notes are warnings about the run, such as a busy machine.
	Notes []string `json:"notes,omitempty"`
}

// PodStart is the pod start overhead measured on a real node (bench/cmd/podstart): from the
// pod's creation to the application's first instruction, injected with each envexec
// delivery, against the same pod without references.
type PodStart struct {
	// Runs is the number of pods started of each kind.
	Runs int `json:"runs"`
	// References is the number of references the injected pod resolves.
	References int `json:"references"`
	// Paths is the number of secrets they are spread over.
	Paths int `json:"paths"`
	// Injected is the start-up latency of the pod injected with init-copy delivery (an
	// init container copies envexec).
	Injected load.Latency `json:"injected"`
	// ImageVolume is the start-up latency of the pod injected with image-volume delivery
	// (envexec mounted from the injector image).
	ImageVolume load.Latency `json:"imageVolume"`
	// Plain is the start-up latency of the same pod without references.
	Plain load.Latency `json:"plain"`
	// Envexec is envexec's own part of the injected starts: from its start to the exec of
	// the application, as its log reports it.
	Envexec load.Latency `json:"envexec"`
	// EnvexecPeakRSSKiB is envexec's memory high-water mark just before exec (the largest
	// over the runs), from its debug log.
	EnvexecPeakRSSKiB int `json:"envexecPeakRSSKiB"`
}

// Admission are the load figures of the webhook and the floor server, level by level.
type Admission struct {
	// Pod describes the pod every request carries.
	Pod string `json:"pod"`
	// BodyBytes is the size of one AdmissionReview request body.
	BodyBytes int `json:"bodyBytes"`
	// PatchBytes and PatchOps describe the webhook's answer, which the floor repeats.
	PatchBytes int `json:"patchBytes"`
	// PatchOps is the number of operations in the patch.
	PatchOps int `json:"patchOps"`
	// Duration is how long each level ran per server.
	Duration time.Duration `json:"durationNs"`
	// Warmup is how long each level ran, unrecorded, before being measured.
	Warmup time.Duration `json:"warmupNs"`
	// Rounds is how many turns Duration was split into, the servers alternating.
	Rounds int `json:"rounds"`
	// Servers are the command lines and idle memory of the servers.
	Servers []Server `json:"servers"`
	// Levels are the runs, one per number of concurrent clients.
	Levels []Level `json:"levels"`
}

// Server is one measured server process.
type Server struct {
	// Name is "vault-injector" or "floor".
	Name string `json:"name"`
	// Command is the command line it ran with.
	Command string `json:"command"`
	// IdleRSS is its resident memory high-water mark once ready, before any load.
	IdleRSS int64 `json:"idleRssBytes"`
}

// Level compares the two servers at one number of concurrent clients.
type Level struct {
	// Clients is the number of concurrent closed-loop clients.
	Clients int `json:"clients"`
	// Ours is vault-injector's run.
	Ours Run `json:"ours"`
	// Floor is the floor server's run.
	Floor Run `json:"floor"`
	// ThroughputRatio is ours/floor requests per second (target: at least MinThroughputRatio).
	ThroughputRatio float64 `json:"throughputRatio"`
	// P99Ratio is ours/floor 99th percentile latency (target: at most MaxP99Ratio).
	P99Ratio float64 `json:"p99Ratio"`
	// RoundThroughputRatios are ours/floor requests per second in each round, the two
	// servers measured back to back: their spread is the machine's noise, which a
	// reader must see beside a ratio near its target.
	RoundThroughputRatios []float64 `json:"roundThroughputRatios,omitempty"`
	// CPUPerRequestRatio is ours/floor CPU per request: what the throughput ratio would be,
	// inverted, if the servers had the machine to themselves; it varies less between runs.
	CPUPerRequestRatio float64 `json:"cpuPerRequestRatio,omitempty"`
}

// Run is one server's figures at one level.
type Run struct {
	load.Result
	// PeakRSS is the server's VmHWM after this level: its peak since it started.
	PeakRSS int64 `json:"peakRssBytes"`
	// PeakAnon is the highest RssAnon sampled during the level (every 50ms): the heap
	// and stacks, without the binary's pages that VmHWM also counts.
	PeakAnon int64 `json:"peakRssAnonBytes"`
	// CPU is the server's user and system CPU time over its measured rounds.
	CPU time.Duration `json:"cpuNs"`
}

// CPUPerRequest is the CPU the server spent per request it answered; 0 when unknown.
func (r Run) CPUPerRequest() time.Duration {
	if r.Requests == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Requests)
}

// Write writes RESULTS.md and results.json into dir.
func (r *Results) Write(dir string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(dir+"/results.json", append(data, '\n'), 0o644); err != nil { //nolint:gosec // a report meant to be read
		return fmt.Errorf("write results.json: %w", err)
	}
	if err := os.WriteFile(dir+"/RESULTS.md", []byte(r.Markdown()), 0o644); err != nil { //nolint:gosec // a report meant to be read
		return fmt.Errorf("write RESULTS.md: %w", err)
	}
	return nil
}
