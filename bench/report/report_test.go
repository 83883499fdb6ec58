package report_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/bench/gobench"
	"github.com/vault-injector/vault-injector/bench/load"
	"github.com/vault-injector/vault-injector/bench/report"
)

func run(rps float64, p99 time.Duration, rss int64) report.Run {
	return report.Run{Result: load.Result{Throughput: rps, Latency: load.Latency{P99: p99}}, PeakRSS: rss}
}

// cpu gives r its requests and the CPU they took.
func cpu(r report.Run, requests int, used time.Duration) report.Run {
	r.Requests, r.CPU = requests, used
	return r
}

func TestEvaluateAdmission(t *testing.T) {
	t.Parallel()
	a := &report.Admission{Levels: []report.Level{
		{Clients: 1, Ours: run(900, 2500*time.Microsecond, 30<<20), Floor: run(1000, 2*time.Millisecond, 10<<20), ThroughputRatio: 0.9, P99Ratio: 1.25},
		{
			Clients: 8, Ours: run(500, 9*time.Millisecond, 31<<20), Floor: run(1000, 3*time.Millisecond, 10<<20), ThroughputRatio: 0.5, P99Ratio: 3,
			RoundThroughputRatios: []float64{0.4, 0.86, 0.5},
		},
	}}
	got := report.EvaluateAdmission(a)
	if len(got) != 5 {
		t.Fatalf("got %d targets, want 2 per level and 1 for memory: %+v", len(got), got)
	}
	met := []bool{true, true, false, false, false}
	for i, tg := range got {
		if tg.Met != met[i] {
			t.Errorf("%s at %d clients: met %v, want %v", tg.Name, tg.Clients, tg.Met, met[i])
		}
		if !tg.Met && tg.Gap == "" {
			t.Errorf("%s missed without a gap", tg.Name)
		}
	}
	if got[0].Gap != "" || got[2].Gap != "70% more requests/s needed (500, want ≥ 850); 1 of 3 rounds at ≥ 0.85" {
		t.Errorf("throughput gaps: %q at 1 client (no rounds), %q at 8", got[0].Gap, got[2].Gap)
	}
	if !strings.Contains(got[2].Gap, "70% more") || !strings.Contains(got[3].Gap, "131% over") || !strings.Contains(got[4].Gap, "1.0 MiB over") {
		t.Errorf("gaps: %q, %q, %q", got[2].Gap, got[3].Gap, got[4].Gap)
	}
}

func envexecBench(name string, ns float64) gobench.Benchmark {
	return gobench.Benchmark{
		Package: "github.com/vault-injector/vault-injector/envexec", Name: name,
		Metrics: map[string]gobench.Stat{"ns/op": {Median: ns}},
	}
}

func TestEvaluateEnvexec(t *testing.T) {
	t.Parallel()
	benches := []gobench.Benchmark{
		envexecBench("BenchmarkStartup/refs=100/paths=20", 12e6),
		envexecBench("BenchmarkVaultFloor/login+read", 2e6),
		envexecBench("BenchmarkVaultFloor/login+20-reads", 10e6),
		{Package: "github.com/vault-injector/vault-injector/webhook", Name: "BenchmarkStartup/refs=100/paths=20", Metrics: map[string]gobench.Stat{"ns/op": {Median: 1}}},
	}
	got := report.EvaluateEnvexec(benches, 9_000_000)
	if len(got) != 2 || got[0].Met || got[1].Met {
		t.Fatalf("want size and start-up both missed: %+v", got)
	}
	if got[1].Value != 6 || !strings.Contains(got[1].Gap, "Vault alone takes 5.0×") || !strings.Contains(got[1].Gap, "envexec takes 1.20× what Vault alone takes") {
		t.Errorf("start-up: %+v", got[1])
	}
	if !strings.Contains(got[0].Gap, "1000000 bytes over") {
		t.Errorf("size gap: %q", got[0].Gap)
	}
	got = report.EvaluateEnvexec(benches[:2], 6_000_000)
	if len(got) != 2 || !got[0].Met || got[1].Met || strings.Contains(got[1].Gap, "Vault alone") {
		t.Errorf("without the Vault floor: %+v", got)
	}
	if got := report.EvaluateEnvexec(nil, 0); len(got) != 0 {
		t.Errorf("nothing measured, got targets: %+v", got)
	}
}

