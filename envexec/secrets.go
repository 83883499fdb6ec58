package envexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// secret is Vault's answer to a read or a write: the data, and the lease behind it for
// dynamic secrets (daemon mode renews or replaces it).
type secret struct {
	data          map[string]any
	leaseID       string
	leaseDuration time.Duration
	renewable     bool
}

// secretResponse is the part of Vault's response envelope envexec uses.
type secretResponse struct {
	Data          map[string]any `json:"data"`
	LeaseID       string         `json:"lease_id"`
	LeaseDuration int64          `json:"lease_duration"`
	Renewable     bool           `json:"renewable"`
}

func (r secretResponse) secret() secret {
	return secret{data: r.Data, leaseID: r.LeaseID, leaseDuration: time.Duration(r.LeaseDuration) * time.Second, renewable: r.Renewable}
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
	switch m.kind {
	case "":
		return "an unknown mount"
	case "kv", "generic":
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

// read GETs an API path (pinned to version when > 0).
func (c *client) read(ctx context.Context, apiPath string, version int) (secret, error) {
	r := request{method: http.MethodGet, path: apiPath}
	if version > 0 {
		r.query = url.Values{"version": {strconv.Itoa(version)}}
	}
	c.log.Debug("reading secret", "path", apiPath, "version", version)
	var out secretResponse
	if err := c.call(ctx, r, &out); err != nil {
		return secret{}, err
	}
	return out.secret(), nil
}

// write sends body (a JSON object) to path, for dynamic secrets such as pki/issue/ROLE.
func (c *client) write(ctx context.Context, path string, body json.RawMessage) (secret, error) {
	c.log.Debug("writing secret", "path", path)
	var out secretResponse
	if err := c.call(ctx, request{method: http.MethodPost, path: path, body: body}, &out); err != nil {
		return secret{}, err
	}
	return out.secret(), nil
}
