package gobench_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vault-injector/vault-injector/bench/gobench"
)

const output = `goos: linux
goarch: amd64
pkg: example.com/a
cpu: AMD EPYC
BenchmarkInject/typical-2         	   10000	     30000 ns/op	   20000 B/op	     200 allocs/op
BenchmarkInject/typical-2         	   10000	     10000 ns/op	   20000 B/op	     200 allocs/op
BenchmarkInject/typical-2         	   10000	     20000 ns/op	   20000 B/op	     200 allocs/op
PASS
ok  	example.com/a	3.1s
pkg: example.com/b
BenchmarkStartup/refs=10-2 	 100	 5000000 ns/op	 12.5 rss-MiB	 300 B/op	 4 allocs/op
BenchmarkBroken-2 --- FAIL: something
`

func TestParse(t *testing.T) {
	t.Parallel()
	got, err := gobench.Parse(strings.NewReader(output))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d benchmarks, want 2: %+v", len(got), got)
	}
	a := got[0]
	if a.Package != "example.com/a" || a.Name != "BenchmarkInject/typical" || a.Procs != 2 {
		t.Errorf("first = %s %s %d", a.Package, a.Name, a.Procs)
	}
	want := gobench.Stat{Median: 20000, Min: 10000, Max: 30000, Samples: []float64{30000, 10000, 20000}}
	if d := cmp.Diff(want, a.Metrics["ns/op"]); d != "" {
		t.Errorf("ns/op: %s", d)
	}
	b := got[1]
	if d := cmp.Diff([]string{"ns/op", "B/op", "allocs/op", "rss-MiB"}, b.Units()); d != "" {
		t.Errorf("units: %s", d)
	}
	if b.Metrics["rss-MiB"].Median != 12.5 {
		t.Errorf("custom metric = %v", b.Metrics["rss-MiB"])
	}
}
