package kube

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/vault-injector/vault-injector/internal/filestamp"
)

// Config says where the apiserver is and how the webhook proves who it is: what it reads
// of a kubeconfig file or of its pod's service account. client-go's loaders and REST
// client did the same with a tenth of the binary.
type Config struct {
	// Host is the apiserver's URL, https://host:port.
	Host string
	// CAData is the PEM bundle that signs the apiserver's certificate; with CAFile empty
	// too, the system's roots are trusted.
	CAData []byte
	// CAFile holds that bundle when CAData is empty, read again whenever it changes: the
	// cluster's CA in a pod's service account volume is updated when it rotates.
	CAFile string
	// ServerName is the name the apiserver's certificate must carry, if not Host's.
	ServerName string
	// Insecure skips the check of the apiserver's certificate (insecure-skip-tls-verify).
	Insecure bool
	// CertData and KeyData are a PEM client certificate and its key.
	CertData, KeyData []byte
	// CertFile and KeyFile hold them when CertData and KeyData are empty, read again
	// whenever they change (a renewed certificate).
	CertFile, KeyFile string
	// Token is a bearer token.
	Token string
	// TokenFile holds a bearer token, read again whenever the file changes: the kubelet
	// renews a projected service account token every hour.
	TokenFile string
	// Proxy is the proxy to reach the apiserver through (proxy-url); nil uses the
	// environment's (HTTPS_PROXY, NO_PROXY).
	Proxy *url.URL
}

// inClusterDir is where the kubelet mounts a pod's service account credentials.
const inClusterDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// errNoCluster says neither a kubeconfig nor a pod's service account was found.
var errNoCluster = errors.New("no kubeconfig (KUBECONFIG, ~/.kube/config) and not in a pod (KUBERNETES_SERVICE_HOST is unset)")

// LoadConfig finds the cluster as kubectl does: the files KUBECONFIG lists, else
// $HOME/.kube/config, else the pod's in-cluster service account. getenv reads the
// variables config.ClusterEnvNames lists.
func LoadConfig(getenv func(string) string) (*Config, error) {
	return loadConfig(getenv, getenv("HOME"), inClusterDir)
}

func loadConfig(getenv func(string) string, home, saDir string) (*Config, error) {
	var files []string
	if list := getenv("KUBECONFIG"); list != "" {
		files = filepath.SplitList(list)
	} else if home != "" {
		files = []string{filepath.Join(home, ".kube", "config")}
	}
	var merged kubeconfig
	found := false
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue // kubectl skips a listed file that does not exist
		}
		if err != nil {
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
		kc, err := parseKubeconfig(data, filepath.Dir(f))
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", f, err)
		}
		merged.merge(kc)
		found = true
	}
	if found {
		return merged.config()
	}
	host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, errNoCluster
	}
	ca := filepath.Join(saDir, "ca.crt")
	if _, err := os.Stat(ca); err != nil {
		return nil, fmt.Errorf("in-cluster configuration: %w", err)
	}
	return &Config{Host: "https://" + net.JoinHostPort(host, port), CAFile: ca, TokenFile: filepath.Join(saDir, "token")}, nil
}

// ConfigFromKubeconfig reads one kubeconfig file's content; relative paths in it are
// taken from the working directory.
func ConfigFromKubeconfig(data []byte) (*Config, error) {
	kc, err := parseKubeconfig(data, "")
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return kc.config()
}

// kubeconfig is the part of a kubeconfig file the webhook reads. Fields it cannot honour
// (exec and auth-provider plugins, basic auth, impersonation) are read only to refuse them:
// ignoring one would connect as somebody else than the file says.
type kubeconfig struct {
	CurrentContext string        `json:"current-context"`
	Clusters       []kubeCluster `json:"clusters"`
	Users          []kubeUser    `json:"users"`
	Contexts       []kubeContext `json:"contexts"`
}

