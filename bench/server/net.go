package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"time"
)

// FreeAddrs returns n distinct free loopback addresses (127.0.0.1:port). The ports are
// released before return, so another process could take one first; on a bench machine
// that is rare, and the server then fails to start with a clear error.
func FreeAddrs(ctx context.Context, n int) ([]string, error) {
	addrs := make([]string, 0, n)
	for range n {
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

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