// TestWrite checks both files are written and agree on the figures.
func TestEvaluatePodStart(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		imageVolume time.Duration
		met         bool
		gap         string
	}{
		{1150 * time.Millisecond, true, ""},
		{1300 * time.Millisecond, false, "adds 300ms to the plain pod's 1s, want ≤ 200ms"},
	} {
		got := report.EvaluatePodStart(&report.PodStart{Plain: load.Latency{P50: time.Second}, ImageVolume: load.Latency{P50: c.imageVolume}})
		if len(got) != 1 || got[0].Met != c.met || got[0].Gap != c.gap {
			t.Errorf("image volume %v: got %+v, want met %v, gap %q", c.imageVolume, got, c.met, c.gap)
		}
	}
	if got := report.EvaluatePodStart(&report.PodStart{}); got != nil {
		t.Errorf("nothing measured: got %+v, want no target", got)
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	r := &report.Results{
		Schema: report.Schema, Commit: "abc", Commands: []string{"go run ./bench/cmd/bench"},
		Admission: &report.Admission{Levels: []report.Level{
			{
				Clients: 8, Ours: cpu(run(900, time.Millisecond, 1<<20), 9000, 3600*time.Millisecond), Floor: cpu(run(1000, time.Millisecond, 1<<20), 10000, 2500*time.Millisecond),
				ThroughputRatio: 0.9, RoundThroughputRatios: []float64{0.95, 0.83, 0.91}, CPUPerRequestRatio: 1.6,
			},
			{Clients: 32, Ours: run(900, time.Millisecond, 1<<20), Floor: run(1000, time.Millisecond, 1<<20)},
		}},
		GoBenchmarks: []gobench.Benchmark{{
			Package: "github.com/vault-injector/vault-injector/webhook", Name: "BenchmarkHandleImageLookup/cold-cache", Procs: 2,
			Metrics: map[string]gobench.Stat{"ns/op": {Median: 1.5e6, Samples: []float64{1.5e6}}},
		}},
		PodStart: &report.PodStart{
			Runs: 20, References: 10, Paths: 2,
			Injected: load.Latency{P50: 60 * time.Millisecond}, Plain: load.Latency{P50: 1000 * time.Millisecond},
			ImageVolume: load.Latency{P50: 1150 * time.Millisecond},
		},
	}
	dir := t.TempDir()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## Admission over HTTPS", "| 8 | vault-injector | 900 |", "### Registry lookup", "cold-cache | 1 | 1.50ms", "## Pod start on a real node",
		"| 10 references over 2 paths, init-copy | 20 | 60ms |", "| 10 references over 2 paths, image-volume | 20 | 1.15s | 0s | 0s | +15% |",
		"| 8 | 0.90 | 0.00 | 0.83–0.95 (0.95, 0.83, 0.91) | 1.60 |", "| 32 | 0.00 | 0.00 | – | – |",
		"| 9000 | 0 | 400 µs | 1.0 MiB", "| 10000 | 0 | 250 µs | 1.0 MiB", "| 32 | vault-injector | 900 | 0.000 ms | 0.000 ms | 1.000 ms | 0.000 ms | 0.000 ms | 0 | 0 | – | 1.0 MiB",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("RESULTS.md lacks %q", want)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back report.Results
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Admission.Levels[0].Ours.Throughput != 900 || back.GoBenchmarks[0].Metrics["ns/op"].Median != 1.5e6 ||
		len(back.Admission.Levels[0].RoundThroughputRatios) != 3 {
		t.Errorf("results.json lost figures: %+v", back)
	}
}
