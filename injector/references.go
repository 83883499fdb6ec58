package injector

import (
	"fmt"
	"strconv"
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
	// Argument is "command[N]" or "args[N]" for a problem in the command line.
	Argument string
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
	if e.Argument != "" {
		b.WriteString(": " + e.Argument)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// envRef is one variable of a container whose value is a reference as written in the
// spec, or one entry of its command or args holding references, which envexec resolves in
// its argv. References kept in Secrets and ConfigMaps are envexec's to find at start: the
// webhook never reads them (see the env-sources annotation).
type envRef struct {
	name  string // the variable; empty for an argument
	arg   string // "command[N]" or "args[N]" for an argument
	value string // the reference text
}

// containerRefs lists the variables of c that hold references, in spec order, then the
// entries of command and args that hold references.
func containerRefs(c *corev1.Container) []envRef {
	n := 0
	for _, e := range c.Env {
		if vaultref.HasRefs(e.Value) {
			n++
		}
	}
	refs := make([]envRef, 0, n) // arguments with references are rare
	for _, e := range c.Env {
		if vaultref.HasRefs(e.Value) {
			refs = append(refs, envRef{name: e.Name, value: e.Value})
		}
	}
	refs = argRefs(refs, "command", c.Command)
	return argRefs(refs, "args", c.Args)
}

// argRefs adds the entries of a command line that hold references. The kubelet expands
// $(VAR) in them and turns $$ into $, but ${vault:...} is not its syntax: envexec gets
// them as written.
func argRefs(refs []envRef, field string, argv []string) []envRef {
	for i, a := range argv {
		if vaultref.HasRefs(a) {
			refs = append(refs, envRef{arg: field + "[" + strconv.Itoa(i) + "]", value: a})
		}
	}
	return refs
}

// need is what calls for envexec in a container besides its own references.
type need struct {
	// fromPath: the pod's from-path setting (app containers only).
	fromPath bool
	// envSources: the pod's env-sources setting, for containers that read Secrets or
	// ConfigMaps.
	envSources bool
	// files are the paths of the files the container gets.
	files []string
}

// found is where a container holds references: env variables and command-line entries.
type found struct {
	variables []string
	arguments []string
	// fromPath is set when the pod's from-path setting alone calls for envexec.
	fromPath bool
	// envSources is set when the container reads Secrets or ConfigMaps and the pod asked
	// for references kept there (the env-sources annotation).
	envSources bool
	// warnings are malformed references let through in the webhook's warn mode.
	warnings []string
	// files are the paths of the files envexec writes for the container.
	files []string
}

func (f found) empty() bool {
	return len(f.variables) == 0 && len(f.arguments) == 0 && !f.fromPath && !f.envSources && len(f.files) == 0
}

// readsSources tells whether c takes any variable from a Secret or ConfigMap.
func readsSources(c *corev1.Container) bool {
	for _, e := range c.Env {
		if e.ValueFrom != nil && (e.ValueFrom.SecretKeyRef != nil || e.ValueFrom.ConfigMapKeyRef != nil) {
			return true
		}
	}
	for _, f := range c.EnvFrom {
		if f.SecretRef != nil || f.ConfigMapRef != nil {
			return true
		}
	}
	return false
}

// examine finds the env variables and command-line entries of c that hold references,
// and what is wrong with them that no fact can change: malformed references and uses of
// our reserved names. Whether its image says how to start it is for Inject to check.
// checks are the pod's settings that decide whether a reference is acceptable.
type checks struct {
	// warnMalformed admits a pod with a malformed reference, with a warning (envexec
	// stops the container at start).
	warnMalformed bool
	// allowLogin lets vault:login references through.
	allowLogin bool
}

func examine(pod *corev1.Pod, c *corev1.Container, need need, checks checks) candidate {
	refs := containerRefs(c)
	f := found{fromPath: need.fromPath, envSources: need.envSources && readsSources(c), files: need.files}
	if len(refs) == 0 && f.empty() {
		return candidate{}
	}
	var cand candidate
	for _, r := range refs {
		if reason := refProblem(r.value, checks.allowLogin); reason != "" {
			ferr := &FieldError{Pod: PodName(pod), Container: c.Name, Variable: r.name, Argument: r.arg, Reason: reason}
			if !checks.warnMalformed {
				cand.refErrs = append(cand.refErrs, ferr)
				continue
			}
			// Warn mode: admit, and let envexec stop the container at start (exit 3).
			f.warnings = append(f.warnings, ferr.Error()+"; the container will fail to start")
		}
		if r.arg != "" {
			f.arguments = append(f.arguments, r.arg)
		} else {
			if f.variables == nil {
				f.variables = make([]string, 0, len(refs)) // room for every reference at once, not grown by doubling
			}
			f.variables = append(f.variables, r.name)
		}
	}
	cand.needsImage = !f.empty() && len(c.Command) == 0
	reservedNames(c, func(variable, reason string) {
		cand.nameErrs = append(cand.nameErrs, &FieldError{Pod: PodName(pod), Container: c.Name, Variable: variable, Reason: reason})
	})
	if cand.ok() {
		cand.refs = f
	}
	return cand
}

// refProblem says what is wrong with a value's references, "" if nothing: a malformed
// one, or vault:login in a pod that does not allow it (envexec would stop the container at
// start; saying so at admission names the fix before the pod exists).
func refProblem(value string, allowLogin bool) string {
	if err := vaultref.Check(value); err != nil {
		return err.Error() + ` (see docs/references.md)`
	}
	if allowLogin || !strings.Contains(value, ":login") {
		return "" // the cheap test first: most values hold no login
	}
	t, err := vaultref.Scan(value)
	if err != nil {
		return "" // not reached: Check passed
	}
	for _, ref := range t.Refs {
		if ref.Kind == vaultref.Login {
			return `vault:login gives the application envexec's Vault token, which this pod does not allow: ` +
				`set the annotation vault-injector.io/allow-login: "true" if it should have it (see docs/references.md)`
		}
	}
	return ""
}

// PodName names a pod in messages, with its namespace when known: at admission a
// generated name is not known yet, so "web-*" stands for it.
func PodName(pod *corev1.Pod) string {
	name := pod.Name
	if name == "" && pod.GenerateName != "" {
		name = pod.GenerateName + "*"
	}
	if pod.Namespace != "" {
		return pod.Namespace + "/" + name
	}
	return name
}

// reservedNames reports the container's uses of names the injector needs for itself.
func reservedNames(c *corev1.Container, fail func(variable, reason string)) {
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, EnvPrefix) {
			fail(e.Name, "the "+EnvPrefix+" prefix is reserved for the injector's own settings; rename the variable")
		}
	}
	envFromPrefixes(c, fail)
}

// envFromPrefixes reports envFrom prefixes that can make an ENVEXEC_ name: those under
// it, and those it starts with ("ENV" and a key "EXEC_TLS_SKIP_VERIFY"). envexec refuses
// such variables at start anyway; denying them here says why before the pod exists.
func envFromPrefixes(c *corev1.Container, fail func(variable, reason string)) {
	for _, f := range c.EnvFrom {
		if strings.HasPrefix(f.Prefix, EnvPrefix) || (f.Prefix != "" && strings.HasPrefix(EnvPrefix, f.Prefix)) {
			fail("", "envFrom prefix "+f.Prefix+" is reserved: the "+EnvPrefix+" prefix names the injector's own settings; choose another prefix")
		}
	}
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
