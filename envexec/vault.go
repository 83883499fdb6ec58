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
	"strconv"
	"strings"
	"time"
)

const (
	// attemptTimeout bounds one HTTP attempt, so a hung connection is retried instead
	// of eating the whole start-up deadline.
	attemptTimeout = 15 * time.Second
	// maxBody bounds a response; Vault's own request limit is 32 MiB.
	maxBody = 32 << 20
	// backoffBase and backoffMax shape the jittered exponential backoff.
	backoffBase = 100 * time.Millisecond
	backoffMax  = 3 * time.Second
)

// client talks plain HTTP+JSON to Vault for the three calls envexec needs. It reads no
// environment variable: the application's VAULT_* settings are not ours.
type client struct {
	base  *url.URL
	http  *http.Client
	log   *slog.Logger
	token string
	// sensitive strings (the JWT, the client token) are scrubbed from Vault's error
	// messages before they reach an error, in case Vault ever echoes them.
	sensitive []string
}

func newClient(s Settings, log *slog.Logger) (*client, error) {
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
	return &client{base: s.VaultAddr, http: &http.Client{Transport: tr}, log: log}, nil
}

// tlsConfig is the hook for CA settings (a later ENVEXEC_CA_* setting lands here).
// Verification is always on.
func tlsConfig(Settings) (*tls.Config, error) {
	return &tls.Config{MinVersion: tls.VersionTLS12}, nil
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
// verify will not fix itself before the deadline.
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
	)
	return !errors.As(err, &verr) && !errors.As(err, &uaerr) && !errors.As(err, &herr) && !errors.As(err, &cierr)
}

// call does r with retries until it succeeds, fails permanently, or ctx ends; the last
// case wraps errUnreachable. out receives the JSON body (numbers kept as json.Number).
func (c *client) call(ctx context.Context, r request, out any) error {
	for attempt := 0; ; attempt++ {
		err := c.once(ctx, r, out)
		if err == nil || !transient(err) {
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
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
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
	resp, err := c.http.Do(req)
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
		return &statusError{req: r.String(), code: resp.StatusCode, msgs: c.vaultErrors(data)}
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
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
	return d/2 + rand.N(d/2+1)
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

// login exchanges the JWT for a client token. The request body {"role","jwt"} is the
// same for the kubernetes and jwt auth methods.
func (c *client) login(ctx context.Context, authPath, role, jwt string) error {
	c.sensitive = append(c.sensitive, jwt)
	var out struct {
		Auth *struct {
			ClientToken string `json:"client_token"`
		} `json:"auth"`
	}
	r := request{method: http.MethodPost, path: "auth/" + authPath + "/login", body: map[string]string{"role": role, "jwt": jwt}}
	err := c.call(ctx, r, &out)
	switch {
	case errors.Is(err, errUnreachable):
		return fmt.Errorf("vault login as role %q at auth/%s: %w", role, authPath, err)
	case err != nil:
		return fmt.Errorf("%w as role %q at auth/%s: %w", errLogin, role, authPath, err)
	case out.Auth == nil || out.Auth.ClientToken == "":
		return fmt.Errorf("%w as role %q at auth/%s: response has no client token", errLogin, role, authPath)
	}
	c.token = out.Auth.ClientToken
	c.sensitive = append(c.sensitive, c.token)
	return nil
}

// mountInfo describes the secrets engine serving a path.
type mountInfo struct {
	// path is the mount path with its trailing slash, e.g. "secret/"; empty if unknown.
	path string
	// kind is the engine type, e.g. "kv".
	kind string
	// version is the KV version (1 or 2); 0 for other engines.
	version int
}

func (m mountInfo) kvV2() bool { return m.kind == "kv" && m.version == 2 }

func (m mountInfo) String() string {
	switch {
	case m.kind == "":
		return "an unknown mount"
	case m.kind == "kv" || m.kind == "generic":
		return fmt.Sprintf("a kv v%d mount at %q", max(m.version, 1), m.path)
	default:
		return fmt.Sprintf("a %s mount at %q", m.kind, m.path)
	}
}

// mount asks Vault which engine serves path, like the Vault CLI's preflight request.
// A 404 (old Vault, or no such mount) means "read the path as written".
func (c *client) mount(ctx context.Context, path string) (mountInfo, error) {
	var out struct {
		Data struct {
			Path    string            `json:"path"`
			Type    string            `json:"type"`
			Options map[string]string `json:"options"`
		} `json:"data"`
	}
	err := c.call(ctx, request{method: http.MethodGet, path: "sys/internal/ui/mounts/" + path}, &out)
	var se *statusError
	if errors.As(err, &se) && se.code == http.StatusNotFound {
		return mountInfo{}, nil
	}
	if err != nil {
		return mountInfo{}, fmt.Errorf("looking up the mount: %w", err)
	}
	m := mountInfo{path: out.Data.Path, kind: out.Data.Type}
	if m.kind == "kv" || m.kind == "generic" {
		m.version = 1
		if v, ok := out.Data.Options["version"]; ok && v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return mountInfo{}, fmt.Errorf("looking up the mount: kv version %q is not a number", v)
			}
			m.version = n
		}
	}
	return m, nil
}

// read GETs an API path (pinned to version when > 0) and returns its "data" object.
func (c *client) read(ctx context.Context, apiPath string, version int) (map[string]any, error) {
	r := request{method: http.MethodGet, path: apiPath}
	if version > 0 {
		r.query = url.Values{"version": {strconv.Itoa(version)}}
	}
	c.log.Debug("reading secret", "path", apiPath, "version", version)
	var out struct {
		Data map[string]any `json:"data"`
	}
	if err := c.call(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Data, nil
}
