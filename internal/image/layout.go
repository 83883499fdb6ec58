// Package image assembles the product container image without a Docker engine, with
// go-containerregistry: the layout the Dockerfile publishes (both binaries in
// /usr/local/bin, user 65532, the webhook as entrypoint, the OCI labels) on the files
// the distroless base gives that the webhook needs. Every byte comes from the inputs:
// fixed file order, modes, owners and timestamps, so the same binaries give the same
// digest.
package image

// EmulatedBase is the Dockerfile's final base image. Build does not pull it (no engine,
// no internet); it writes the few files of it that the binaries need (baseEntries) and
// the config it sets (baseEnv, baseWorkDir). The Dockerfile test compares this with the
// Dockerfile's FROM, so a new base is a prompt to review those.
const EmulatedBase = "gcr.io/distroless/static-debian12:nonroot"

// BinDir is where the Dockerfile copies the binaries; config's --envexec-path and the
// injected init container's command name envexec there.
const BinDir = "/usr/local/bin"

// User is the Dockerfile's USER: distroless' nonroot user and group.
const User = "65532:65532"

// nonrootID is User's uid and gid, the owner of the nonroot home directory.
const nonrootID = 65532

// Binaries are the files copied into BinDir, in the Dockerfile's COPY order; the first is
// the entrypoint.
var Binaries = []string{"vault-injector", "envexec"}

// CABundle is where distroless and Debian keep the CA bundle that Go's crypto/x509
// reads; the webhook needs it to verify registries when it looks up image entrypoints.
const CABundle = "/etc/ssl/certs/ca-certificates.crt"

// Entrypoint is the Dockerfile's ENTRYPOINT: the webhook.
func Entrypoint() []string { return []string{BinDir + "/" + Binaries[0]} }

// Labels are the Dockerfile's OCI labels for a version.
func Labels(version string) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "vault-injector",
		"org.opencontainers.image.description": "Kubernetes admission webhook that injects Vault secrets into pods",
		"org.opencontainers.image.version":     version,
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
}

// baseEnv and baseWorkDir are what the distroless nonroot image's config sets and the
// Dockerfile inherits: PATH, SSL_CERT_FILE pointing at the bundle, and the nonroot home.
var baseEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"SSL_CERT_FILE=" + CABundle,
}

const baseWorkDir = "/home/nonroot"
