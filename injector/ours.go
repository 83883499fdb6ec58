package injector

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/vault-injector/vault-injector/config"
)

// saTokenPath is where the ServiceAccount admission plugin mounts the pod's API token. When
// the apiserver reinvokes admission, that plugin runs again and mounts it into our init
// container too: the one addition to our parts that is not the tenant's doing.
const saTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount" //nolint:gosec // a path, not a credential

// ownership is what a pod holds of the injector's own parts.
type ownership struct {
	// injected: the pod carries our init container and volumes exactly as Inject writes
	// them, so this is a second pass (reinvocation) over our own output.
	injected bool
	// initCopy: our init container is the pod's first (init-copy delivery).
	initCopy bool
	// wrapped are the containers that already run envexec exactly as wrapContainer wrote.
	wrapped []target
	// refused are the containers denied for using our parts; nothing else is said of them.
	refused []target
}

// skips tells whether scan has nothing to do with the container at (init, i).
func (o ownership) skips(init bool, i int) bool {
	at := func(t target) bool { return t.init == init && t.index == i }
	return (o.injected && o.initCopy && init && i == 0) || slices.ContainsFunc(o.wrapped, at) || slices.ContainsFunc(o.refused, at)
}

// ownParts recognises the injector's own parts by an exact match of what Inject writes,
// never by a name alone: a tenant's init container, volume or mount that uses one of our
// names, or a container that runs envexec with settings we did not write, is denied.
func ownParts(pod *corev1.Pod, cfg config.Pod) (ownership, []error) {
	var o ownership
	var errs []error
	fail := func(container, reason string) {
		errs = append(errs, &FieldError{Pod: PodName(pod), Container: container, Reason: reason})
	}
	ours := ownVolumes(pod, cfg, fail) + ownInitContainer(pod, cfg, fail)
	switch {
	case ours == 0 || len(errs) > 0: // most pods: none of our parts, and nothing to count
	case ours == len(ourVolumes(cfg))+initContainers(cfg):
		o.injected, o.initCopy = true, !cfg.ImageVolume
	default:
		fail("", "the pod holds some of the injector's volumes and init container but not all; create it without them")
	}
	o.visit(true, pod.Spec.InitContainers, cfg, fail)
	o.visit(false, pod.Spec.Containers, cfg, fail)
	return o, errs
}

// initContainers is how many init containers Inject adds: none for an image volume.
func initContainers(cfg config.Pod) int {
	if cfg.ImageVolume {
		return 0
	}
	return 1
}

// ownVolumes counts the volumes that are exactly ours and reports those only named so.
// Every reserved name is reserved whether or not this pod's settings use it (a tls-secret,
// an approle-secret, the service account token of kubernetes and jwt logins).
func ownVolumes(pod *corev1.Pod, cfg config.Pod, fail func(container, reason string)) int {
	var wants []corev1.Volume // built only for a pod that holds a volume with one of our names
	n := 0
	for _, v := range pod.Spec.Volumes {
		if !isReservedVolume(v.Name) {
			continue
		}
		if wants == nil {
			wants = ourVolumes(cfg)
		}
		i := slices.IndexFunc(wants, func(w corev1.Volume) bool { return w.Name == v.Name })
		switch {
		case i >= 0 && equality.Semantic.DeepEqual(v, wants[i]):
			n++
		default:
			fail("", "volume name "+v.Name+" is reserved for the injector; rename the volume")
		}
	}
	return n
}

// ownInitContainer is 1 when the first init container is exactly ours; an init container
// only named like ours is reported.
func ownInitContainer(pod *corev1.Pod, cfg config.Pod, fail func(container, reason string)) int {
	n := 0
	for i, c := range pod.Spec.InitContainers {
		if c.Name != InitContainerName {
			continue
		}
		if i != 0 || cfg.ImageVolume || !sameInitContainer(c, initContainer(cfg)) {
			fail(c.Name, "the init container name "+InitContainerName+" is reserved for the injector; rename the container")
			continue
		}
		n++
	}
	return n
}

// visit sorts the containers that use our parts into wrapped (exactly ours, in an
// injected pod) and refused (anything else, reported).
func (o *ownership) visit(init bool, cs []corev1.Container, cfg config.Pod, fail func(container, reason string)) {
	for i := range cs {
		c := &cs[i]
		if init && c.Name == InitContainerName {
			continue
		}
		uses := usesInjector(c)
		switch wrapped := uses != "" && o.injected && isWrapped(c, cfg); {
		case uses == "":
			continue
		case wrapped:
			if o.checkWrapped(c, cfg, fail) {
				o.wrapped = append(o.wrapped, target{init: init, index: i})
				continue
			}
		case o.injected:
			fail(c.Name, uses+", but not as the webhook wrote it (command, settings and mounts must be exactly the webhook's)")
		default:
			fail(c.Name, uses+"; only the webhook may add that")
		}
		o.refused = append(o.refused, target{init: init, index: i})
	}
}

