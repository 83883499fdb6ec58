// Package injector is the mutation itself: a pure function from a pod and its settings to
// the pod that runs envexec in front of every container holding a `vault:` reference. It
// does no I/O, so every case is a golden-file test and the admission path stays cheap.
package injector

import (
	"errors"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/config"
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
	// Files are the paths of the files envexec writes for it (file.NAME annotations).
	Files []string `json:",omitempty"`
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

// Inject returns the pod with envexec in front of every container that holds a reference.
// The input is never modified; when nothing needs doing the same pointer is returned.
// The result shares the parts it does not change with the input (see copyForWrite), so
// treat both as read-only.
// Every problem in the pod is reported at once, as FieldErrors joined into one error.
func Inject(pod *corev1.Pod, cfg config.Pod, facts Facts) (*corev1.Pod, Report, error) {
	if !cfg.Inject {
		return pod, Report{Skipped: SkipOptedOut}, nil
	}
	plan, scanErr := scan(pod, cfg, facts)
	if len(plan.wrap) > 0 || plan.alreadyInjected {
		// Checked on every pass: a pod submitted as our own output is no exception.
		scanErr = errors.Join(scanErr, errors.Join(vaultHostProblems(pod, cfg)...))
	}
	if scanErr != nil {
		return nil, Report{}, scanErr
	}
	if len(plan.wrap) == 0 {
		if plan.alreadyInjected {
			return pod, Report{Skipped: SkipAlreadyInjected}, nil
		}
		return pod, Report{Skipped: SkipNoReferences}, nil
	}

	out := copyForWrite(pod, plan.wrap)
	report := Report{}
	for _, t := range plan.wrap {
		c := t.in(out)
		wrapContainer(c, cfg, facts)
		report.Warnings = append(report.Warnings, t.refs.warnings...)
		report.Containers = append(report.Containers, ContainerReport{
			Name: c.Name, Init: t.init, Variables: t.refs.variables, Arguments: t.refs.arguments, Files: t.refs.files,
		})
	}
	if !plan.alreadyInjected {
		out.Spec.Volumes = append(out.Spec.Volumes, ourVolumes(cfg)...)
		out.Spec.InitContainers = slices.Insert(out.Spec.InitContainers, 0, initContainer(cfg))
	}
	if out.Annotations == nil {
		out.Annotations = map[string]string{}
	}
	out.Annotations[config.StatusAnnotation] = "injected"
	return out, report, nil
}

// copyForWrite copies what Inject writes and shares the rest: the pod, its spec, its
// annotations, volume and container lists, and of each wrapped container its env, volume
// mounts and exec probes. A deep copy of the whole pod was a tenth of the admission
// path's allocations, and most of a pod (resources, other containers) is never touched.
func copyForWrite(pod *corev1.Pod, wrap []target) *corev1.Pod {
	out := *pod
	out.Annotations = maps.Clone(pod.Annotations)
	out.Spec.Volumes = slices.Clip(pod.Spec.Volumes)
	out.Spec.InitContainers = slices.Clone(pod.Spec.InitContainers)
	out.Spec.Containers = slices.Clone(pod.Spec.Containers)
	for _, t := range wrap {
		c := t.in(&out)
		// Clipped, so appending allocates instead of writing into the input's spare capacity.
		c.Env, c.VolumeMounts = slices.Clip(c.Env), slices.Clip(c.VolumeMounts)
		for _, p := range []**corev1.Probe{&c.LivenessProbe, &c.ReadinessProbe, &c.StartupProbe} {
			if *p != nil && (*p).Exec != nil {
				probe, exec := **p, *(*p).Exec
				probe.Exec = &exec
				*p = &probe
			}
		}
	}
	return &out
}

// target points at one container to wrap, by position, so the copy can be edited.
type target struct {
	init  bool
	index int
	refs  found
}

func (t target) in(p *corev1.Pod) *corev1.Container {
	if t.init {
		return &p.Spec.InitContainers[t.index]
	}
	return &p.Spec.Containers[t.index]
}

type plan struct {
	wrap            []target
	alreadyInjected bool
}

// scan finds the containers to wrap and every problem with their references and with
// the injector's own parts.
func scan(pod *corev1.Pod, cfg config.Pod, facts Facts) (plan, error) {
	own, errs := ownParts(pod, cfg)
	errs = append(errs, fileProblems(pod, cfg)...)
	p := plan{alreadyInjected: own.injected}
	visit := func(init bool, cs []corev1.Container) {
		for i := range cs {
			c := &cs[i]
			if own.skips(init, i) {
				continue
			}
			refs, err := references(pod, c, facts, need{fromPath: !init && cfg.FromPath(), envSources: cfg.EnvSources, files: filesPaths(cfg, c.Name)}, cfg.MalformedWarn)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !refs.empty() {
				p.wrap = append(p.wrap, target{init: init, index: i, refs: refs})
			}
		}
	}
	visit(true, pod.Spec.InitContainers)
	visit(false, pod.Spec.Containers)
	return p, errors.Join(errs...)
}

// ImagesToResolve lists, in pod order and without repeats, the images whose config Inject
// will need: those of containers that envexec will wrap but that do not set a command.
func ImagesToResolve(pod *corev1.Pod, cfg config.Pod) []string {
	var images []string
	visit := func(cs []corev1.Container, all bool) {
		for i := range cs {
			c := &cs[i]
			if len(c.Command) > 0 || c.Name == InitContainerName || slices.Contains(images, c.Image) {
				continue
			}
			if all || len(containerRefs(c)) > 0 || (cfg.EnvSources && readsSources(c)) || len(cfg.FilesOf(c.Name)) > 0 {
				images = append(images, c.Image)
			}
		}
	}
	visit(pod.Spec.InitContainers, false)
	visit(pod.Spec.Containers, cfg.FromPath())
	return images
}
