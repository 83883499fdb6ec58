// Package gobench runs Go benchmarks, parses their output into figures and summarizes
// repeated runs (with benchstat when it is available), for the bench report.
package gobench

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Benchmark is every sample of one benchmark of one package.
type Benchmark struct {
	// Package is the import path.
	Package string `json:"package"`
	// Name is the benchmark's full name without the -GOMAXPROCS suffix.
	Name string `json:"name"`
	// Procs is GOMAXPROCS during the run.
	Procs int `json:"procs"`
	// Metrics maps a unit (ns/op, B/op, allocs/op or a custom one) to its samples.
	Metrics map[string]Stat `json:"metrics"`
}

// Stat summarizes the samples of one metric.
type Stat struct {
	// Median is the middle sample (the mean of the two middle ones for an even count).
	Median float64 `json:"median"`
	// Min is the smallest sample.
	Min float64 `json:"min"`
	// Max is the largest sample.
	Max float64 `json:"max"`
	// Samples are the values in run order.
	Samples []float64 `json:"samples"`
}

// Units lists the benchmark's units: ns/op, B/op and allocs/op first, then the others sorted.
func (b Benchmark) Units() []string {
	var units []string
	for _, u := range []string{"ns/op", "B/op", "allocs/op"} {
		if _, ok := b.Metrics[u]; ok {
			units = append(units, u)
		}
	}
	var rest []string
	for u := range b.Metrics {
		if !slices.Contains(units, u) {
			rest = append(rest, u)
		}
	}
	slices.Sort(rest)
	return append(units, rest...)
}

// Parse reads `go test -bench` output, of one or more packages, in order of appearance.
func Parse(r io.Reader) ([]Benchmark, error) {
	var out []Benchmark
	index := map[string]int{}
	pkg := ""
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for s.Scan() {
		line := s.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		name, procs, values, ok := parseLine(line)
		if !ok {
			continue
		}
		key := pkg + " " + name
		i, seen := index[key]
		if !seen {
			i = len(out)
			index[key] = i
			out = append(out, Benchmark{Package: pkg, Name: name, Procs: procs, Metrics: map[string]Stat{}})
		}
		for unit, v := range values {
			st := out[i].Metrics[unit]
			st.Samples = append(st.Samples, v)
			out[i].Metrics[unit] = st
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read benchmark output: %w", err)
	}
	for i := range out {
		for unit, st := range out[i].Metrics {
			out[i].Metrics[unit] = summarize(st.Samples)
		}
	}
	return out, nil
}

// parseLine reads "BenchmarkX/sub-2  1000  123 ns/op  45 B/op ..." lines.
func parseLine(line string) (name string, procs int, values map[string]float64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
		return "", 0, nil, false
	}
	if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
		return "", 0, nil, false
	}
	name, procs = f[0], 1
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if n, err := strconv.Atoi(name[i+1:]); err == nil {
			name, procs = name[:i], n
		}
	}
	values = map[string]float64{}
	for j := 2; j+1 < len(f); j += 2 {
		v, err := strconv.ParseFloat(f[j], 64)
		if err != nil {
			return "", 0, nil, false
		}
		values[f[j+1]] = v
	}
	return name, procs, values, true
}

func summarize(samples []float64) Stat {
	sorted := slices.Sorted(slices.Values(samples))
	n := len(sorted)
	median := sorted[n/2]
	if n%2 == 0 {
		median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return Stat{Median: median, Min: sorted[0], Max: sorted[n-1], Samples: samples}
}
