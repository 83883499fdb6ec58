package envexec

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
)

const (
	// maxBody bounds a response; Vault's own request limit is 32 MiB.
	maxBody = 32 << 20
	// backoffBase and backoffMax shape the jittered exponential backoff.
	backoffBase = 100 * time.Millisecond
	backoffMax  = 3 * time.Second
	// maxRedirects caps the same-origin redirects one request follows (Go's default is
	// 10); Vault itself redirects at most once (a standby to the active node).
	maxRedirects = 5
)

// client talks plain HTTP+JSON to Vault for the three calls envexec needs. It reads no
// environment variable: the application's VAULT_* settings are not ours.
type client struct {
	base *url.URL
	http *http.Client
	log  *slog.Logger
	// namespace is sent as X-Vault-Namespace when set.
	namespace string
	// attemptTimeout bounds one HTTP attempt (ENVEXEC_CLIENT_TIMEOUT).
	attemptTimeout time.Duration
	token          string
	// tokenTTL and tokenRenewable describe the token, for daemon mode.
	tokenTTL       time.Duration
	tokenRenewable bool
	// sensitive strings (the JWT, the client token) are scrubbed from Vault's error
	// messages before they reach an error, in case Vault ever echoes them.
	sensitive []string
}

func newClient(s settings.Settings, log *slog.Logger) (*client, error) {
	tlsConf, err := tlsConfig(s)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		// No proxy from the environment: that environment belongs to the application.
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: maxParallel,
		IdleConnTimeout:     30 * time.Second,
	}
	hc := &http.Client{Transport: tr, CheckRedirect: sameOriginRedirects(s.VaultAddr)}
	return &client{
		base: s.VaultAddr, http: hc, log: log,
		namespace: s.VaultNamespace, attemptTimeout: s.ClientTimeout,
	}, nil
}

// tlsConfig verifies Vault's certificate against the system roots plus, when set, the
// CA bundle of ENVEXEC_CA_FILE (a pod's own CA) and the CAs of ENVEXEC_CA_CERTS (the
// platform's). The system roots come from the default files only:
// envexec's own environment is empty (see isolate.go), so the container's SSL_CERT_FILE
// and SSL_CERT_DIR cannot change them. Only ENVEXEC_TLS_SKIP_VERIFY turns verification off.
func tlsConfig(s settings.Settings) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CAFile != "" || len(s.CACerts) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool() // an image without CA files has no system roots
		}
		if s.CAFile != "" {
			data, err := os.ReadFile(s.CAFile)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", settings.EnvCAFile, err)
			}
			if !pool.AppendCertsFromPEM(data) {
				return nil, fmt.Errorf("%s: %s holds no PEM certificate", settings.EnvCAFile, s.CAFile)
			}
		}
		for _, cert := range s.CACerts {
			pool.AddCert(cert)
		}
		conf.RootCAs = pool
	}
	if s.TLSSkipVerify {
		conf.InsecureSkipVerify = true // the pod opted in, and the webhook allowed it
	}
	return conf, nil
}

// sameOriginRedirects lets the client follow a redirect only to the scheme, host and port
// of ENVEXEC_VAULT_ADDR, and at most maxRedirects of them. Go's client would otherwise
// send the JWT (a 307 resends the body) and X-Vault-Token (custom headers are kept) to
// whatever origin a Location names. It is called before each redirected request is sent,
// so a refused one reaches nobody.
func sameOriginRedirects(base *url.URL) func(*http.Request, []*http.Request) error {
	want := origin(base)
	return func(req *http.Request, via []*http.Request) error {
		if origin(req.URL) != want {
			return &redirectError{host: req.URL.Host}
		}
		if len(via) > maxRedirects {
			return &redirectError{}
		}
		return nil
	}
}

// origin is scheme://host:port with the scheme's default port made explicit, so
// https://vault and https://vault:443 are one origin.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// redirectError is a redirect envexec refused: to another origin (host), or one too many
// (host empty). It names the other origin's host only, never the Location's path or query.
type redirectError struct{ host string }

func (e *redirectError) Error() string {
	if e.host == "" {
		return fmt.Sprintf("stopped after %d redirects", maxRedirects)
	}
	return fmt.Sprintf("refused a redirect to another origin, host %q: envexec follows redirects only within the origin of %s",
		e.host, settings.EnvVaultAddr)
}

// request is one Vault API call; path is relative to /v1/.
type request struct {
	method string
	path   string
	query  url.Values
	body   any
}

func (r request) String() string {
	s := r.method + " /v1/" + r.path
	if len(r.query) > 0 {
		s += "?" + r.query.Encode()
	}
	return s
}

// statusError is a non-2xx answer. It keeps Vault's error strings (they name roles and
// paths; values are never sent to Vault, so Vault cannot echo them).
type statusError struct {
	req  string
	code int
	msgs []string
	// body is the raw answer, for the few callers that read results from an error
	// answer (transit batches). It may hold secrets: Error never shows it.
	body []byte
}

