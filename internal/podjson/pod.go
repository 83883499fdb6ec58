package podjson

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The members of each type read by hand that are left to json/v2, by JSON name.
var (
	podFields        = fieldsOf[corev1.Pod]()
	metaFields       = fieldsOf[metav1.ObjectMeta]()
	ownerFields      = fieldsOf[metav1.OwnerReference]()
	specFields       = fieldsOf[corev1.PodSpec]()
	tolerationFields = fieldsOf[corev1.Toleration]()
	volumeFields     = fieldsOf[corev1.Volume]()
	containerFields  = fieldsOf[corev1.Container]()
	portFields       = fieldsOf[corev1.ContainerPort]()
	envFields        = fieldsOf[corev1.EnvVar]()
	resourceFields   = fieldsOf[corev1.ResourceRequirements]()
	mountFields      = fieldsOf[corev1.VolumeMount]()
	probeFields      = fieldsOf[corev1.Probe]()
	httpGetFields    = fieldsOf[corev1.HTTPGetAction]()
)

func (d *decoder) pod(p *corev1.Pod) error {
	return d.object(p, func(name []byte) error {
		switch string(name) {
		case "kind":
			return str(d, &p.Kind)
		case "apiVersion":
			return str(d, &p.APIVersion)
		case "metadata":
			return d.meta(&p.ObjectMeta)
		case "spec":
			return d.spec(&p.Spec)
		case "status":
			return d.unless(d.leaveUnread, func() error { return d.rest(p, podFields, name) })
		}
		return d.rest(p, podFields, name)
	})
}

func (d *decoder) meta(m *metav1.ObjectMeta) error {
	return d.object(m, func(name []byte) error {
		switch string(name) {
		case "name":
			return str(d, &m.Name)
		case "generateName":
			return str(d, &m.GenerateName)
		case "namespace":
			return str(d, &m.Namespace)
		case "uid":
			return str(d, &m.UID)
		case "labels":
			return d.stringMap(&m.Labels)
		case "annotations":
			return d.stringMap(&m.Annotations)
		case "ownerReferences":
			return d.unless(d.leaveUnread, func() error { return slice(d, &m.OwnerReferences, nil, (*decoder).owner) })
		}
		return d.rest(m, metaFields, name)
	})
}

func (d *decoder) owner(o *metav1.OwnerReference) error {
	return d.object(o, func(name []byte) error {
		switch string(name) {
		case "apiVersion":
			return str(d, &o.APIVersion)
		case "kind":
			return str(d, &o.Kind)
		case "name":
			return str(d, &o.Name)
		case "uid":
			return str(d, &o.UID)
		case "controller":
			return optional(d, &o.Controller, (*decoder).boolean)
		case "blockOwnerDeletion":
			return optional(d, &o.BlockOwnerDeletion, (*decoder).boolean)
		}
		return d.rest(o, ownerFields, name)
	})
}

func (d *decoder) spec(s *corev1.PodSpec) error {
	return d.object(s, func(name []byte) error {
		switch string(name) {
		case "initContainers":
			return slice(d, &s.InitContainers, &d.containers, (*decoder).container)
		case "containers":
			return slice(d, &s.Containers, &d.containers, (*decoder).appContainer)
		case "volumes":
			return slice(d, &s.Volumes, nil, (*decoder).volume)
		case "serviceAccountName":
			return str(d, &s.ServiceAccountName)
		case "serviceAccount":
			return str(d, &s.DeprecatedServiceAccount)
		case "restartPolicy":
			return str(d, &s.RestartPolicy)
		case "dnsPolicy":
			return str(d, &s.DNSPolicy)
		case "schedulerName":
			return str(d, &s.SchedulerName)
		case "nodeName":
			return str(d, &s.NodeName)
		case "terminationGracePeriodSeconds":
			return optional(d, &s.TerminationGracePeriodSeconds, integer[int64])
		case "priority":
			return optional(d, &s.Priority, integer[int32])
		case "enableServiceLinks":
			return optional(d, &s.EnableServiceLinks, (*decoder).boolean)
		case "preemptionPolicy":
			return optional(d, &s.PreemptionPolicy, str[corev1.PreemptionPolicy])
		case "tolerations":
			return d.unless(d.leaveUnread, func() error { return slice(d, &s.Tolerations, nil, (*decoder).toleration) })
		}
		return d.rest(s, specFields, name)
	})
}

func (d *decoder) toleration(t *corev1.Toleration) error {
	return d.object(t, func(name []byte) error {
		switch string(name) {
		case "key":
			return str(d, &t.Key)
		case "operator":
			return str(d, &t.Operator)
		case "value":
			return str(d, &t.Value)
		case "effect":
			return str(d, &t.Effect)
		case "tolerationSeconds":
			return optional(d, &t.TolerationSeconds, integer[int64])
		}
		return d.rest(t, tolerationFields, name)
	})
}

func (d *decoder) volume(v *corev1.Volume) error {
	return d.object(v, func(name []byte) error {
		if string(name) == "name" {
			return str(d, &v.Name)
		}
		return d.unless(d.leaveUnread && v.Name != "" && !d.readsVolume(v.Name), func() error { return d.rest(v, volumeFields, name) })
	})
}

