// Package injector is the mutation itself: a pure function from a pod and its settings to
// the pod that runs envexec in front of every container holding a `vault:` reference. It
// does no I/O, so every case is a golden-file test and the admission path stays cheap.
package injector

import (
	"github.com/vault-injector/vault-injector/envexec/settings"
)

// Names the injector owns inside a pod. They are fixed so the output is deterministic and
// a second pass can recognise its own work.
const (
	// VolumeName is the in-memory volume that carries envexec from the init container.
	VolumeName = "vault-injector-bin"
	// InitContainerName is the init container that copies envexec into VolumeName.
	InitContainerName = "vault-injector-init"
	// MountPath is where VolumeName is mounted in every container that uses it.
	MountPath = "/vault-injector"
	// EnvexecInPod is envexec's path inside wrapped containers.
	EnvexecInPod = MountPath + "/envexec"
	// EnvPrefix reserves envexec's settings; the application's own VAULT_* stay its own.
	EnvPrefix = settings.EnvPrefix
	// TokenVolumeName is envexec's own projected service account token. It does not
	// depend on automountServiceAccountToken, and it is short-lived.
	TokenVolumeName = "vault-injector-token"
	// TokenDir is where TokenVolumeName is mounted in wrapped containers.
	TokenDir = "/var/run/secrets/vault-injector" //nolint:gosec // a path, not a credential
	// TokenFile is the token envexec sends to Vault.
	TokenFile = TokenDir + "/token"
	// CAVolumeName is the ca.crt of the Secret a pod names with tls-secret: its own CA for
	// Vault, mounted by the kubelet (the webhook never reads it).
	CAVolumeName = "vault-injector-ca"
	// CADir is where CAVolumeName is mounted in wrapped containers.
	CADir = "/var/run/secrets/vault-injector-ca"
	// CAFile is the pod's CA, envexec's ENVEXEC_CA_FILE.
	CAFile = CADir + "/" + CAKey
	// CAKey is the key of the pod's Secret that holds its CA (as cert-manager writes it).
	CAKey = "ca.crt"
	// AppRoleVolumeName is the role_id and secret_id of the Secret a pod names with
	// approle-secret, mounted by the kubelet (the webhook never reads it).
	AppRoleVolumeName = "vault-injector-approle"
	// AppRoleDir is where AppRoleVolumeName is mounted in wrapped containers.
	AppRoleDir = "/var/run/secrets/vault-injector-approle"
	// RoleIDKey is the Secret key, and the file in AppRoleDir, of the AppRole role ID.
	RoleIDKey = "role_id"
	// SecretIDKey is the Secret key, and the file in AppRoleDir, of the AppRole secret
	// ID; optional, for roles that bind none.
	SecretIDKey = "secret_id"
	// VaultTokenVolumeName is the Vault token of the Secret a pod names with token-secret.
	VaultTokenVolumeName = "vault-injector-vault-token"
	// VaultTokenDir is where VaultTokenVolumeName is mounted in wrapped containers.
	VaultTokenDir = "/var/run/secrets/vault-injector-vault-token" //nolint:gosec // a path, not a credential
	// VaultTokenKey is the Secret key, and the file in VaultTokenDir, of the Vault token.
	VaultTokenKey = "token"
)

// reservedVolumes are the volume names the injector owns, whether or not a pod's settings
// use them; reservedDirs are their mount paths, reserved with everything below them.
var (
	reservedVolumes = [...]string{VolumeName, TokenVolumeName, CAVolumeName, AppRoleVolumeName, VaultTokenVolumeName}
	reservedDirs    = [...]string{MountPath, TokenDir, CADir, AppRoleDir, VaultTokenDir}
)

// Report says what Inject did, for logs, metrics and admission warnings. It holds names
// only: references are not secrets, but nothing here needs their values either.
type Report struct {
	// Skipped is why the pod was left alone; empty when it was mutated.
	Skipped SkipReason
	// Containers lists the wrapped containers, init containers first, in pod order.
	Containers []ContainerReport
	// Warnings are problems let through for the user to see (kubectl prints them).
	Warnings []string `json:"Warnings,omitempty"`
	// Changes are the fields Inject wrote, as JSON patch "add" operations against the pod
	// it was given, so the webhook's patch is derived from them and no second list of the
	// fields the injector touches exists.
	Changes []Change `json:"Changes,omitempty"`
}

// SkipReason names why a pod was not mutated; a small closed set usable as a metric label.
type SkipReason string

// The reasons a pod is returned unchanged.
const (
	SkipNone            SkipReason = ""
	SkipOptedOut        SkipReason = "opted-out"
	SkipNoReferences    SkipReason = "no-references"
	SkipAlreadyInjected SkipReason = "already-injected"
)

// ContainerReport names one wrapped container and the variables and arguments envexec
// will resolve.
type ContainerReport struct {
	// Name is the container's name.
	Name string
	// Init is true for init containers.
	Init bool
	// Variables are the env names holding references, in spec order.
	Variables []string
	// Arguments are the entries of command and args holding references, in spec order,
	// as "command[N]" and "args[N]".
	Arguments []string `json:",omitempty"`
}

// ImageConfig is how the container runtime starts an image when the pod does not say.
type ImageConfig struct {
	// Entrypoint is the image's ENTRYPOINT.
	Entrypoint []string `json:"entrypoint,omitempty"`
	// Cmd is the image's CMD.
	Cmd []string `json:"cmd,omitempty"`
}

// Facts are what the webhook learned through I/O before the mutation, so that Inject
// itself stays pure.
type Facts struct {
	// Images maps an image reference, exactly as written in the pod, to its config.
	Images map[string]ImageConfig `json:"images,omitempty"`
}