// kubeCluster is a named cluster of a kubeconfig.
type kubeCluster struct {
	Name    string `json:"name"`
	Cluster struct {
		Server     string `json:"server"`
		CA         string `json:"certificate-authority"`
		CAData     []byte `json:"certificate-authority-data"`
		Insecure   bool   `json:"insecure-skip-tls-verify"`
		ServerName string `json:"tls-server-name"`
		ProxyURL   string `json:"proxy-url"`
	} `json:"cluster"`
}

// kubeUser is a named user (credentials) of a kubeconfig.
type kubeUser struct {
	Name string `json:"name"`
	User struct {
		Cert         string   `json:"client-certificate"`
		CertData     []byte   `json:"client-certificate-data"`
		Key          string   `json:"client-key"`
		KeyData      []byte   `json:"client-key-data"`
		Token        string   `json:"token"`
		TokenFile    string   `json:"tokenFile"`
		Username     string   `json:"username"`
		Password     string   `json:"password"`
		As           string   `json:"as"`
		AsUID        string   `json:"as-uid"`
		AsGroups     []string `json:"as-groups"`
		AsUserExtra  any      `json:"as-user-extra"`
		Exec         any      `json:"exec"`
		AuthProvider any      `json:"auth-provider"`
	} `json:"user"`
}

// kubeContext is a named context of a kubeconfig: a cluster and a user.
type kubeContext struct {
	Name    string `json:"name"`
	Context struct {
		Cluster string `json:"cluster"`
		User    string `json:"user"`
	} `json:"context"`
}

// parseKubeconfig reads data, making its relative file paths relative to dir.
func parseKubeconfig(data []byte, dir string) (*kubeconfig, error) {
	var kc kubeconfig
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return nil, errors.New("not a kubeconfig: cannot parse it as YAML") // the parser quotes the text, which may hold a key
	}
	abs := func(p *string) {
		if *p != "" && dir != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for i := range kc.Clusters {
		abs(&kc.Clusters[i].Cluster.CA)
	}
	for i := range kc.Users {
		u := &kc.Users[i].User
		abs(&u.Cert)
		abs(&u.Key)
		abs(&u.TokenFile)
	}
	return &kc, nil
}

// merge adds other's entries as kubectl merges the files KUBECONFIG lists: the first
// file to name a cluster, user or context, or to set the current context, wins.
func (kc *kubeconfig) merge(other *kubeconfig) {
	if kc.CurrentContext == "" {
		kc.CurrentContext = other.CurrentContext
	}
	for _, c := range other.Clusters {
		if !slices.ContainsFunc(kc.Clusters, func(k kubeCluster) bool { return k.Name == c.Name }) {
			kc.Clusters = append(kc.Clusters, c)
		}
	}
	for _, u := range other.Users {
		if !slices.ContainsFunc(kc.Users, func(k kubeUser) bool { return k.Name == u.Name }) {
			kc.Users = append(kc.Users, u)
		}
	}
	for _, c := range other.Contexts {
		if !slices.ContainsFunc(kc.Contexts, func(k kubeContext) bool { return k.Name == c.Name }) {
			kc.Contexts = append(kc.Contexts, c)
		}
	}
}

