package image

import "strings"

// BaseConfig is the distroless base's config that the Dockerfile inherits: its
// environment and working directory.
func BaseConfig() (env []string, workDir string) { return baseEnv, baseWorkDir }

// BaseFiles are the paths of the files written for the distroless base (not the
// Dockerfile's COPY), absolute.
func BaseFiles() map[string]bool {
	out := map[string]bool{}
	for _, e := range baseEntries(nil) {
		if !strings.HasSuffix(e.path, "/") {
			out["/"+e.path] = true
		}
	}
	return out
}
