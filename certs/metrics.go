package certs

import (
	"os"

	"github.com/vault-injector/vault-injector/internal/metrics"
)

// ExpiryMetric is the name of the gauge ExpiryGauge reports; the chart's PrometheusRule
// alerts on it.
const ExpiryMetric = "vault_injector_serving_certificate_expiry_timestamp_seconds"

// ExpiryGauge reports when the certificate in certFile (the server's tls.crt) expires,
// read at each scrape, so the metric is right in every certificate mode (self-managed,
// cert-manager, provided) and after every reload. An unreadable file reports no series
// rather than failing the whole scrape; the server's own certificate errors show that case.
func ExpiryGauge(certFile string) *metrics.Func {
	return metrics.NewFunc(ExpiryMetric,
		"Expiry time (Unix seconds) of the serving certificate the webhook loads from its certificate folder.", "gauge", nil,
		func() (float64, bool) { return expiry(certFile) })
}

// expiry is the NotAfter of the first certificate in file, in Unix seconds.
func expiry(file string) (float64, bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	certs, err := parseCerts(data)
	if err != nil {
		return 0, false
	}
	return float64(certs[0].NotAfter.Unix()), true
}
