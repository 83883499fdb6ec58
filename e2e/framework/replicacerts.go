package framework

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// ReplicaCertificates does what the apiserver does on a new connection to each running
// webhook replica of the release: a TLS handshake at the pod's address and port, trusting
// only roots, for serverName (the Service's DNS name). It returns the certificate each
// replica served, by pod; a replica whose handshake fails is an error.
func (c Chart) ReplicaCertificates(ctx context.Context, kubectl string, roots *x509.CertPool, serverName string, port int) (map[string]*x509.Certificate, error) {
	out, err := RunKubectl(ctx, kubectl, c.Kubeconfig, "get", "pods", "-n", c.Namespace, "-l", WebhookSelector,
		"--field-selector=status.phase=Running",
		`-o=jsonpath={range .items[*]}{.metadata.name}{" "}{.status.podIP}{"\n"}{end}`)
	if err != nil {
		return nil, err
	}
	certs := map[string]*x509.Certificate{}
	for line := range strings.Lines(out) {
		pod, ip, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || ip == "" {
			continue // no address yet
		}
		leaf, err := servedCertificate(ctx, net.JoinHostPort(ip, fmt.Sprint(port)), roots, serverName)
		if err != nil {
			return nil, fmt.Errorf("webhook replica %s: %w", pod, err)
		}
		certs[pod] = leaf
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no running webhook replica in namespace %s", c.Namespace)
	}
	return certs, nil
}

// servedCertificate makes one TLS handshake with addr and returns the leaf it served.
func servedCertificate(ctx context.Context, addr string, roots *x509.CertPool, serverName string) (*x509.Certificate, error) {
	d := tls.Dialer{
		NetDialer: &net.Dialer{Timeout: 5 * time.Second},
		Config:    &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12},
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	tlsConn, ok := conn.(*tls.Conn)
	if !ok {
		return nil, errors.Join(fmt.Errorf("TLS dialer returned a %T", conn), conn.Close())
	}
	leaf := tlsConn.ConnectionState().PeerCertificates[0]
	if err := conn.Close(); err != nil {
		return nil, fmt.Errorf("close TLS connection: %w", err)
	}
	return leaf, nil
}
