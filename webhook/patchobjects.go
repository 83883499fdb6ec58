package webhook

import (
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// The whole objects a typical patch adds, written here as encoding/json writes them: the
// init container and our emptyDir and projected-token volumes. Their reflection was a
// tenth of a typical request. Each writer first checks that the value sets no field it
// does not know, and else leaves the value to encoding/json; TestPatchKnowsEveryField
// fails when Kubernetes adds a field to one of these types.

// appendInitContainer writes c if it sets only the fields of our init container.
func appendInitContainer(b []byte, c *corev1.Container) ([]byte, bool) {
	if c == nil || !onlyInitFields(c) {
		return b, false
	}
	b = append(b, `{"name":`...)
	b = appendString(b, c.Name)
	b = appendStringMember(b, "image", c.Image)
	if len(c.Command) > 0 {
		b = append(b, `,"command":`...)
		b = appendStrings(b, c.Command)
	}
	b = append(b, `,"resources":`...)
	b = appendResources(b, &c.Resources)
	if len(c.VolumeMounts) > 0 {
		b = append(b, `,"volumeMounts":[`...)
		for i := range c.VolumeMounts {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendVolumeMount(b, &c.VolumeMounts[i])
		}
		b = append(b, ']')
	}
	b = appendStringMember(b, "terminationMessagePath", c.TerminationMessagePath)
	b = appendStringMember(b, "terminationMessagePolicy", string(c.TerminationMessagePolicy))
	b = appendStringMember(b, "imagePullPolicy", string(c.ImagePullPolicy))
	if c.SecurityContext != nil {
		b = append(b, `,"securityContext":`...)
		b = appendSecurityContext(b, c.SecurityContext)
	}
	return append(b, '}'), true
}

// onlyInitFields says whether c sets no field appendInitContainer does not write.
func onlyInitFields(c *corev1.Container) bool {
	lists := len(c.Args) + len(c.Ports) + len(c.EnvFrom) + len(c.Env) + len(c.Resources.Claims) +
		len(c.ResizePolicy) + len(c.RestartPolicyRules) + len(c.VolumeDevices)
	if lists > 0 || c.WorkingDir != "" || c.Stdin || c.StdinOnce || c.TTY ||
		c.RestartPolicy != nil || c.LivenessProbe != nil || c.ReadinessProbe != nil || c.StartupProbe != nil || c.Lifecycle != nil ||
		slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return !plainMount(&m) }) {
		return false
	}
	sc := c.SecurityContext
	return sc == nil || *sc == corev1.SecurityContext{
		Capabilities: sc.Capabilities, RunAsUser: sc.RunAsUser, RunAsGroup: sc.RunAsGroup, RunAsNonRoot: sc.RunAsNonRoot,
		ReadOnlyRootFilesystem: sc.ReadOnlyRootFilesystem, AllowPrivilegeEscalation: sc.AllowPrivilegeEscalation,
		SeccompProfile: sc.SeccompProfile,
	}
}

// appendResources writes limits and requests; onlyInitFields made sure there are no claims.
func appendResources(b []byte, r *corev1.ResourceRequirements) []byte {
	b = append(b, '{')
	if len(r.Limits) > 0 {
		b = append(b, `"limits":`...)
		b = appendResourceList(b, r.Limits)
		if len(r.Requests) > 0 {
			b = append(b, ',')
		}
	}
	if len(r.Requests) > 0 {
		b = append(b, `"requests":`...)
		b = appendResourceList(b, r.Requests)
	}
	return append(b, '}')
}

