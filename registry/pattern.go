package registry

import (
	"net"
	"path"
	"strings"
)

// pattern is a docker config key, or an image's repository, taken apart the way the
// kubelet's credential keyring does: a host (lower case; in keys, labels may be globs), a
// port ("" when none is written) and a path without leading or trailing slashes.
type pattern struct {
	host, port, path string
}

// parseKey reads a docker config key ("https://r.example/v1/", "*.r.example:5000",
// "r.example/team"): a scheme and a leading /v1/ or /v2/ are dropped, as the kubelet does.
// ok is false when no host is left.
func parseKey(key string) (pattern, bool) {
	hostPort, p, _ := strings.Cut(stripScheme(key), "/")
	for _, api := range []string{"v1/", "v2/"} {
		if strings.HasPrefix(p, api) {
			p = p[len(api):]
			break
		}
	}
	return newPattern(hostPort, p)
}

// parseRepository reads a repository as name.Repository.Name spells it
// ("r.example:5000/team/app"), or a registry alone.
func parseRepository(repository string) (pattern, bool) {
	hostPort, p, _ := strings.Cut(repository, "/")
	return newPattern(hostPort, p)
}

// newPattern normalises host names to lower case and Docker Hub's spellings to
// index.docker.io. A host is letters, digits, '.', '-', '_', the globs '*' and '?', or an
// IPv6 literal in brackets; anything else (a character class among them) makes no pattern,
// so such a key is offered to no registry.
func newPattern(hostPort, p string) (pattern, bool) {
	hostPort = strings.ToLower(hostPort)
	if strings.HasPrefix(hostPort, "[") != strings.Contains(hostPort, "]") {
		return pattern{}, false
	}
	host, port := splitHost(registryHost(hostPort))
	if host == "" || strings.ContainsFunc(host, notHostRune) {
		return pattern{}, false
	}
	return pattern{host: host, port: port, path: strings.Trim(p, "/")}, true
}

func notHostRune(r rune) bool {
	return (r < 'a' || r > 'z') && (r < '0' || r > '9') && !strings.ContainsRune(".-_*?:", r)
}

// matches tells whether the key p covers target: the same number of host labels, each
// matching p's glob, the same port, and p's path equal to or a parent of target's.
func (p pattern) matches(target pattern) bool {
	if p.port != target.port {
		return false
	}
	if p.path != "" && target.path != p.path && !strings.HasPrefix(target.path, p.path+"/") {
		return false
	}
	globs, labels := strings.Split(p.host, "."), strings.Split(target.host, ".")
	if len(globs) != len(labels) {
		return false
	}
	for i, glob := range globs {
		if ok, err := path.Match(glob, labels[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

// hostPort is the registry the pattern names, host[:port].
func (p pattern) hostPort() string {
	if p.port == "" {
		return p.host
	}
	return net.JoinHostPort(p.host, p.port)
}

// String is the normalised key: host[:port][/path].
func (p pattern) String() string {
	if p.path == "" {
		return p.hostPort()
	}
	return p.hostPort() + "/" + p.path
}
