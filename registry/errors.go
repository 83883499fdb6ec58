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
	// Unavailable says the registry could not give an answer (unreachable, too slow, failed
	// with a 5xx, rate limiting), rather than answering no: asking again later may work,
	// and the pod is not at fault. errors.Is(err, ErrUnavailable) reports it.
	Unavailable bool
	cause       error
}

// ErrUnavailable matches (with errors.Is) a lookup that failed for want of the registry, not
// because of the image: it could not be reached, did not answer in time, failed (HTTP 5xx)
// or asked us to slow down (HTTP 429). A registry that answered "no" (no such image,
// credentials refused), or that the pod may not use (a non-public address, plain HTTP, a
// certificate that does not verify), is the pod's problem and does not match.
var ErrUnavailable = errors.New("the registry is unavailable")

// Error names the host, the status and the reason: never the registry's own words.
func (e *LookupError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("registry %s answered HTTP %d: %s", e.Registry, e.Status, e.Reason)
	}
	return fmt.Sprintf("registry %s: %s", e.Registry, e.Reason)
}

// Unwrap gives code the cause; its text may be the registry's and must not be shown.
func (e *LookupError) Unwrap() error { return e.cause }

// Is makes errors.Is(err, ErrUnavailable) true when the registry was unavailable.
func (e *LookupError) Is(target error) bool { return target == ErrUnavailable && e.Unavailable }

// unavailableError marks err, whose text it keeps, as ErrUnavailable: the caller's deadline
// passed before the registry answered.
type unavailableError struct{ err error }

func (e unavailableError) Error() string        { return e.err.Error() }
func (e unavailableError) Unwrap() error        { return e.err }
func (e unavailableError) Is(target error) bool { return target == ErrUnavailable }

// describe turns a failure talking to host into a LookupError.
func describe(host string, err error) *LookupError {
	var le *LookupError
	if errors.As(err, &le) {
		return le
	}
	var terr *transport.Error
	if errors.As(err, &terr) && !errors.Is(err, ErrNotPublic) {
		unavailable := terr.StatusCode >= 500 || terr.StatusCode == http.StatusTooManyRequests
		return &LookupError{
			Registry: host, Status: terr.StatusCode, Reason: statusReason(terr.StatusCode),
			Unavailable: unavailable, cause: err,
		}
	}
	reason, unavailable := classify(err)
	return &LookupError{Registry: host, Reason: reason, Unavailable: unavailable, cause: err}
}

// classify names a failure that came without an HTTP status, and tells whether it left the
// registry unavailable (no answer: worth asking again) rather than refused (the pod's
// choice of registry, or a name that does not exist).
func classify(err error) (reason string, unavailable bool) {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, ErrNotPublic):
		return ErrNotPublic.Error(), false
	case errors.Is(err, ErrTooLarge):
		return ErrTooLarge.Error(), false
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timed out", true
	case errors.Is(err, context.Canceled):
		return "cancelled", true
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		// NXDOMAIN: the image names a host that does not exist.
		return "the host name does not resolve", false
	case errors.As(err, &dnsErr):
		return "the host name could not be looked up", true
	}
	return connectionReason(err)
}

// connectionReason names a failure of the connection or what came over it. One that cut
// the answer short leaves the registry unavailable; a certificate that does not verify, a
// plain-HTTP registry or an answer that cannot be read stays so however often we ask.
// go-containerregistry may try HTTPS and HTTP and report both: the plain-HTTP refusal (of
// the fallback) is last, so the HTTPS attempt's failure is the one described.
func connectionReason(err error) (string, bool) {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", true
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer", true
	case tlsReason(err) != "":
		return tlsReason(err), false
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection closed early (EOF)", true
	case errors.Is(err, ErrPlainHTTP):
		return ErrPlainHTTP.Error(), false
	case isTransportFailure(err):
		return "the connection failed", true
	}
	return "its answer could not be read", false
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
