package registry

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// LookupError says why a registry could not be read, in words the webhook chose: the host
// that was asked, the HTTP status it answered (if any) and a fixed description. A
// registry's own words (error bodies, header values, the URLs it points to) never appear:
// the pod's author may run that registry, and whatever it says would reach the denial
// message, the warnings and the logs. The cause stays reachable with errors.Is and
// errors.As for code, never for display.
type LookupError struct {
	// Registry is the host that was asked (host[:port]), as the image or mirror names it.
	Registry string
	// Status is the HTTP status it answered, 0 if it did not answer with one.
	Status int
	// Reason is a fixed description of what went wrong.
	Reason string
	cause  error
}

// Error names the host, the status and the reason: never the registry's own words.
func (e *LookupError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("registry %s answered HTTP %d: %s", e.Registry, e.Status, e.Reason)
	}
	return fmt.Sprintf("registry %s: %s", e.Registry, e.Reason)
}

// Unwrap gives code the cause; its text may be the registry's and must not be shown.
func (e *LookupError) Unwrap() error { return e.cause }

// describe turns a failure talking to host into a LookupError.
func describe(host string, err error) *LookupError {
	var le *LookupError
	if errors.As(err, &le) {
		return le
	}
	status, reason := classify(err)
	return &LookupError{Registry: host, Status: status, Reason: reason, cause: err}
}

// classify names a failure. go-containerregistry may try HTTPS and HTTP and report both:
// the address refusal comes first, the plain-HTTP refusal (of the fallback) last, so the
// HTTPS attempt's failure is the one described.
func classify(err error) (int, string) {
	var terr *transport.Error
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, ErrNotPublic):
		return 0, ErrNotPublic.Error()
	case errors.As(err, &terr):
		return terr.StatusCode, statusReason(terr.StatusCode)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return 0, "timed out"
	case errors.Is(err, context.Canceled):
		return 0, "cancelled"
	case errors.As(err, &dnsErr):
		return 0, "the host name does not resolve"
	case errors.Is(err, syscall.ECONNREFUSED):
		return 0, "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return 0, "connection reset by peer"
	case tlsReason(err) != "":
		return 0, tlsReason(err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return 0, "the connection closed early (EOF)"
	case errors.Is(err, ErrPlainHTTP):
		return 0, ErrPlainHTTP.Error()
	case isTransportFailure(err):
		return 0, "the connection failed"
	}
	return 0, "its answer could not be read"
}

// tlsReason describes a failed TLS handshake, or returns "".
func tlsReason(err error) string {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var certErr x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknownCA):
		return "its TLS certificate is signed by an unknown authority"
	case errors.As(err, &hostErr):
		return "its TLS certificate is not valid for this host name"
	case errors.As(err, &certErr):
		return "its TLS certificate is not valid"
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// net/http's own words, not the server's.
		return "it speaks plain HTTP, not HTTPS"
	}
	return ""
}

// statusReason describes an HTTP status; the status line's text is the server's choice, so
// only the number is used.
func statusReason(code int) string {
	switch {
	case code == http.StatusUnauthorized:
		return "unauthorized: no credentials for it, or it refused them"
	case code == http.StatusForbidden:
		return "access denied"
	case code == http.StatusNotFound:
		return "no such image or tag"
	case code == http.StatusTooManyRequests:
		return "rate limited"
	case code >= 500:
		return "the registry failed"
	case code >= 300 && code < 400:
		return "an unexpected redirect"
	}
	return "an unexpected answer"
}

// isTransportFailure tells network and protocol failures (worth describing as such) from a
// well-formed answer that was not what we asked for.
func isTransportFailure(err error) bool {
	var terr *transport.Error
	var netErr net.Error
	var opErr *net.OpError
	return errors.As(err, &terr) || errors.As(err, &netErr) || errors.As(err, &opErr) ||
		errors.Is(err, ErrNotPublic) || errors.Is(err, ErrPlainHTTP) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}
