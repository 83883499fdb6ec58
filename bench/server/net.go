package server

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"time"
)

// HTTP2Client is a client that speaks only HTTP/2 over TLS to servers trusted by roots,
// on one kept-alive connection per server, as the apiserver's webhook client does.
func HTTP2Client(roots *x509.CertPool) *http.Client {
	protocols := new(http.Protocols)
	protocols.SetHTTP2(true)
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			Protocols:         protocols,
			ForceAttemptHTTP2: true,
			IdleConnTimeout:   5 * time.Minute,
		},
	}
}
