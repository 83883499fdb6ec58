package injector

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/vaultref"
)

// FieldError names exactly where a pod is wrong, so the user can fix it from the message.
// It never carries a value: not of a reference, and certainly not of a secret.
type FieldError struct {
	// Pod is namespace/name, or namespace/generateName* before the name is assigned.
	Pod string
	// Container is the container's name, empty for pod-level problems.
	Container string
	// Variable is the env variable's name, empty for container-level problems.
	Variable string
	// Reason says what is wrong and how to fix it.
	Reason string
}

// Error implements error.
func (e *FieldError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pod %q", e.Pod)
	if e.Container != "" {
		fmt.Fprintf(&b, ": container %q", e.Container)
	}
	if e.Variable != "" {
		fmt.Fprintf(&b, ": env %q", e.Variable)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// references lists the env variables of c that hold references, or says why c cannot be
// wrapped. An already wrapped container has nothing left to do.
func references(pod *corev1.Pod, c *corev1.Container, facts Facts) ([]string, error) {
	if len(c.Command) > 0 && c.Command[0] == EnvexecInPod {
		return nil, nil
	}
	var vars, reserved []string
	sawRef := false
	var errs []error
	fail := func(variable, reason string) {
		errs = append(errs, &FieldError{Pod: podName(pod), Container: c.Name, Variable: variable, Reason: reason})
	}
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, EnvPrefix) {
			reserved = append(reserved, e.Name)
		}
		if !vaultref.IsRef(e.Value) {
			continue
		}
		sawRef = true
		if _, err := vaultref.Parse(e.Value); err != nil {
			fail(e.Name, err.Error()+` (want vault:PATH#KEY or vault:PATH#KEY#VERSION)`)
			continue
		}
		vars = append(vars, e.Name)
	}
	if !sawRef {
		return nil, nil
	}
	for _, name := range reserved {
		fail(name, "the "+EnvPrefix+" prefix is reserved for the injector's own settings; rename the variable")
	}
	if len(vars) > 0 && len(c.Command) == 0 {
		if reason := entrypointProblem(c, facts); reason != "" {
			fail("", reason)
		}
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath == MountPath || m.MountPath == TokenDir {
			fail("", "mount path "+m.MountPath+" is reserved for the injector; mount the volume elsewhere")
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return vars, nil
}

func podName(pod *corev1.Pod) string {
	name := pod.Name
	if name == "" && pod.GenerateName != "" {
		name = pod.GenerateName + "*"
	}
	if pod.Namespace != "" {
		return pod.Namespace + "/" + name
	}
	return name
}

// entrypointProblem says why a container without a command cannot be started through
// envexec, or "" when its image's config tells how.
func entrypointProblem(c *corev1.Container, facts Facts) string {
	img, ok := facts.Images[c.Image]
	switch {
	case !ok:
		return fmt.Sprintf("has vault references but no command, and the entrypoint of image %q is not known; "+
			"set command (and args) to the image's entrypoint so envexec can start it", c.Image)
	case len(img.Entrypoint) == 0 && len(img.Cmd) == 0 && len(c.Args) == 0:
		return fmt.Sprintf("image %q has neither an entrypoint nor a cmd; set command so envexec can start it", c.Image)
	}
	return ""
}
