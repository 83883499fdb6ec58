package envexec

import (
	"encoding/json"
	"fmt"
	"strings"
)

// apiPath turns a reference path into the path to GET, as the Vault CLI does: on a
// KV v2 mount the API path is <mount>data/<rest>, and a path that already has "data/"
// right after the mount is kept as written.
func apiPath(m mountInfo, path string, version int) (string, error) {
	if !m.kvV2() {
		if version > 0 {
			return "", fmt.Errorf("%w: version pin #%d needs a kv v2 mount, but this is %s", errReference, version, m)
		}
		return path, nil
	}
	rest, ok := strings.CutPrefix(path, m.path)
	if !ok || rest == "" || rest == "data" || rest == "data/" {
		return "", fmt.Errorf("%w: path names %s, not a secret in it", errReference, m)
	}
	if strings.HasPrefix(rest, "data/") {
		return path, nil
	}
	return m.path + "data/" + rest, nil
}

// unwrapKV2 opens the KV v2 envelope; a null "data" is a deleted or destroyed version.
func unwrapKV2(data map[string]any) (map[string]any, error) {
	inner, ok := data["data"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: this version of the secret is deleted or destroyed", errMissing)
	}
	return inner, nil
}

// splitByFirstSegment picks one path per first segment to look up first; the others
// usually share its mount.
func splitByFirstSegment(mounts []*call[mountInfo]) (first, rest []*call[mountInfo]) {
	seen := map[string]bool{}
	for _, m := range mounts {
		seg, _, _ := strings.Cut(m.key, "/")
		if seen[seg] {
			rest = append(rest, m)
			continue
		}
		seen[seg] = true
		first = append(first, m)
	}
	return first, rest
}

// shareMounts gives each path in rest the mount found for a path in first when it lies
// under that mount (Vault refuses overlapping mounts, so that mount serves it), and
// returns the paths that still need a lookup of their own.
func shareMounts(first, rest []*call[mountInfo]) []*call[mountInfo] {
	var pending []*call[mountInfo]
	for _, m := range rest {
		found := false
		for _, f := range first {
			if f.err == nil && f.val.path != "" && strings.HasPrefix(m.key+"/", f.val.path) {
				m.val, found = f.val, true
				break
			}
		}
		if !found {
			pending = append(pending, m)
		}
	}
	return pending
}

// kvVersion is the version a KV v2 read returned (its metadata), 0 if not stated.
func kvVersion(data map[string]any) int {
	meta, _ := data["metadata"].(map[string]any)
	n, _ := meta["version"].(json.Number)
	v, _ := n.Int64()
	return int(v)
}
