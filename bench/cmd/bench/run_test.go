package main

import (
	"io"
	"slices"
	"testing"
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
