// Package metricstest reads a /metrics page the way Prometheus does, with its own text
// parser, so tests check what a scraper would see rather than our writer's idea of it.
package metricstest

import (
	"bytes"
	"fmt"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Parse reads text as Prometheus' text parser does, failing the test if it cannot.
func Parse(t testing.TB, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	families, err := parse(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return families
}

func parse(text []byte) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("the metrics page does not parse: %w", err)
	}
	return families, nil
}

// Value is the value of the counter or gauge family name whose labels include labels
// (name, value pairs); ok is false when there is no such series.
func Value(t testing.TB, text []byte, name string, labels ...string) (float64, bool) {
	t.Helper()
	v, ok, err := Read(text, name, labels...)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return v, ok
}

// Read is Value for callers without a testing.TB (Ginkgo specs): a page that does not
// parse is an error, which carries the parser's message but not the page.
func Read(text []byte, name string, labels ...string) (float64, bool, error) {
	families, err := parse(text)
	if err != nil {
		return 0, false, err
	}
	for _, m := range families[name].GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true, nil
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true, nil
		}
	}
	return 0, false, nil
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
