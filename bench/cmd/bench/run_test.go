package main

import (
	"io"
	"slices"
	"testing"

	"github.com/vault-injector/vault-injector/bench/report"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	o, err := parseFlags([]string{"-clients=2,4", "-only=load", "-injector-env=GOGC=50,GOMEMLIMIT=32MiB"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.clients, []int{2, 4}) || !o.runs("load") || o.runs("go") || len(o.injectorEnv) != 2 {
		t.Errorf("options %+v", o)
	}
	for _, bad := range [][]string{{"-clients=0"}, {"-clients=x"}, {"-only=nope"}, {"-injector-env=GOGC"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

func TestRoundRatios(t *testing.T) {
	t.Parallel()
	rps := func(v ...float64) []report.Run {
		runs := make([]report.Run, len(v))
		for i, x := range v {
			runs[i].Throughput = x
		}
		return runs
	}
	got := roundRatios(rps(80, 90, 50), rps(100, 0, 100, 100))
	if want := []float64{0.8, 0.5}; !slices.Equal(got, want) {
		t.Errorf("roundRatios = %v, want %v (a round the floor served nothing in has no ratio)", got, want)
	}
}
