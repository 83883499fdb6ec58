// Package metrics keeps the webhook's Prometheus series and writes them in the text
// exposition format (version 0.0.4). The webhook has a handful of counters and two
// histograms; for those, Prometheus' client library brought protobuf and its descriptors
// into the process: 4.4 MB of the binary and 2 to 3 MiB of resident memory, idle or busy.
package metrics

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Collector writes one or more metric families; each is registered once.
type Collector interface {
	// Names are the families it writes, without a histogram's suffixes.
	Names() []string
	// write appends its families in the exposition format.
	write(b []byte) []byte
}

// Registry is the set of series one server exposes; its ServeHTTP is the /metrics page.
type Registry struct {
	mu         sync.Mutex
	collectors []Collector
	lines      map[string]bool // every sample name a family may write
	scrapes    chan struct{}   // a slot per scrape being served
}

// maxScrapes bounds the pages written at once: Prometheus scrapes one at a time, and
// anyone else who reaches the port must not make the webhook write pages without end.
const maxScrapes = 4

// NewRegistry is an empty registry.
func NewRegistry() *Registry {
	return &Registry{lines: map[string]bool{}, scrapes: make(chan struct{}, maxScrapes)}
}

// lineNames are the sample names a family called n may write, whatever its kind, and the
// family names that would write one of them.
func lineNames(n string) []string {
	names := []string{n, n + "_bucket", n + "_sum", n + "_count"}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(n, suffix); ok {
			names = append(names, base)
		}
	}
	return names
}

// Register adds c. A family whose name, or the name of one of its lines (a histogram's
// or summary's _bucket, _sum and _count), is already taken is an error, as two families
// writing the same line would make the page invalid.
func (r *Registry) Register(c Collector) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range c.Names() {
		if !validName(n) {
			return fmt.Errorf("metric name %q is not valid", n)
		}
		for _, line := range lineNames(n) {
			if r.lines[line] {
				return fmt.Errorf("metric %q is already registered, or collides with a family's %q line", n, line)
			}
		}
	}
	for _, n := range c.Names() {
		for _, line := range lineNames(n) {
			r.lines[line] = true
		}
	}
	r.collectors = append(r.collectors, c)
	return nil
}

// Names lists the registered families, sorted.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	for _, c := range r.collectors {
		names = append(names, c.Names()...)
	}
	slices.Sort(names)
	return names
}

// Text is the exposition of every registered family, in registration order.
func (r *Registry) Text() []byte {
	r.mu.Lock()
	cs := slices.Clone(r.collectors)
	r.mu.Unlock()
	var b []byte
	for _, c := range cs {
		b = c.write(b)
	}
	return b
}

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// ServeHTTP writes the exposition; while maxScrapes pages are being written, a further
// scrape gets 503 at once.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	select {
	case r.scrapes <- struct{}{}:
		defer func() { <-r.scrapes }()
	default:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many scrapes at once", http.StatusServiceUnavailable)
		return
	}
	body := r.Text()
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if req.Method == http.MethodGet {
		_, _ = w.Write(body) // the scraper is gone; nobody is left to tell
	}
}

// mustLabel panics unless label is a name Prometheus reads and does not reserve; "" (no
// label) passes when none may be.
func mustLabel(label string, none bool) {
	if (label == "" && none) || (validName(label) && !strings.Contains(label, ":") && label != "le" && label != "quantile" && !strings.HasPrefix(label, "__")) {
		return
	}
	panic(fmt.Sprintf("metrics: label name %q is not usable", label))
}