// unless reads a member with read, or skips it when it is one DecodeForAdmission leaves
// unread (its JSON still checked).
func (d *decoder) unless(unread bool, read func() error) error {
	if unread {
		return d.dec.SkipValue()
	}
	return read()
}

// container reads an init container; appContainer a container, of which
// DecodeForAdmission leaves the resources and ports unread.
func (d *decoder) container(c *corev1.Container) error { return d.containerOf(c, false) }

func (d *decoder) appContainer(c *corev1.Container) error { return d.containerOf(c, d.leaveUnread) }

func (d *decoder) containerOf(c *corev1.Container, leaveUnread bool) error {
	return d.object(c, func(name []byte) error {
		switch string(name) {
		case "name":
			return str(d, &c.Name)
		case "image":
			return str(d, &c.Image)
		case "command":
			return slice(d, &c.Command, &d.texts, str[string])
		case "args":
			return slice(d, &c.Args, &d.texts, str[string])
		case "workingDir":
			return str(d, &c.WorkingDir)
		case "ports":
			return d.unless(leaveUnread, func() error { return slice(d, &c.Ports, nil, (*decoder).port) })
		case "env":
			return sliceRoom(d, &c.Env, &d.env, d.nextEnvRoom(), (*decoder).envVar)
		case "resources":
			return d.unless(leaveUnread, func() error { return d.resources(&c.Resources) })
		case "volumeMounts":
			return slice(d, &c.VolumeMounts, &d.mounts, (*decoder).mount)
		case "livenessProbe", "readinessProbe", "startupProbe":
			return optional(d, probeOf(c, name), (*decoder).probe)
		case "terminationMessagePath":
			return str(d, &c.TerminationMessagePath)
		case "terminationMessagePolicy":
			return str(d, &c.TerminationMessagePolicy)
		case "imagePullPolicy":
			return str(d, &c.ImagePullPolicy)
		}
		return d.rest(c, containerFields, name)
	})
}

// probeOf is the field of c a probe's member name (one of three) holds.
func probeOf(c *corev1.Container, name []byte) **corev1.Probe {
	switch string(name) {
	case "livenessProbe":
		return &c.LivenessProbe
	case "readinessProbe":
		return &c.ReadinessProbe
	}
	return &c.StartupProbe
}

func (d *decoder) port(p *corev1.ContainerPort) error {
	return d.object(p, func(name []byte) error {
		switch string(name) {
		case "name":
			return str(d, &p.Name)
		case "containerPort":
			return integer(d, &p.ContainerPort)
		case "protocol":
			return str(d, &p.Protocol)
		}
		return d.rest(p, portFields, name)
	})
}

func (d *decoder) envVar(e *corev1.EnvVar) error {
	return d.object(e, func(name []byte) error {
		switch string(name) {
		case "name":
			return str(d, &e.Name)
		case "value":
			return str(d, &e.Value)
		}
		return d.rest(e, envFields, name)
	})
}

func (d *decoder) resources(r *corev1.ResourceRequirements) error {
	return d.object(r, func(name []byte) error {
		switch string(name) {
		case "limits":
			return d.resourceList(&r.Limits)
		case "requests":
			return d.resourceList(&r.Requests)
		}
		return d.rest(r, resourceFields, name)
	})
}

// resourceList reads quantities by name, merging into an existing list as json/v2 does.
func (d *decoder) resourceList(l *corev1.ResourceList) error {
	if *l == nil && d.dec.PeekKind() == '{' {
		*l = make(corev1.ResourceList)
	}
	return d.object(l, func(name []byte) error {
		key := corev1.ResourceName(d.strs.str(name))
		q := (*l)[key] // a name given twice is read into the first's value, as by json/v2
		if err := d.quantity(&q); err != nil {
			return err
		}
		(*l)[key] = q
		return nil
	})
}

func (d *decoder) mount(m *corev1.VolumeMount) error {
	return d.object(m, func(name []byte) error {
		switch string(name) {
		case "name":
			return str(d, &m.Name)
		case "readOnly":
			return d.boolean(&m.ReadOnly)
		case "mountPath":
			return str(d, &m.MountPath)
		case "subPath":
			return str(d, &m.SubPath)
		}
		return d.rest(m, mountFields, name)
	})
}

func (d *decoder) probe(p *corev1.Probe) error {
	return d.object(p, func(name []byte) error {
		switch string(name) {
		case "httpGet":
			return optional(d, &p.HTTPGet, (*decoder).httpGet)
		case "initialDelaySeconds":
			return integer(d, &p.InitialDelaySeconds)
		case "timeoutSeconds":
			return integer(d, &p.TimeoutSeconds)
		case "periodSeconds":
			return integer(d, &p.PeriodSeconds)
		case "successThreshold":
			return integer(d, &p.SuccessThreshold)
		case "failureThreshold":
			return integer(d, &p.FailureThreshold)
		}
		return d.rest(p, probeFields, name)
	})
}

func (d *decoder) httpGet(h *corev1.HTTPGetAction) error {
	return d.object(h, func(name []byte) error {
		switch string(name) {
		case "path":
			return str(d, &h.Path)
		case "port":
			return d.intOrString(&h.Port)
		case "scheme":
			return str(d, &h.Scheme)
		}
		return d.rest(h, httpGetFields, name)
	})
}
