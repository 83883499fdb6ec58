package framework

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// privileges plays the parts of a securityContext that change what a process may do:
// user, groups, runAsNonRoot, readOnlyRootFilesystem, allowPrivilegeEscalation and
// dropped capabilities. It returns a setpriv(1) prefix for the command line (nil when
// the process stays the unrestricted root a rootful runtime would start) and whether /
// must be read-only. seccomp, AppArmor, SELinux and fsGroup are not played (volumes are
// 0777 anyway); what would change behaviour and cannot be played is an error.
func privileges(setpriv string, pod *corev1.Pod, c *corev1.Container) ([]string, bool, error) {
	psc := pod.Spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	csc := c.SecurityContext
	if csc == nil {
		csc = &corev1.SecurityContext{}
	}
	if len(psc.Sysctls) > 0 || psc.WindowsOptions != nil || csc.WindowsOptions != nil {
		return nil, false, fmt.Errorf("container %s: sysctls or windowsOptions: %w", c.Name, errUnsupported)
	}
	args, err := identity(c.Name, psc, csc)
	if err != nil {
		return nil, false, err
	}
	if p := csc.AllowPrivilegeEscalation; p != nil && !*p {
		args = append(args, "--no-new-privs")
	}
	caps, err := droppedCaps(c)
	if err != nil {
		return nil, false, err
	}
	args = append(args, caps...)
	readOnly := csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem
	if len(args) == 0 {
		return nil, readOnly, nil
	}
	return append(append([]string{setpriv}, args...), "--"), readOnly, nil
}

// identity returns setpriv's user and group arguments (none for root, the rootful
// runtime's default), and refuses what the kubelet refuses.
func identity(container string, psc *corev1.PodSecurityContext, csc *corev1.SecurityContext) ([]string, error) {
	uid := firstSet(csc.RunAsUser, psc.RunAsUser)
	gid := firstSet(csc.RunAsGroup, psc.RunAsGroup)
	if firstBool(csc.RunAsNonRoot, psc.RunAsNonRoot) && uid == 0 {
		// The kubelet does not start it (CreateContainerConfigError).
		return nil, fmt.Errorf("container %s: runAsNonRoot is set but it would run as root", container)
	}
	if uid == 0 && gid == 0 && len(psc.SupplementalGroups) == 0 {
		return nil, nil
	}
	return []string{
		"--reuid=" + strconv.FormatInt(uid, 10), "--regid=" + strconv.FormatInt(gid, 10),
		groupsArg(psc.SupplementalGroups),
	}, nil
}

// droppedCaps removes capabilities from the bounding and inheritable sets; adding any
// is not played, because the runner's root already has them all.
func droppedCaps(c *corev1.Container) ([]string, error) {
	if c.SecurityContext == nil || c.SecurityContext.Capabilities == nil {
		return nil, nil
	}
	caps := c.SecurityContext.Capabilities
	if len(caps.Add) > 0 {
		return nil, fmt.Errorf("container %s: capabilities.add: %w", c.Name, errUnsupported)
	}
	var names []string
	for _, d := range caps.Drop {
		name := strings.ToLower(strings.TrimPrefix(strings.ToUpper(string(d)), "CAP_"))
		names = append(names, "-"+name)
	}
	if len(names) == 0 {
		return nil, nil
	}
	set := strings.Join(names, ",")
	return []string{"--bounding-set=" + set, "--inh-caps=" + set}, nil
}

func groupsArg(groups []int64) string {
	if len(groups) == 0 {
		return "--clear-groups"
	}
	s := make([]string, len(groups))
	for i, g := range groups {
		s[i] = strconv.FormatInt(g, 10)
	}
	return "--groups=" + strings.Join(s, ",")
}

func firstSet(vals ...*int64) int64 {
	for _, v := range vals {
		if v != nil {
			return *v
		}
	}
	return 0
}

func firstBool(vals ...*bool) bool {
	for _, v := range vals {
		if v != nil {
			return *v
		}
	}
	return false
}
