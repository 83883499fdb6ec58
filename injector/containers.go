package injector

import (
	"maps"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/envexec/settings"
)

// binVolumeSize bounds the in-memory volume envexec is copied into; parsed once, copied
// into each pod.
var binVolumeSize = resource.MustParse("32Mi")

// binVolume is in memory: envexec never touches a node's disk, and it is gone with the pod.
// With image-volume delivery it is the injector image itself, mounted read-only by the
// kubelet: the platform's image reference, never anything the pod names.
func binVolume(cfg config.Pod) corev1.Volume {
	if cfg.ImageVolume {
		return corev1.Volume{Name: VolumeName, VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{
			Reference: cfg.InjectorImage, PullPolicy: corev1.PullIfNotPresent,
		}}}
	}
	return corev1.Volume{
		Name: VolumeName,
		VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			Medium:    corev1.StorageMediumMemory,
			SizeLimit: ptr.To(binVolumeSize.DeepCopy()),
		}},
	}
}

// tokenVolume projects a service account token for envexec alone: it works whatever the
// pod's automountServiceAccountToken says, and expires soon after start-up.
func tokenVolume(cfg config.Pod) corev1.Volume {
	return corev1.Volume{
		Name: TokenVolumeName,
		VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			DefaultMode: ptr.To[int32](0o444),
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Audience:          cfg.TokenAudience,
				ExpirationSeconds: ptr.To(int64(cfg.TokenExpiration.Seconds())),
				Path:              "token",
			}}},
		}},
	}
}

// caVolume is the pod's own CA for Vault: the one key ca.crt of the Secret it names,
// read-only for everyone (a CA certificate is not a secret). The kubelet reads the Secret
// with the pod's rights; the webhook never does.
func caVolume(cfg config.Pod) corev1.Volume {
	return corev1.Volume{
		Name: CAVolumeName,
		VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  cfg.TLSSecret,
			Items:       []corev1.KeyToPath{{Key: CAKey, Path: CAKey}},
			DefaultMode: ptr.To[int32](0o444),
		}},
	}
}

// appRoleVolume is the role_id and, if the Secret has one, the secret_id of the Secret a
// pod names with approle-secret; nothing else of it. Two sources of one projected volume:
// the first requires the Secret and its role_id (the pod waits for them, as for any
// Secret volume), the second is optional, so a role without a secret ID needs no key the
// webhook cannot know about. The kubelet reads the Secret with the pod's rights.
func appRoleVolume(cfg config.Pod) corev1.Volume {
	item := func(key string, optional *bool) corev1.VolumeProjection {
		return corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: cfg.AppRoleSecret},
			Items:                []corev1.KeyToPath{{Key: key, Path: key}},
			Optional:             optional,
		}}
	}
	return corev1.Volume{
		Name: AppRoleVolumeName,
		VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			// Readable whatever user the container runs as, like the projected token.
			DefaultMode: ptr.To[int32](0o444),
			Sources:     []corev1.VolumeProjection{item(RoleIDKey, nil), item(SecretIDKey, ptr.To(true))},
		}},
	}
}

// vaultTokenVolume is the key token of the Secret a pod names with token-secret.
func vaultTokenVolume(cfg config.Pod) corev1.Volume {
	return corev1.Volume{
		Name: VaultTokenVolumeName,
		VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  cfg.TokenSecret,
			Items:       []corev1.KeyToPath{{Key: VaultTokenKey, Path: VaultTokenKey}},
			DefaultMode: ptr.To[int32](0o444),
		}},
	}
}

// ourVolumes are the volumes Inject adds, in order: the binary; the service account
// token for kubernetes and jwt logins; the pod's CA when it names a tls-secret; the
// AppRole or Vault token Secret for those methods.
func ourVolumes(cfg config.Pod) []corev1.Volume {
	vs := []corev1.Volume{binVolume(cfg)}
	if cfg.UsesServiceAccountToken() {
		vs = append(vs, tokenVolume(cfg))
	}
	if cfg.TLSSecret != "" {
		vs = append(vs, caVolume(cfg))
	}
	switch cfg.AuthMethod() {
	case settings.AuthAppRole:
		vs = append(vs, appRoleVolume(cfg))
	case settings.AuthToken:
		vs = append(vs, vaultTokenVolume(cfg))
	case settings.AuthKubernetes, settings.AuthJWT:
	}
	return append(vs, filesVolumes(cfg)...)
}