func (e *statusError) Error() string {
	s := fmt.Sprintf("%s: %d %s", e.req, e.code, http.StatusText(e.code))
	if len(e.msgs) > 0 {
		s += ": " + strings.Join(e.msgs, "; ")
	}
	return s
}

// transportError marks a failure below HTTP (dial, TLS, reset, timeout).
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// transient reports whether retrying may help: network trouble, 5xx (sealed, standby),
// 429 and 412 (a performance standby not yet caught up). A certificate that does not
// verify, or a redirect envexec refuses, will not fix itself before the deadline.
func transient(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code >= 500 || se.code == http.StatusTooManyRequests || se.code == http.StatusPreconditionFailed
	}
	var te *transportError
	if !errors.As(err, &te) {
		return false
	}
	var (
		verr  *tls.CertificateVerificationError
		uaerr x509.UnknownAuthorityError
		herr  x509.HostnameError
		cierr x509.CertificateInvalidError
		rerr  *redirectError
	)
	return !errors.As(err, &verr) && !errors.As(err, &uaerr) && !errors.As(err, &herr) && !errors.As(err, &cierr) &&
		!errors.As(err, &rerr)
}

// call does r with retries until it succeeds, fails permanently, or ctx ends; the last
// case wraps errUnreachable. out receives the JSON body (numbers kept as json.Number).
func (c *client) call(ctx context.Context, r request, out any) error {
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, r, out)
		var te *transportError
		switch {
		case err == nil:
			return nil
		case !transient(err) && errors.As(err, &te):
			// A certificate that does not verify, or a refused redirect: Vault is unusable,
			// not the secret.
			return fmt.Errorf("%w: %w", errUnreachable, err)
		case !transient(err):
			return err
		}
		c.log.Debug("vault request failed, will retry", "request", r.String(), "attempt", attempt+1, "error", err.Error())
		if !sleep(ctx, backoff(attempt)) {
			why := "start-up deadline exceeded"
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				why = "interrupted"
			}
			return fmt.Errorf("%w (%s after %d attempts): %w", errUnreachable, why, attempt+1, err)
		}
	}
}

func (c *client) once(ctx context.Context, r request, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.attemptTimeout)
	defer cancel()
	// Not JoinPath: it would unescape "%" sequences and clean "..", changing the path.
	u := *c.base
	u.Path, u.RawPath, u.RawQuery = c.base.Path+"/v1/"+r.path, "", r.query.Encode()
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return fmt.Errorf("%s: encoding request: %w", r, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return fmt.Errorf("%s: %w", r, err)
	}
	req.Header.Set("X-Vault-Request", "true")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("X-Vault-Token", c.token)
	}
	if c.namespace != "" {
		req.Header.Set("X-Vault-Namespace", c.namespace)
	}
	resp, err := c.http.Do(req)
	var rerr *redirectError
	if errors.As(err, &rerr) {
		// Not Go's error: it quotes the Location, query and all.
		return &transportError{fmt.Errorf("%s /v1/%s: %w", r.method, r.path, rerr)}
	}
	if err != nil {
		return &transportError{err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return &transportError{fmt.Errorf("%s: reading response: %w", r, err)}
	}
	if len(data) > maxBody {
		return fmt.Errorf("%s: response larger than %d bytes", r, maxBody)
	}
	if resp.StatusCode/100 != 2 {
		return &statusError{req: r.String(), code: resp.StatusCode, msgs: c.vaultErrors(data), body: data}
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := decodeInto(data, out); err != nil {
		return fmt.Errorf("%s: decoding response: %w", r, err)
	}
	return nil
}

// vaultErrors extracts Vault's {"errors": [...]}, shortened and scrubbed.
func (c *client) vaultErrors(data []byte) []string {
	var body struct {
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(data, &body) != nil {
		return nil
	}
	var msgs []string
	for _, m := range body.Errors[:min(len(body.Errors), 3)] {
		m = flatten(m)
		for _, s := range c.sensitive {
			m = strings.ReplaceAll(m, s, "[redacted]")
		}
		if len(m) > 300 {
			m = m[:300] + "..."
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// flatten turns Vault's multi-line "1 error occurred:\n\t* permission denied\n\n" into
// "permission denied", so a message stays on one log line.
func flatten(m string) string {
	var bullets []string
	for _, l := range strings.Split(m, "\n") {
		if b, ok := strings.CutPrefix(strings.TrimSpace(l), "* "); ok {
			bullets = append(bullets, b)
		}
	}
	if len(bullets) > 0 {
		return strings.Join(bullets, "; ")
	}
	return strings.Join(strings.Fields(m), " ")
}

// backoff is exponential with equal jitter: half fixed, half random, capped.
func backoff(attempt int) time.Duration {
	d := backoffMax
	if attempt < 10 {
		d = min(backoffMax, backoffBase<<attempt)
	}
	return d/2 + rand.N(d/2+1) //nolint:gosec // jitter needs no cryptographic randomness
}

// sleep waits d, or returns false as soon as ctx ends.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// decodeInto decodes a Vault JSON body into out, keeping numbers as json.Number so values
// reach the application exactly as Vault sent them.
func decodeInto(data []byte, out any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(out)
}
