package framework

import (
	"context"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// envSources holds the Secrets and ConfigMaps a pod's containers take variables from
// (env valueFrom and envFrom), read once as the kubelet reads them before it starts a
// container: kind, then name, then key to value. An object that does not exist is
// absent.
type envSources map[string]map[string]map[string]string

const (
	kindSecret    = "Secret"
	kindConfigMap = "ConfigMap"
)

// readEnvSources reads every Secret and ConfigMap the pod's containers name.
func readEnvSources(ctx context.Context, c *Cluster, pod *corev1.Pod) (envSources, error) {
	s := envSources{kindSecret: {}, kindConfigMap: {}}
	for _, ctr := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, from := range ctr.EnvFrom {
			if err := s.read(ctx, c, pod.Namespace, from.SecretRef, from.ConfigMapRef); err != nil {
				return nil, err
			}
		}
		for _, e := range ctr.Env {
			if e.ValueFrom == nil {
				continue
			}
			var secret *corev1.SecretEnvSource
			var configMap *corev1.ConfigMapEnvSource
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				secret = &corev1.SecretEnvSource{LocalObjectReference: r.LocalObjectReference}
			}
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				configMap = &corev1.ConfigMapEnvSource{LocalObjectReference: r.LocalObjectReference}
			}
			if err := s.read(ctx, c, pod.Namespace, secret, configMap); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func (s envSources) read(ctx context.Context, c *Cluster, namespace string, secret *corev1.SecretEnvSource, configMap *corev1.ConfigMapEnvSource) error {
	key := client.ObjectKey{Namespace: namespace}
	switch {
	case secret != nil:
		key.Name = secret.Name
		if _, done := s[kindSecret][key.Name]; done {
			return nil
		}
		var obj corev1.Secret
		if err := c.Client.Get(ctx, key, &obj); err != nil {
			return ignoreNotFound(err, kindSecret, key)
		}
		data := make(map[string]string, len(obj.Data))
		for k, v := range obj.Data {
			data[k] = string(v)
		}
		s[kindSecret][key.Name] = data
	case configMap != nil:
		key.Name = configMap.Name
		if _, done := s[kindConfigMap][key.Name]; done {
			return nil
		}
		var obj corev1.ConfigMap
		if err := c.Client.Get(ctx, key, &obj); err != nil {
			return ignoreNotFound(err, kindConfigMap, key)
		}
		s[kindConfigMap][key.Name] = obj.Data
	}
	return nil
}

// ignoreNotFound lets a missing object through: whether that is an error depends on
// the reference's optional flag, which containerEnv applies.
func ignoreNotFound(err error, kind string, key client.ObjectKey) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return fmt.Errorf("read %s %s for env: %w", kind, key, err)
}

// object returns the data of one Secret or ConfigMap; a missing one is an error unless
// optional, as the kubelet refuses to start the container then.
func (s envSources) object(kind, name string, optional *bool) (map[string]string, error) {
	data, ok := s[kind][name]
	if !ok && (optional == nil || !*optional) {
		return nil, fmt.Errorf("%s %q not found (the kubelet would not start the container)", kind, name)
	}
	return data, nil
}

// fromEnvFrom returns the variables of one envFrom entry as the kubelet makes them: each
// key with the prefix, in sorted order, skipping names that are not valid variable
// names (the kubelet records an event and leaves them out).
func (s envSources) fromEnvFrom(from corev1.EnvFromSource) ([][2]string, error) {
	var data map[string]string
	var err error
	switch {
	case from.SecretRef != nil:
		data, err = s.object(kindSecret, from.SecretRef.Name, from.SecretRef.Optional)
	case from.ConfigMapRef != nil:
		data, err = s.object(kindConfigMap, from.ConfigMapRef.Name, from.ConfigMapRef.Optional)
	default:
		return nil, fmt.Errorf("envFrom without secretRef or configMapRef: %w", errUnsupported)
	}
	if err != nil {
		return nil, err
	}
	vars := make([][2]string, 0, len(data))
	for _, k := range slices.Sorted(maps.Keys(data)) {
		if name := from.Prefix + k; len(validation.IsEnvVarName(name)) == 0 {
			vars = append(vars, [2]string{name, data[k]})
		}
	}
	return vars, nil
}

// keyValue resolves a secretKeyRef or configMapKeyRef; ok is false when an optional
// source or key is missing, and the variable is then left out.
func (s envSources) keyValue(src *corev1.EnvVarSource) (value string, ok bool, err error) {
	kind, name, key, optional := kindSecret, "", "", (*bool)(nil)
	if r := src.SecretKeyRef; r != nil {
		name, key, optional = r.Name, r.Key, r.Optional
	} else {
		r := src.ConfigMapKeyRef
		kind, name, key, optional = kindConfigMap, r.Name, r.Key, r.Optional
	}
	data, err := s.object(kind, name, optional)
	if err != nil {
		return "", false, err
	}
	value, ok = data[key]
	if !ok && (optional == nil || !*optional) {
		return "", false, fmt.Errorf("%s %q has no key %q (the kubelet would not start the container)", kind, name, key)
	}
	return value, ok, nil
}