// initContainer copies envexec into the shared volume. It needs no shell and meets the
// Pod Security "restricted" profile, so it can run in any namespace.
func initContainer(cfg config.Pod) corev1.Container {
	return corev1.Container{
		Name:            InitContainerName,
		Image:           cfg.InjectorImage,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         []string{cfg.EnvexecPath, "copy", MountPath},
		VolumeMounts:    []corev1.VolumeMount{{Name: VolumeName, MountPath: MountPath}},
		Resources: corev1.ResourceRequirements{
			Requests: resourceList(cfg.Init.CPURequest, cfg.Init.MemoryRequest),
			Limits:   resourceList(cfg.Init.CPULimit, cfg.Init.MemoryLimit),
		},
		// Written in its defaulted form, as the apiserver hands it back on reinvocation.
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             ptr.To(true),
			RunAsUser:                copyID(cfg.Init.RunAsUser),
			RunAsGroup:               copyID(cfg.Init.RunAsGroup),
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
}

// resourceList holds the quantities that are set (zero means none), each a copy of the
// settings' own; nil when none is, as the apiserver hands an empty list back.
func resourceList(cpu, memory resource.Quantity) corev1.ResourceList {
	if cpu.IsZero() && memory.IsZero() {
		return nil
	}
	l := make(corev1.ResourceList, 2)
	if !cpu.IsZero() {
		l[corev1.ResourceCPU] = cpu.DeepCopy()
	}
	if !memory.IsZero() {
		l[corev1.ResourceMemory] = memory.DeepCopy()
	}
	return l
}

// copyID copies a user or group ID, so no two pods share it; nil leaves it unset.
func copyID(id *int64) *int64 {
	if id == nil {
		return nil
	}
	return ptr.To(*id)
}

// wrapContainer puts envexec in front of c's command and hands it its settings, recording
// in ch each field it writes under path, c's JSON pointer. args are left alone: the
// runtime appends them after the new command, as before. Without a command the image's
// entrypoint becomes the command, and its cmd the args unless the pod sets args: setting
// command makes the runtime ignore the image's cmd, so it must be explicit.
// mounts are sharedMounts(cfg), built once for all of a pod's containers.
func wrapContainer(c *corev1.Container, cfg config.Pod, facts Facts, mounts []corev1.VolumeMount, ch *changes, path string) {
	command := c.Command
	if len(command) == 0 {
		img := facts.Images[c.Image]
		command = escapeExpansion(img.Entrypoint)
		if len(c.Args) == 0 && len(img.Cmd) > 0 {
			c.Args = escapeExpansion(img.Cmd)
			ch.add(path+"/args", c.Args)
		}
	}
	c.Command = slices.Concat([]string{EnvexecInPod, "--"}, command)
	ch.add(path+"/command", c.Command)
	if cfg.MutateProbes {
		for _, p := range [...]struct {
			name  string
			probe *corev1.Probe
		}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
			if e := execOf(p.probe); e != nil && (len(e.Command) == 0 || e.Command[0] != EnvexecInPod) {
				e.Command = slices.Concat([]string{EnvexecInPod, "--"}, e.Command)
				ch.add(path+"/"+p.name+"/exec/command", e.Command)
			}
		}
	}
	had := len(c.VolumeMounts)
	c.VolumeMounts = append(append(c.VolumeMounts, mounts...), filesMount(cfg, c.Name)...)
	appended(ch, path+"/volumeMounts", had, c.VolumeMounts)
	if c.TerminationMessagePolicy == "" || c.TerminationMessagePolicy == corev1.TerminationMessageReadFile {
		// envexec explains a failed start on stderr; let `kubectl describe` show it.
		c.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
		ch.add(path+"/terminationMessagePolicy", c.TerminationMessagePolicy)
	}
	had = len(c.Env)
	c.Env = appendSettingsEnv(slices.Grow(c.Env, EnvRoom), c.Name, cfg)
	appended(ch, path+"/env", had, c.Env)
}

func execOf(p *corev1.Probe) *corev1.ExecAction {
	if p == nil {
		return nil
	}
	return p.Exec
}

// ourMounts mount each of ourVolumes read-only at its reserved path, for a container that
// runs envexec: the credentials are mounted nowhere else. Of the files volumes, only the
// container's own is mounted, writable, at the files directory.
func ourMounts(cfg config.Pod, container string) []corev1.VolumeMount {
	return append(sharedMounts(cfg, ourVolumes(cfg)), filesMount(cfg, container)...)
}

// sharedMounts are the mounts of ourMounts every wrapped container gets alike: all but
// its files mount. vs are ourVolumes(cfg); Inject builds both once per pod, not once per
// container.
func sharedMounts(cfg config.Pod, vs []corev1.Volume) []corev1.VolumeMount {
	ms := make([]corev1.VolumeMount, 0, len(vs)+1) // room for a files mount
	for _, v := range vs {
		if dir := reservedDir(v.Name); dir != "" {
			ms = append(ms, corev1.VolumeMount{Name: v.Name, MountPath: dir, ReadOnly: true})
		}
	}
	if cfg.ImageVolume {
		// envexec's directory of the image, so it is MountPath/envexec as with init-copy.
		ms[0].SubPath = strings.TrimPrefix(path.Dir(cfg.EnvexecPath), "/")
	}
	return ms
}