// checkWrapped applies to a container we wrapped on an earlier pass the checks that its
// own parts get on the first: no hook of the pod's runs envexec, no envFrom prefix makes an
// ENVEXEC_ name, no variable reads a file of our volumes, no mount of its own reaches our
// volumes or paths. It reports what fails and tells whether all passed.
func (o *ownership) checkWrapped(c *corev1.Container, cfg config.Pod, fail func(container, reason string)) bool {
	ok := true
	for _, h := range foreignHooks(c, cfg) {
		fail(c.Name, "its "+h+" runs "+EnvexecInPod+", but not as the webhook wrote it (command, settings and mounts must be exactly the webhook's)")
		ok = false
	}
	envFromPrefixes(c, func(_, reason string) { fail(c.Name, reason); ok = false })
	if reads := readsOurFiles(c); reads != "" {
		fail(c.Name, reads+"; only the webhook may add that")
		ok = false
	}
	// Our mounts are the last ones (isWrapped); none of the container's own may reach our
	// volumes or paths, as on a first pass: another container's files, a second mount of
	// the token, or something mounted over envexec.
	own := c.VolumeMounts[:len(c.VolumeMounts)-len(ourMounts(cfg, c.Name))]
	if uses := reachesOurPaths(own, c.VolumeDevices); uses != "" {
		fail(c.Name, uses+"; only the webhook may add that")
		ok = false
	}
	return ok
}

// usesInjector says how c reaches the injector's parts, or "": mounting our volumes or
// mount paths (or a block device there), reading a file of our volumes into a variable,
// or running envexec.
func usesInjector(c *corev1.Container) string {
	if uses := reachesOurPaths(c.VolumeMounts, c.VolumeDevices); uses != "" {
		return uses
	}
	if reads := readsOurFiles(c); reads != "" {
		return reads
	}
	if len(c.Command) > 0 && c.Command[0] == EnvexecInPod {
		return "its command runs " + EnvexecInPod
	}
	for _, h := range execHooks(c) {
		if h.exec != nil && len(h.exec.Command) > 0 && h.exec.Command[0] == EnvexecInPod {
			return "its " + h.name + " runs " + EnvexecInPod
		}
	}
	return ""
}

// reachesOurPaths says which of mounts or devices uses our volumes or lies under our
// paths, or "". A mount below ours is mounted after it and would replace envexec, its
// credentials or its CA; so would a block device there.
func reachesOurPaths(mounts []corev1.VolumeMount, devices []corev1.VolumeDevice) string {
	underOurs := func(p string) bool {
		return slices.ContainsFunc(reservedDirs[:], func(dir string) bool { return under(p, dir) })
	}
	for _, m := range mounts {
		switch {
		case isReservedVolume(m.Name):
			return "it mounts the injector's volume " + m.Name
		case underOurs(m.MountPath):
			return "mount path " + m.MountPath + " is reserved for the injector"
		}
	}
	for _, d := range devices {
		if underOurs(d.DevicePath) {
			return "device path " + d.DevicePath + " is reserved for the injector"
		}
	}
	return ""
}

// readsOurFiles says which variable of c takes its value from a file of one of our
// volumes (env[].valueFrom.fileKeyRef), or "". The kubelet reads such a file from any
// emptyDir of the pod, mounted into the container or not: it would hand a container the
// secrets envexec wrote for another, into its environment for anyone to read.
func readsOurFiles(c *corev1.Container) string {
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FileKeyRef != nil && isReservedVolume(e.ValueFrom.FileKeyRef.VolumeName) {
			return "its variable " + e.Name + " reads a file of the injector's volume " + e.ValueFrom.FileKeyRef.VolumeName + " (fileKeyRef)"
		}
	}
	return ""
}

// under tells whether p, cleaned, is dir, cleaned, or a path below it. Both may be a
// pod's (a mount path, a files-dir), so both are cleaned: "/etc/web/" is "/etc/web".
func under(p, dir string) bool {
	if dir == "" || dir[0] != '/' || path.Clean(dir) != dir { // Clean allocates only what it changes
		dir = path.Clean("/" + dir)
	}
	if !strings.Contains(p, path.Base(dir)) {
		return false // every segment of the cleaned path is one of p's: no allocation for the usual mount
	}
	p = path.Clean("/" + p)
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// foreignHooks reports, for a container that runs envexec as we wrote it, the hooks
// that run envexec without us having written them: lifecycle hooks always, probes unless
// the mutate-probes setting put envexec there.
func foreignHooks(c *corev1.Container, cfg config.Pod) []string {
	var names []string
	for _, h := range execHooks(c) {
		isProbe := strings.HasSuffix(h.name, "Probe")
		if h.exec != nil && len(h.exec.Command) > 0 && h.exec.Command[0] == EnvexecInPod && (!isProbe || !cfg.MutateProbes) {
			names = append(names, h.name)
		}
	}
	return names
}

// hook is one command the kubelet runs inside a container besides its own.
type hook struct {
	name string
	exec *corev1.ExecAction
}

// execHooks are c's probes and lifecycle hooks, in a fixed order. The mutate-probes
// annotation, not the pod, puts envexec in front of them.
// It returns an array, not a slice, so the admission path allocates nothing per container;
// an absent hook has a nil exec.
func execHooks(c *corev1.Container) [5]hook {
	hooks := [5]hook{{name: "livenessProbe"}, {name: "readinessProbe"}, {name: "startupProbe"}, {name: "postStart hook"}, {name: "preStop hook"}}
	for i, p := range [3]*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		if p != nil {
			hooks[i].exec = p.Exec
		}
	}
	if l := c.Lifecycle; l != nil {
		for i, h := range [2]*corev1.LifecycleHandler{l.PostStart, l.PreStop} {
			if h != nil {
				hooks[3+i].exec = h.Exec
			}
		}
	}
	return hooks
}