// validName is Prometheus' metric and label name rule.
func validName(n string) bool {
	if n == "" {
		return false
	}
	for i, c := range n {
		letter := c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// desc is what a family's header says.
type desc struct {
	name, help, kind string
}

// Names implements Collector: a family of one name.
func (d desc) Names() []string { return []string{d.name} }

func (d desc) header(b []byte) []byte {
	b = append(b, "# HELP "...)
	b = append(b, d.name...)
	b = append(b, ' ')
	b = append(b, escapeHelp.Replace(d.help)...)
	b = append(b, "\n# TYPE "...)
	b = append(b, d.name...)
	b = append(b, ' ')
	b = append(b, d.kind...)
	return append(b, '\n')
}

var (
	escapeHelp  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	escapeLabel = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// sample appends one line: name{labels} value. labels are name, value pairs.
func sample(b []byte, name string, labels []string, v float64) []byte {
	b = append(b, name...)
	if len(labels) > 0 {
		b = append(b, '{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, labels[i]...)
			b = append(b, `="`...)
			b = append(b, escapeLabel.Replace(labels[i+1])...)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	return append(b, '\n')
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// Counter is a count that only goes up.
type Counter struct{ n atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.n.Add(1) }

// Value is the count so far.
func (c *Counter) Value() uint64 { return c.n.Load() }

// CounterVec is a family of counters, one per value of its single label. The values
// must come from a closed set (outcomes): every value is a series kept for good.
type CounterVec struct {
	desc
	label string
	series[Counter]
}

// NewCounterVec is a counter family with one label ("" for none). A label name Prometheus
// cannot read, or one it reserves (le, quantile), is a programming error: it panics.
func NewCounterVec(name, help, label string) *CounterVec {
	mustLabel(label, true)
	return &CounterVec{desc: desc{name, help, "counter"}, label: label, series: series[Counter]{make: func() *Counter { return &Counter{} }}}
}

// NewCounter is a counter family without labels, and its one counter.
func NewCounter(name, help string) (*CounterVec, *Counter) {
	v := NewCounterVec(name, help, "")
	return v, v.With("")
}

// With is the counter of one label value, made on first use.
func (v *CounterVec) With(value string) *Counter { return v.with(value) }

func (v *CounterVec) write(b []byte) []byte {
	b = v.header(b)
	v.each(func(value string, c *Counter) {
		var labels []string
		if v.label != "" {
			labels = []string{v.label, value}
		}
		b = sample(b, v.name, labels, float64(c.Value()))
	})
	return b
}

// series are a family's children, one per label value, in the order they were first used.
type series[T any] struct {
	make     func() *T
	mu       sync.RWMutex
	values   []string
	children map[string]*T
}

func (s *series[T]) with(value string) *T {
	s.mu.RLock()
	c := s.children[value]
	s.mu.RUnlock()
	if c != nil {
		return c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c = s.children[value]; c == nil {
		if s.children == nil {
			s.children = map[string]*T{}
		}
		c = s.make()
		s.children[value] = c
		s.values = append(s.values, value)
	}
	return c
}

// each calls fn for every child, in order, under the read lock.
func (s *series[T]) each(fn func(value string, c *T)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.values {
		fn(v, s.children[v])
	}
}

// Histogram counts observations into cumulative buckets, as Prometheus' histograms do.
type Histogram struct {
	bounds  []float64       // upper bounds, increasing; +Inf is implied
	counts  []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sumBits atomic.Uint64   // float64 bits of the sum of observations
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v) // the first bound ≥ v: buckets are "le"
	if math.IsNaN(v) {
		i = len(h.bounds) // no bound holds NaN; Prometheus' client counts it in +Inf
	}
	h.counts[i].Add(1)
	for {
		old := h.sumBits.Load()
		if h.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// HistogramVec is a family of histograms with the same buckets, one per value of its
// single label, which must come from a closed set.
type HistogramVec struct {
	desc
	label  string
	bounds []float64
	series[Histogram]
}

// errBuckets says a histogram's bounds are not finite and strictly increasing.
var errBuckets = errors.New("histogram buckets must be finite and strictly increasing")

// NewHistogramVec is a histogram family with one label and the given bucket bounds.
func NewHistogramVec(name, help, label string, bounds []float64) (*HistogramVec, error) {
	mustLabel(label, false)
	for i, x := range bounds {
		if math.IsInf(x, 0) || math.IsNaN(x) || (i > 0 && x <= bounds[i-1]) {
			return nil, fmt.Errorf("%s: %w", name, errBuckets)
		}
	}
	v := &HistogramVec{desc: desc{name, help, "histogram"}, label: label, bounds: slices.Clone(bounds)}
	v.make = func() *Histogram { return &Histogram{bounds: v.bounds, counts: make([]atomic.Uint64, len(v.bounds)+1)} }
	return v, nil
}

// With is the histogram of one label value, made on first use.
func (v *HistogramVec) With(value string) *Histogram { return v.with(value) }

func (v *HistogramVec) write(b []byte) []byte {
	b = v.header(b)
	v.each(func(value string, h *Histogram) {
		// A scrape racing observations may show a sum that does not match the counts exactly
		// (Prometheus allows it); the buckets are cumulative and the count is the +Inf
		// bucket's, whatever the race.
		var cum uint64
		for i := range h.counts {
			cum += h.counts[i].Load()
			le := math.Inf(1)
			if i < len(h.bounds) {
				le = h.bounds[i]
			}
			b = sample(b, v.name+"_bucket", []string{v.label, value, "le", string(appendFloat(nil, le))}, float64(cum))
		}
		b = sample(b, v.name+"_sum", []string{v.label, value}, math.Float64frombits(h.sumBits.Load()))
		b = sample(b, v.name+"_count", []string{v.label, value}, float64(cum))
	})
	return b
}

// Func is a family of one series whose value is read at each scrape: kind is "gauge" or
// "counter". A read that reports false writes the family with no series. Its labels are
// fixed when it is made, from the binary, never from a request.
type Func struct {
	desc
	labels []string
	read   func() (float64, bool)
}

// NewFunc is a single series read at each scrape; labels are name, value pairs.
func NewFunc(name, help, kind string, labels []string, read func() (float64, bool)) *Func {
	return &Func{desc: desc{name, help, kind}, labels: slices.Clone(labels), read: read}
}

func (f *Func) write(b []byte) []byte {
	b = f.header(b)
	if v, ok := f.read(); ok {
		b = sample(b, f.name, f.labels, v)
	}
	return b
}