// config resolves the current context into a Config, reading the files it names.
func (kc *kubeconfig) config() (*Config, error) {
	ctxName := kc.CurrentContext
	if ctxName == "" && len(kc.Contexts) == 1 {
		ctxName = kc.Contexts[0].Name
	}
	i := slices.IndexFunc(kc.Contexts, func(c kubeContext) bool { return c.Name == ctxName })
	if i < 0 {
		return nil, fmt.Errorf("kubeconfig: no context %q", ctxName)
	}
	ctx := kc.Contexts[i].Context
	i = slices.IndexFunc(kc.Clusters, func(c kubeCluster) bool { return c.Name == ctx.Cluster })
	if i < 0 || kc.Clusters[i].Cluster.Server == "" {
		return nil, fmt.Errorf("kubeconfig context %q: no cluster %q with a server", ctxName, ctx.Cluster)
	}
	var cfg Config
	if err := kc.Clusters[i].into(&cfg); err != nil {
		return nil, err
	}
	if ctx.User == "" {
		return &cfg, nil // no user: anonymous, as the context says
	}
	i = slices.IndexFunc(kc.Users, func(u kubeUser) bool { return u.Name == ctx.User })
	if i < 0 {
		// Connecting without credentials would be somebody else than the file says.
		return nil, fmt.Errorf("kubeconfig context %q: no user %q", ctxName, ctx.User)
	}
	if err := kc.Users[i].into(&cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// into sets where the cluster is and how to trust it.
func (c *kubeCluster) into(cfg *Config) error {
	cl := c.Cluster
	cfg.Host, cfg.CAData, cfg.Insecure, cfg.ServerName = cl.Server, cl.CAData, cl.Insecure, cl.ServerName
	if cl.CA != "" && len(cfg.CAData) == 0 {
		if _, err := os.Stat(cl.CA); err != nil {
			return fmt.Errorf("kubeconfig cluster %q: %w", c.Name, err)
		}
		cfg.CAFile = cl.CA
	}
	if cl.ProxyURL != "" {
		u, err := url.Parse(cl.ProxyURL)
		if err != nil {
			return fmt.Errorf("kubeconfig cluster %q: proxy-url is not a URL", c.Name)
		}
		cfg.Proxy = u
	}
	return nil
}

// into sets the user's credentials, refusing those the client cannot honour.
func (u *kubeUser) into(cfg *Config) error {
	a := u.User
	switch {
	case a.Exec != nil, a.AuthProvider != nil:
		return fmt.Errorf("kubeconfig user %q: credential plugins (exec, auth-provider) are not supported; use a client certificate or a token", u.Name)
	case a.Username != "" || a.Password != "":
		return fmt.Errorf("kubeconfig user %q: basic authentication is not supported; use a client certificate or a token", u.Name)
	case a.As != "" || a.AsUID != "" || len(a.AsGroups) > 0 || a.AsUserExtra != nil:
		return fmt.Errorf("kubeconfig user %q: impersonation (as, as-uid, as-groups, as-user-extra) is not supported", u.Name)
	}
	cfg.CertData, cfg.KeyData, cfg.Token, cfg.TokenFile = a.CertData, a.KeyData, a.Token, a.TokenFile
	for _, f := range []struct {
		path string
		data []byte
		into *string
	}{{a.Cert, a.CertData, &cfg.CertFile}, {a.Key, a.KeyData, &cfg.KeyFile}} {
		if f.path != "" && len(f.data) == 0 {
			if _, err := os.Stat(f.path); err != nil {
				return fmt.Errorf("kubeconfig user %q: %w", u.Name, err)
			}
			*f.into = f.path
		}
	}
	return nil
}

// httpClient is cfg's transport: TLS with its roots and client certificate, HTTP/2 with
// health checks, its proxy, and its bearer token on every request. It follows no
// redirect: the client only gets and writes objects, and a redirect would carry the
// token and the client certificate to another host.
func (cfg *Config) httpClient() (*http.Client, error) {
	if cfg.Insecure && (len(cfg.CAData) > 0 || cfg.CAFile != "") {
		return nil, errors.New("kubeconfig: insecure-skip-tls-verify and a certificate authority together: choose one, as kubectl asks")
	}
	files := &tlsFiles{cfg: cfg}
	if err := files.reload(); err != nil {
		return nil, err
	}
	var rt http.RoundTripper = files
	rt = userAgent{next: rt}
	if cfg.Token != "" || cfg.TokenFile != "" {
		rt = &bearer{next: rt, token: cfg.Token, file: cfg.TokenFile}
	}
	return &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, nil
}

// transport is the HTTP transport for cfg with these CA and client certificate bytes.
func (cfg *Config) transport(ca, cert, key []byte) (*http.Transport, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // only when the kubeconfig says insecure-skip-tls-verify, as kubectl does
	if len(ca) > 0 {
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(ca) {
			return nil, errors.New("kubernetes CA bundle holds no PEM certificate")
		}
	}
	if len(cert) > 0 || len(key) > 0 {
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, errors.New("kubernetes client certificate: not a matching PEM certificate and key") // never the key's bytes
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	proxy := http.ProxyFromEnvironment
	if cfg.Proxy != nil {
		proxy = http.ProxyURL(cfg.Proxy)
	}
	return &http.Transport{
		Proxy: proxy, TLSClientConfig: tc, ForceAttemptHTTP2: true,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second, IdleConnTimeout: 90 * time.Second, MaxIdleConnsPerHost: 8,
		// A connection that went quiet (an apiserver failover, a lost conntrack entry) is
		// pinged and dropped, rather than kept to time out every request on it.
		HTTP2: &http.HTTP2Config{SendPingTimeout: 30 * time.Second, PingTimeout: 15 * time.Second},
	}, nil
}

// tlsFiles is cfg's transport, built again when its CA or client certificate files
// change. Files that cannot be read or do not make a transport (caught mid-write) keep
// the current one.
type tlsFiles struct {
	cfg   *Config
	mu    sync.Mutex
	now   *http.Transport
	stamp string // the files' sizes and modification times when now was built
}

// stampOf describes the files cfg names as they are now (an unset one stays "missing").
func (f *tlsFiles) stampOf() string { return filestamp.Of(f.cfg.CAFile, f.cfg.CertFile, f.cfg.KeyFile) }

// reload builds the transport from the data and the files as they are now.
func (f *tlsFiles) reload() error {
	stamp := f.stampOf()
	data := [3][]byte{f.cfg.CAData, f.cfg.CertData, f.cfg.KeyData}
	for i, name := range []string{f.cfg.CAFile, f.cfg.CertFile, f.cfg.KeyFile} {
		if name != "" && len(data[i]) == 0 {
			b, err := os.ReadFile(name)
			if err != nil {
				return fmt.Errorf("kubernetes client: %w", err)
			}
			data[i] = b
		}
	}
	t, err := f.cfg.transport(data[0], data[1], data[2])
	if err != nil {
		return err
	}
	if f.now != nil {
		f.now.CloseIdleConnections() // new requests open connections with the new files
	}
	f.now, f.stamp = t, stamp
	return nil
}

// RoundTrip implements http.RoundTripper.
func (f *tlsFiles) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	if stamp := f.stampOf(); stamp != f.stamp {
		_ = f.reload() // on failure the current transport goes on; the next request tries again
	}
	t := f.now
	f.mu.Unlock()
	return t.RoundTrip(req)
}

// userAgent names the webhook in the apiserver's audit log.
type userAgent struct{ next http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (u userAgent) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", "vault-injector")
	return u.next.RoundTrip(req)
}

// bearer sets the Authorization header, from a file read again whenever it changes.
type bearer struct {
	next  http.RoundTripper
	file  string
	mu    sync.Mutex
	token string
	stamp string // the file's size and modification time when token was read
}

// RoundTrip implements http.RoundTripper.
func (b *bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	token, err := b.current()
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper closes the body, even on error
		}
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+token)
	return b.next.RoundTrip(req)
}

// current is the token; a file that cannot be read keeps the last token it gave (the
// kubelet replaces it atomically, but a reader may still catch it between two states).
func (b *bearer) current() (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.file == "" {
		return b.token, nil
	}
	var err error
	if stamp := filestamp.Of(b.file); stamp != b.stamp {
		var data []byte
		if data, err = os.ReadFile(b.file); err == nil {
			if token := strings.TrimSpace(string(data)); token != "" {
				b.token, b.stamp = token, stamp
			} else {
				err = errors.New("it is empty") // caught mid-write: keep the last token
			}
		}
	}
	if b.token == "" {
		// No token read yet, so the stamp differed and err says why.
		return "", fmt.Errorf("kubernetes token file %s: %w", b.file, err)
	}
	return b.token, nil
}