// sameInitContainer compares an init container named like ours with the one Inject
// writes, allowing only the service account token mount the apiserver adds on reinvocation.
func sameInitContainer(got, want corev1.Container) bool {
	got.VolumeMounts = slices.DeleteFunc(slices.Clone(got.VolumeMounts), func(m corev1.VolumeMount) bool {
		return m.MountPath == saTokenPath && m.ReadOnly && m.SubPath == "" && strings.HasPrefix(m.Name, "kube-api-access-")
	})
	// The LimitRanger plugin runs again on reinvocation too, and fills in a namespace's
	// default requests and limits for the resources we left unset; those it may add.
	got.Resources.Requests = onlyKeysOf(got.Resources.Requests, want.Resources.Requests)
	got.Resources.Limits = onlyKeysOf(got.Resources.Limits, want.Resources.Limits)
	return equality.Semantic.DeepEqual(got, want)
}

// onlyKeysOf drops from got the resources want does not name.
func onlyKeysOf(got, want corev1.ResourceList) corev1.ResourceList {
	if len(got) == 0 {
		return got
	}
	out := corev1.ResourceList{}
	for name, q := range got {
		if _, ok := want[name]; ok {
			out[name] = q
		}
	}
	if len(out) == 0 && want == nil {
		return nil
	}
	return out
}

// isWrapped tells whether c runs envexec exactly as wrapContainer writes it: envexec in
// front of the command, our mounts last, our settings last in env and no other
// ENVEXEC_* variable before them.
func isWrapped(c *corev1.Container, cfg config.Pod) bool {
	wantEnv, wantMounts := settingsEnv(c.Name, cfg), ourMounts(cfg, c.Name)
	n, m := len(c.Env)-len(wantEnv), len(c.VolumeMounts)-len(wantMounts)
	if len(c.Command) < 2 || c.Command[0] != EnvexecInPod || c.Command[1] != "--" || n < 0 || m < 0 {
		return false
	}
	if !equality.Semantic.DeepEqual(c.Env[n:], wantEnv) || !equality.Semantic.DeepEqual(c.VolumeMounts[m:], wantMounts) {
		return false
	}
	return !slices.ContainsFunc(c.Env[:n], func(e corev1.EnvVar) bool { return strings.HasPrefix(e.Name, EnvPrefix) })
}

// vaultHostProblems denies what would resolve the pod's Vault host to another server
// inside the pod: a hostAliases entry for it, or DNS servers and search domains of the
// pod's choosing (dnsConfig). TLS verification cannot help an http:// Vault, and the host
// allowlist would mean nothing.
func vaultHostProblems(pod *corev1.Pod, cfg config.Pod) []error {
	u, err := url.Parse(cfg.VaultAddr)
	if err != nil {
		return nil // ParsePod validated it; an IP literal below needs no DNS
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" || net.ParseIP(host) != nil {
		return nil
	}
	var errs []error
	fail := func(reason string) { errs = append(errs, &FieldError{Pod: PodName(pod), Reason: reason}) }
	for _, a := range pod.Spec.HostAliases {
		for _, h := range a.Hostnames {
			if strings.TrimSuffix(strings.ToLower(h), ".") == host {
				fail(fmt.Sprintf("hostAliases maps the Vault host %s to %s; envexec must reach the Vault the platform chose, so remove the entry", host, a.IP))
			}
		}
	}
	if pod.Spec.DNSPolicy == corev1.DNSNone {
		fail(fmt.Sprintf("dnsPolicy None lets the pod choose how the Vault host %s resolves; use the cluster's DNS", host))
	}
	if d := pod.Spec.DNSConfig; d != nil && (len(d.Nameservers) > 0 || len(d.Searches) > 0) {
		fail(fmt.Sprintf("dnsConfig nameservers and searches could resolve the Vault host %s elsewhere; remove them (dnsConfig options are allowed)", host))
	}
	return errs
}

// EphemeralProblems checks the ephemeral containers of a running pod (kubectl debug adds
// them later, with an UPDATE of pods/ephemeralcontainers): like any container the webhook
// did not wrap, none may mount our volumes or paths, or run envexec.
func EphemeralProblems(pod *corev1.Pod) error {
	var errs []error
	for _, ec := range pod.Spec.EphemeralContainers {
		c := corev1.Container(ec.EphemeralContainerCommon)
		if uses := usesInjector(&c); uses != "" {
			errs = append(errs, &FieldError{Pod: PodName(pod), Container: c.Name, Reason: "ephemeral container: " + uses + "; only the webhook may add that"})
		}
	}
	return errors.Join(errs...)
}
