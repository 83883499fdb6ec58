package framework

import (
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/internal/podtest"
)

// defaultPath is what container runtimes set when the image and the spec set no PATH.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// errUnsupported marks pod features the runner cannot play, so a test fails loudly
// instead of running something other than what the apiserver stored.
var errUnsupported = errors.New("not supported by the pod runner")

// containerEnv resolves a container's environment as the kubelet would: envFrom entries
// first (in order, later ones winning), then env in spec order (later duplicates win,
// $(VAR) expands against earlier entries, envFrom's included), and PATH only if neither
// sets one. It returns the list for exec and a lookup for expanding command and args.
func containerEnv(pod *corev1.Pod, c *corev1.Container, sources envSources) ([]string, map[string]string, error) {
	values := map[string]string{}
	var order []string
	set := func(name, value string) {
		if _, seen := values[name]; !seen {
			order = append(order, name)
		}
		values[name] = value
	}
	for _, from := range c.EnvFrom {
		vars, err := sources.fromEnvFrom(from)
		if err != nil {
			return nil, nil, fmt.Errorf("container %s: envFrom: %w", c.Name, err)
		}
		for _, kv := range vars {
			set(kv[0], kv[1])
		}
	}
	lookup := func(name string) (string, bool) { v, ok := values[name]; return v, ok }
	for _, e := range c.Env {
		v, ok := podtest.Expand(e.Value, lookup), true
		if e.ValueFrom != nil {
			var err error
			if v, ok, err = valueFrom(pod, e.ValueFrom, sources); err != nil {
				return nil, nil, fmt.Errorf("container %s: env %s: %w", c.Name, e.Name, err)
			}
		}
		if ok {
			set(e.Name, v)
		}
	}
	env := make([]string, 0, len(order)+1)
	for _, name := range order {
		env = append(env, name+"="+values[name])
	}
	if !slices.Contains(order, "PATH") {
		env = append(env, defaultPath)
	}
	return env, values, nil
}

// valueFrom resolves an env valueFrom: a Secret or ConfigMap key (ok is false when an
// optional one is missing), or a downward-API field.
func valueFrom(pod *corev1.Pod, src *corev1.EnvVarSource, sources envSources) (value string, ok bool, err error) {
	if src.SecretKeyRef != nil || src.ConfigMapKeyRef != nil {
		return sources.keyValue(src)
	}
	value, err = fieldValue(pod, src)
	return value, err == nil, err
}

// fieldValue resolves the downward-API fields a pod can know before it is scheduled.
func fieldValue(pod *corev1.Pod, src *corev1.EnvVarSource) (string, error) {
	if src.FieldRef == nil {
		return "", fmt.Errorf("valueFrom other than fieldRef, secretKeyRef or configMapKeyRef: %w", errUnsupported)
	}
	switch src.FieldRef.FieldPath {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	default:
		return "", fmt.Errorf("fieldRef %s: %w", src.FieldRef.FieldPath, errUnsupported)
	}
}

// containerArgv is the process a container starts: command ++ args, expanded against its
// env. There is no image, so there is no ENTRYPOINT to fall back on.
func containerArgv(c *corev1.Container, env map[string]string) ([]string, error) {
	if len(c.Command) == 0 {
		return nil, fmt.Errorf("container %s: no command (image entrypoints): %w", c.Name, errUnsupported)
	}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	argv := make([]string, 0, len(c.Command)+len(c.Args))
	for _, a := range slices.Concat(c.Command, c.Args) {
		argv = append(argv, podtest.Expand(a, lookup))
	}
	return argv, nil
}