// reservedDir is where the reserved volume named name is mounted; "" for other names.
func reservedDir(name string) string {
	for i, v := range reservedVolumes {
		if v == name {
			return reservedDirs[i]
		}
	}
	return ""
}

// authEnv are the settings of envexec's login: the service account token for kubernetes
// and jwt, the mounted Secret's files for approle and token.
func authEnv(cfg config.Pod) []corev1.EnvVar {
	switch cfg.AuthMethod() {
	case settings.AuthAppRole:
		return []corev1.EnvVar{
			{Name: settings.EnvAuthPath, Value: cfg.AuthPath},
			{Name: settings.EnvRoleIDFile, Value: AppRoleDir + "/" + RoleIDKey},
			{Name: settings.EnvSecretIDFile, Value: AppRoleDir + "/" + SecretIDKey},
		}
	case settings.AuthToken:
		return []corev1.EnvVar{{Name: settings.EnvVaultTokenFile, Value: VaultTokenDir + "/" + VaultTokenKey}}
	case settings.AuthKubernetes, settings.AuthJWT:
	}
	return []corev1.EnvVar{
		{Name: settings.EnvAuthPath, Value: cfg.AuthPath},
		{Name: settings.EnvRole, Value: cfg.Role},
		{Name: settings.EnvTokenFile, Value: TokenFile},
	}
}

// settingsEnv is envexec's settings for one container, exactly as the webhook writes them:
// the list ends with settings.EnvSettings naming all of them, so envexec refuses any other
// ENVEXEC_* variable (a pod's envFrom cannot add settings, and env wins over envFrom).
func settingsEnv(container string, cfg config.Pod) []corev1.EnvVar {
	return appendSettingsEnv(nil, container, cfg)
}

// appendSettingsEnv appends settingsEnv(container, cfg) to env: wrapContainer writes them
// straight into the container's copy of its env, with no list of their own to copy.
func appendSettingsEnv(env []corev1.EnvVar, container string, cfg config.Pod) []corev1.EnvVar {
	start := len(env)
	env = append(append(env, corev1.EnvVar{Name: settings.EnvVaultAddr, Value: cfg.VaultAddr}), authEnv(cfg)...)
	env = append(env,
		corev1.EnvVar{Name: settings.EnvTimeout, Value: cfg.Timeout.String()},
		corev1.EnvVar{Name: settings.EnvLogLevel, Value: string(cfg.LogLevel)},
		corev1.EnvVar{Name: settings.EnvContainer, Value: container},
		fieldEnv(settings.EnvPod, "metadata.name"),
		fieldEnv(settings.EnvNamespace, "metadata.namespace"),
	)
	if cfg.CACerts != "" {
		env = append(env, corev1.EnvVar{Name: settings.EnvCACerts, Value: cfg.CACerts})
	}
	if cfg.TLSSecret != "" {
		env = append(env, corev1.EnvVar{Name: settings.EnvCAFile, Value: CAFile})
	}
	if len(cfg.Envexec) > 0 { // sorting the keys of none still allocates
		for _, name := range slices.Sorted(maps.Keys(cfg.Envexec)) {
			env = append(env, corev1.EnvVar{Name: name, Value: cfg.Envexec[name]})
		}
	}
	env = append(append(env, filesEnv(container, cfg)...), watchEnv(cfg)...)
	ours := env[start:]
	size := len(ours)
	for _, e := range ours {
		size += len(e.Name)
	}
	var names strings.Builder
	names.Grow(size)
	for i, e := range ours {
		if i > 0 {
			names.WriteByte(',')
		}
		names.WriteString(e.Name)
		// The kubelet expands $(NAME) and turns $$ into $ in env values: escaped, envexec
		// reads exactly the value the webhook validated.
		ours[i].Value = strings.ReplaceAll(e.Value, "$", "$$")
	}
	return append(env, corev1.EnvVar{Name: settings.EnvSettings, Value: names.String()})
}

// EnvRoom is how many settings a wrapped container's env makes room for at once: those of
// a typical pod and then some, so appendSettingsEnv rarely grows the list again. A decoder
// that leaves this much spare capacity in each env saves InjectInPlace a copy of it.
const EnvRoom = 16

// escapeExpansion doubles every "$" of an image's entrypoint or cmd before it is written
// into the pod: the kubelet expands $(VAR) in command and args, but never did in the image.
func escapeExpansion(argv []string) []string {
	if argv == nil {
		return nil
	}
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = strings.ReplaceAll(a, "$", "$$")
	}
	return out
}

// fieldEnv writes the field reference in its defaulted form (apiVersion v1), so the pod
// the apiserver hands back on reinvocation still matches what we wrote.
func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}}
}
