package certs

import (
	"os"

	"github.com/prometheus/client_golang/prometheus"
)

// ExpiryMetric is the name of the gauge ExpiryCollector reports; the chart's
// PrometheusRule alerts on it.
const ExpiryMetric = "vault_injector_serving_certificate_expiry_timestamp_seconds"

// ExpiryCollector reports when the certificate in a file expires, read at each scrape, so
// the metric is right in every certificate mode (self-managed, cert-manager, provided)
// and after every reload.
type ExpiryCollector struct {
	certFile string
	desc     *prometheus.Desc
}

// NewExpiryCollector reports on certFile (the server's tls.crt); register it with the
// metrics registry.
func NewExpiryCollector(certFile string) *ExpiryCollector {
	return &ExpiryCollector{
		certFile: certFile,
		desc: prometheus.NewDesc(ExpiryMetric,
			"Expiry time (Unix seconds) of the serving certificate the webhook loads from its certificate folder.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *ExpiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector. An unreadable file reports nothing rather
// than failing the whole scrape; the server's own certificate errors show that case.
func (c *ExpiryCollector) Collect(ch chan<- prometheus.Metric) {
	data, err := os.ReadFile(c.certFile)
	if err != nil {
		return
	}
	certs, err := parseCerts(data)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(certs[0].NotAfter.Unix()))
}