// appendSecurityContext writes the fields appendInitContainer allows.
func appendSecurityContext(b []byte, sc *corev1.SecurityContext) []byte {
	start := len(b)
	b = append(b, '{')
	if c := sc.Capabilities; c != nil {
		b = append(b, `"capabilities":{`...)
		if len(c.Add) > 0 {
			b = append(b, `"add":`...)
			b = appendStrings(b, c.Add)
			if len(c.Drop) > 0 {
				b = append(b, ',')
			}
		}
		if len(c.Drop) > 0 {
			b = append(b, `"drop":`...)
			b = appendStrings(b, c.Drop)
		}
		b = append(b, '}')
	}
	b = appendIntMember(b, start, "runAsUser", sc.RunAsUser)
	b = appendIntMember(b, start, "runAsGroup", sc.RunAsGroup)
	b = appendBoolMember(b, start, "runAsNonRoot", sc.RunAsNonRoot)
	b = appendBoolMember(b, start, "readOnlyRootFilesystem", sc.ReadOnlyRootFilesystem)
	b = appendBoolMember(b, start, "allowPrivilegeEscalation", sc.AllowPrivilegeEscalation)
	if p := sc.SeccompProfile; p != nil {
		b = append(appendKey(b, start, "seccompProfile"), `{"type":`...)
		b = appendString(b, string(p.Type))
		if p.LocalhostProfile != nil {
			b = append(b, `,"localhostProfile":`...)
			b = appendString(b, *p.LocalhostProfile)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendOurVolume writes v if it is an emptyDir or a projection of service account tokens
// only, the volumes a typical pod gets.
func appendOurVolume(b []byte, v *corev1.Volume) ([]byte, bool) {
	switch {
	case v == nil:
		return b, false
	case v.EmptyDir != nil && v.VolumeSource == corev1.VolumeSource{EmptyDir: v.EmptyDir}:
		b = append(b, `{"name":`...)
		b = appendString(b, v.Name)
		b = append(b, `,"emptyDir":`...)
		return append(appendEmptyDir(b, v.EmptyDir), '}'), true
	case v.Projected != nil && v.VolumeSource == corev1.VolumeSource{Projected: v.Projected} &&
		!slices.ContainsFunc(v.Projected.Sources, func(p corev1.VolumeProjection) bool {
			return p.ServiceAccountToken == nil || p != corev1.VolumeProjection{ServiceAccountToken: p.ServiceAccountToken}
		}):
		b = append(b, `{"name":`...)
		b = appendString(b, v.Name)
		b = append(b, `,"projected":`...)
		return append(appendTokenProjection(b, v.Projected), '}'), true
	}
	return b, false
}

func appendEmptyDir(b []byte, e *corev1.EmptyDirVolumeSource) []byte {
	start := len(b)
	b = append(b, '{')
	if e.Medium != "" {
		b = append(b, `"medium":`...)
		b = appendString(b, string(e.Medium))
	}
	if e.SizeLimit != nil {
		b = comma(b, start)
		b = append(b, `"sizeLimit":`...)
		b = appendString(b, e.SizeLimit.String())
	}
	return append(b, '}')
}

// appendTokenProjection writes a projected volume whose sources are all service account
// tokens.
func appendTokenProjection(b []byte, p *corev1.ProjectedVolumeSource) []byte {
	b = append(b, `{"sources":`...)
	if p.Sources == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, src := range p.Sources {
			if i > 0 {
				b = append(b, ',')
			}
			t := src.ServiceAccountToken
			b = append(b, `{"serviceAccountToken":`...)
			start := len(b)
			b = append(b, '{')
			if t.Audience != "" {
				b = append(b, `"audience":`...)
				b = appendString(b, t.Audience)
			}
			b = appendIntMember(b, start, "expirationSeconds", t.ExpirationSeconds)
			b = comma(b, start)
			b = append(b, `"path":`...)
			b = appendString(b, t.Path)
			b = append(b, "}}"...)
		}
		b = append(b, ']')
	}
	if m := p.DefaultMode; m != nil {
		b = append(b, `,"defaultMode":`...)
		b = strconv.AppendInt(b, int64(*m), 10)
	}
	return append(b, '}')
}

// plainMount says whether appendVolumeMount writes m whole.
func plainMount(m *corev1.VolumeMount) bool {
	return m.RecursiveReadOnly == nil && m.MountPropagation == nil
}

// appendResourceList writes quantities by name, in encoding/json's sorted order.
func appendResourceList(b []byte, l corev1.ResourceList) []byte {
	names := make([]corev1.ResourceName, 0, len(l))
	for name := range l {
		names = append(names, name)
	}
	slices.Sort(names)
	b = append(b, '{')
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, string(name))
		b = append(b, ':')
		q := l[name]
		b = appendString(b, q.String())
	}
	return append(b, '}')
}

// appendStringMember writes `,"name":"s"` unless s is empty (omitempty).
func appendStringMember(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":`...)
	return appendString(b, s)
}

// appendIntMember writes `"name":n` unless n is nil, after a comma unless it is the first
// member of the object that starts at start.
func appendIntMember(b []byte, start int, name string, n *int64) []byte {
	if n == nil {
		return b
	}
	return strconv.AppendInt(appendKey(b, start, name), *n, 10)
}

// appendBoolMember is appendIntMember for a boolean.
func appendBoolMember(b []byte, start int, name string, v *bool) []byte {
	if v == nil {
		return b
	}
	return strconv.AppendBool(appendKey(b, start, name), *v)
}

// appendKey writes `"name":`, after a comma unless it is the first member of the object
// that starts at start.
func appendKey(b []byte, start int, name string) []byte {
	b = comma(b, start)
	b = append(b, '"')
	b = append(b, name...)
	return append(b, `":`...)
}

// comma separates a member from the one before it, if the object that starts at start
// has one.
func comma(b []byte, start int) []byte {
	if len(b) > start+1 {
		return append(b, ',')
	}
	return b
}
