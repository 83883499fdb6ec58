package webhook

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
)

// TestDeferValuesWritesTheSameLines checks that a logger with deferred values writes
// exactly what one with eager values writes, caller included, at every level and through
// WithValues and WithName on top.
func TestDeferValuesWritesTheSameLines(t *testing.T) {
	t.Parallel()
	logs := func(wrap func(logr.Logger) logr.Logger) string {
		var b strings.Builder
		base := funcr.New(func(prefix, args string) { b.WriteString(prefix + " " + args + "\n") },
			funcr.Options{LogCaller: funcr.All, Verbosity: 1})
		log := wrap(base).WithValues("pod", "p")
		log.Info("one", "k", 1)
		log.V(1).Info("two")
		log.V(2).Info("hidden")
		log.Error(errors.New("boom"), "three", "k", 2)
		log.WithName("sub").Info("four")
		log.V(1).WithValues("x", "y").Info("five")
		return b.String()
	}
	eager := logs(func(l logr.Logger) logr.Logger { return l.WithValues("requestID", "u", "user", "me") })
	deferred := logs(func(l logr.Logger) logr.Logger { return deferValues(l, "requestID", "u", "user", "me") })
	if eager != deferred {
		t.Errorf("deferred values write\n%s\nwant\n%s", deferred, eager)
	}
	if !strings.Contains(eager, "lazylog_test.go") || strings.Count(eager, "\n") != 5 {
		t.Errorf("eager lines are not the test's own: %s", eager)
	}
	if got := deferValues(logr.Discard(), "k", "v"); got.GetSink() != nil {
		t.Errorf("discard logger got a sink: %T", got.GetSink())
	}
}
