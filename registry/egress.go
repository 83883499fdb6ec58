package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrNotPublic refuses a connection to an address no tenant may aim the webhook at: an
// image name is the pod author's choice, and the webhook sits inside the cluster network
// with the cluster's view of it (the cloud metadata service, the apiserver, Vault,
// sidecars on loopback).
var ErrNotPublic = errors.New("it (or a host it sent us to) resolves to a loopback, private, link-local, shared (CGNAT), " +
	"multicast or unspecified address, which the platform has not allowed for registries")

// ErrPlainHTTP refuses plain HTTP to a registry not listed as insecure; go-containerregistry
// would otherwise fall back to it on its own for hosts that look local.
var ErrPlainHTTP = errors.New("plain HTTP is not allowed for this registry")

// nonPublic are IPv4 ranges that netip's predicates do not cover: the special-purpose
// registry's ranges that are not globally reachable, or that reach something else.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network": 0.x reaches the local host on Linux
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT), often cluster-internal
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved (some clusters use it for pods), and broadcast
}

// IPv6 is allowed only in global unicast (2000::/3), less the parts of it that are not
// globally reachable or that tunnel to an IPv4 address the check would not see.
var (
	globalUnicast = netip.MustParsePrefix("2000::/3")
	nonPublic6    = []netip.Prefix{
		netip.MustParsePrefix("2001::/23"),     // IETF protocol assignments, Teredo (2001::/32) among them
		netip.MustParsePrefix("2001:db8::/32"), // documentation
		netip.MustParsePrefix("2002::/16"),     // 6to4: embeds any IPv4 address, loopback and metadata included
		netip.MustParsePrefix("3fff::/20"),     // documentation
	}
)

// nat64 embeds IPv4 addresses in IPv6 (RFC 6052); the embedded address is what is reached.
// The local-use prefix 64:ff9b:1::/48 (RFC 8215) is outside 2000::/3, so it is refused.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// publicAddr tells whether a is an address a tenant may have the webhook connect to.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return false
	case nat64.Contains(a):
		b := a.As16()
		return publicAddr(netip.AddrFrom4([4]byte(b[12:])))
	case a.Is6():
		return globalUnicast.Contains(a) && !inAny(nonPublic6, a)
	case a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified():
		return false
	}
	return !inAny(nonPublic, a)
}

func inAny(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// checkDialed runs after DNS, on the address about to be connected to: checking the name
// before resolving it would let a name that resolves differently the second time through.
func checkDialed(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("registry address %q: %w", address, err)
	}
	if !publicAddr(ap.Addr()) {
		return ErrNotPublic
	}
	return nil
}

// hostListed tells whether host (host or host:port, as dialled or as named in an image)
// is in list: an entry host:port matches that port only, an entry host any port. Host names
// compare without regard to case.
func hostListed(list []string, host string) bool {
	name, port := splitHost(host)
	for _, entry := range list {
		n, p := splitHost(registryHost(entry))
		if strings.EqualFold(n, name) && (p == "" || p == port) {
			return true
		}
	}
	return false
}

// splitHost splits host[:port], IPv6 literals in brackets included.
func splitHost(hostport string) (host, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return h, p
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), ""
}

// egress holds what the transport may reach beyond public addresses.
type egress struct {
	// platform are the registry hosts the platform named; they may be anywhere.
	platform []string
	// insecure are the hosts that may be spoken to over plain HTTP.
	insecure []string
	open     net.Dialer
	guarded  net.Dialer
}

// dial connects to a platform-named host as asked, to any other only at a public address.
func (e *egress) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if hostListed(e.platform, addr) {
		return e.open.DialContext(ctx, network, addr)
	}
	return e.guarded.DialContext(ctx, network, addr)
}

// schemeGuard refuses plain HTTP to registries not listed as insecure.
type schemeGuard struct {
	next     http.RoundTripper
	insecure []string
}

func (g schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !hostListed(g.insecure, req.URL.Host) {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Host, ErrPlainHTTP)
	}
	return g.next.RoundTrip(req)
}

// newTransport builds the only way the resolver reaches registries: TLS with roots (nil:
// the system's), HTTPS unless listed insecure, public addresses unless the host is one
// the platform named, and answers of at most MaxResponseBytes. A proxy from the environment is the platform's too: it is dialled as
// configured, and resolves the registry's name itself, so the check cannot apply beyond it.
func newTransport(o Options) http.RoundTripper {
	platform := append(append([]string{}, o.PrivateRegistries...), o.InsecureRegistries...)
	for from, to := range o.Mirrors {
		platform = append(platform, from, to)
	}
	platform = append(platform, proxyHosts()...)
	e := &egress{
		platform: platform,
		insecure: o.InsecureRegistries,
		open:     net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Resolver: o.Resolver},
		guarded:  net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Resolver: o.Resolver, ControlContext: checkDialed},
	}
	t := http.DefaultTransport.(*http.Transport).Clone() //nolint:forcetypeassert // the standard library's type
	t.DialContext = e.dial
	t.TLSClientConfig = &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12}
	return boundedBodies{next: schemeGuard{next: t, insecure: o.InsecureRegistries}}
}

// proxyHosts are the proxies the environment names for registry traffic.
func proxyHosts() []string {
	var hosts []string
	for _, scheme := range []string{"https", "http"} {
		u, err := http.ProxyFromEnvironment(&http.Request{URL: &url.URL{Scheme: scheme, Host: "registry.invalid"}})
		if err == nil && u != nil {
			hosts = append(hosts, u.Host)
		}
	}
	return hosts
}

// SystemRootsWith returns the system's trusted roots plus the PEM certificates in pem, for
// registries signed by a private CA.
func SystemRootsWith(pem []byte) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificates in the registry CA bundle")
	}
	return pool, nil
}
