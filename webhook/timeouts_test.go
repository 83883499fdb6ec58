package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// TestAdmissionServerEndsStalledBodies: a caller that announces a body and stops sending
// it is cut off by the read timeout, with its buffer, instead of holding it for as long
// as it likes (admissionTimeouts, shortened here).
func TestAdmissionServerEndsStalledBodies(t *testing.T) {
	t.Parallel()
	s := &tlsServer{mux: http.NewServeMux(), timeouts: serverTimeouts{read: 300 * time.Millisecond, write: time.Second, idle: time.Second}}
	s.mux.Handle(MutatePath, &ReviewServer{Log: logr.Discard()})
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = s.httpServer(nil)
	ts.StartTLS()
	defer ts.Close()

	d := tls.Dialer{Config: &tls.Config{RootCAs: certPool(ts), MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(t.Context(), "tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nContent-Length: 7000000\r\n\r\n{", MutatePath); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	answer, err := io.ReadAll(conn) // ends when the server closes the connection
	if err != nil {
		t.Fatalf("the server still held the stalled request after %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	t.Logf("connection closed after %v: %.80q", time.Since(start).Round(time.Millisecond), answer)
}

// certPool trusts ts's certificate.
func certPool(ts *httptest.Server) *x509.CertPool {
	return ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
}
