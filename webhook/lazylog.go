package webhook

import (
	"slices"

	"github.com/go-logr/logr"
)

// deferValues returns log with kvs added, but hands them to log's sink only when a line is
// written. A request's logger carries its uid, namespace, name, user and pod, yet most
// requests write no line at all (admitted pods log at V(1)); zap's WithValues encodes the
// values at once, which cost a tenth of a request's allocations for nothing. Lines that
// are written carry the same values in the same order, so the output is unchanged.
func deferValues(log logr.Logger, kvs ...any) logr.Logger {
	if log.GetSink() == nil {
		return log // the discard logger: nothing to defer to
	}
	if d, ok := log.GetSink().(*deferredSink); ok {
		return logr.New(d.with(kvs)).V(log.GetV())
	}
	return logr.New(&deferredSink{base: log.GetSink(), kvs: slices.Clip(kvs)}).V(log.GetV())
}

// deferredSink is a logr.LogSink that keeps key-values to add to base until a line is
// written. It is immutable, like every LogSink a logger hands out.
type deferredSink struct {
	base logr.LogSink
	kvs  []any
}

var _ logr.CallDepthLogSink = (*deferredSink)(nil)

// with is d with more key-values; d itself is left as it was.
func (d *deferredSink) with(kvs []any) *deferredSink {
	return &deferredSink{base: d.base, kvs: slices.Concat(d.kvs, kvs)}
}

// sink is base with the deferred values, one frame deeper: its caller is our method, not
// the code that logged.
func (d *deferredSink) sink() logr.LogSink {
	s := d.base
	if c, ok := s.(logr.CallDepthLogSink); ok {
		s = c.WithCallDepth(1)
	}
	if len(d.kvs) == 0 {
		return s
	}
	return s.WithValues(d.kvs...)
}

// Init implements logr.LogSink. base was initialised by the logger it came from; logr
// calls Init on every new Logger, and initialising base again would count logr's frames
// twice.
func (d *deferredSink) Init(logr.RuntimeInfo) {}

// Enabled implements logr.LogSink.
func (d *deferredSink) Enabled(level int) bool { return d.base.Enabled(level) }

// Info implements logr.LogSink.
func (d *deferredSink) Info(level int, msg string, kvs ...any) {
	d.sink().Info(level, msg, kvs...)
}

// Error implements logr.LogSink.
func (d *deferredSink) Error(err error, msg string, kvs ...any) {
	d.sink().Error(err, msg, kvs...)
}

// WithValues implements logr.LogSink.
func (d *deferredSink) WithValues(kvs ...any) logr.LogSink { return d.with(kvs) }

// WithName implements logr.LogSink; rare, so it gives up deferring.
func (d *deferredSink) WithName(name string) logr.LogSink {
	return &deferredSink{base: d.base.WithValues(d.kvs...).WithName(name)}
}

// WithCallDepth implements logr.CallDepthLogSink.
func (d *deferredSink) WithCallDepth(depth int) logr.LogSink {
	if c, ok := d.base.(logr.CallDepthLogSink); ok {
		return &deferredSink{base: c.WithCallDepth(depth), kvs: d.kvs}
	}
	return d
}
