package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ServiceAccountDir is where the kubelet mounts a pod's ServiceAccount token, and where
// envexec reads it.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// makeVolumes creates one host directory per volume: emptyDir (mode 0777, as the kubelet
// does), projected ServiceAccount tokens, or a Secret of the pod's namespace (read with
// the runner's rights, as the kubelet reads it). Every other volume type is refused.
func makeVolumes(ctx context.Context, c *Cluster, pod *corev1.Pod, podDir string) (map[string]string, error) {
	dirs := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		dir := filepath.Join(podDir, "volumes", v.Name)
		switch {
		case v.EmptyDir != nil:
			if err := makeEmptyDir(dir, v.EmptyDir); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
		case v.Projected != nil:
			if err := project(ctx, c, pod, v.Projected, dir); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
		case v.Secret != nil:
			if err := writeSecretVolume(ctx, c, pod.Namespace, v.Secret, dir); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
		default:
			return nil, fmt.Errorf("volume %s: %w (only emptyDir and projected tokens are)", v.Name, errUnsupported)
		}
		dirs[v.Name] = dir
	}
	return dirs, nil
}

// makeEmptyDir makes an emptyDir; medium Memory is a tmpfs of the volume's size limit,
// as the kubelet mounts it, so what a container writes there never reaches the disk.
func makeEmptyDir(dir string, v *corev1.EmptyDirVolumeSource) error {
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // containers may run as any user
		return err
	}
	if v.Medium == corev1.StorageMediumMemory {
		opts := "mode=0777"
		if v.SizeLimit != nil {
			opts += ",size=" + strconv.FormatInt(v.SizeLimit.Value(), 10)
		}
		if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
			return fmt.Errorf("mount tmpfs: %w", err)
		}
	}
	return os.Chmod(dir, 0o777) //nolint:gosec // emptyDir semantics
}

// unmountMemoryVolumes detaches the tmpfs of every medium Memory emptyDir of the pod.
func unmountMemoryVolumes(pod *corev1.Pod, podDir string) error {
	var errs []error
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory {
			continue
		}
		err := syscall.Unmount(filepath.Join(podDir, "volumes", v.Name), syscall.MNT_DETACH)
		if err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount volume %s: %w", v.Name, err))
		}
	}
	return errors.Join(errs...)
}

// IsMemoryBacked tells whether dir lies on a tmpfs (memory, not the node's disk).
func IsMemoryBacked(dir string) (bool, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false, err
	}
	const tmpfsMagic = 0x01021994
	return st.Type == tmpfsMagic, nil
}

// project writes the sources of a projected volume: serviceAccountToken sources requested
// as the kubelet does (bound to the pod, audience and lifetime from the source), secret
// sources as Secret volumes, where an optional source skips a missing Secret or key as
// the kubelet does.
func project(ctx context.Context, c *Cluster, pod *corev1.Pod, p *corev1.ProjectedVolumeSource, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // readable by non-root containers
		return err
	}
	mode := os.FileMode(0o644)
	if p.DefaultMode != nil {
		mode = os.FileMode(*p.DefaultMode & 0o777) // the apiserver allows 0..0777 only
	}
	for _, src := range p.Sources {
		if s := src.Secret; s != nil {
			sv := &corev1.SecretVolumeSource{SecretName: s.Name, Items: s.Items, DefaultMode: p.DefaultMode, Optional: s.Optional}
			if err := writeSecretVolume(ctx, c, pod.Namespace, sv, dir); err != nil {
				return err
			}
			continue
		}
		t := src.ServiceAccountToken
		if t == nil {
			return fmt.Errorf("projected source other than serviceAccountToken and secret: %w", errUnsupported)
		}
		expiration := int64(3600)
		if t.ExpirationSeconds != nil {
			expiration = *t.ExpirationSeconds
		}
		token, err := c.PodToken(ctx, pod, t.Audience, expiration)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, t.Path), []byte(token), mode); err != nil {
			return err
		}
	}
	return nil
}

// writeSecretVolume writes the keys of a Secret volume (only its items when it lists
// them) with its default mode. A missing Secret or key fails, where the kubelet would
// keep the pod waiting, unless the volume is optional: then they are skipped.
func writeSecretVolume(ctx context.Context, c *Cluster, namespace string, src *corev1.SecretVolumeSource, dir string) error {
	optional := src.Optional != nil && *src.Optional
	secret, err := readSecret(ctx, c, namespace, src.SecretName, optional)
	if err != nil {
		return err
	}
	items := src.Items
	if len(items) == 0 {
		for key := range secret.Data {
			items = append(items, corev1.KeyToPath{Key: key, Path: key})
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // readable by non-root containers, as the kubelet's
		return err
	}
	mode := os.FileMode(0o644)
	if src.DefaultMode != nil {
		mode = os.FileMode(*src.DefaultMode & 0o777)
	}
	for _, item := range items {
		data, ok := secret.Data[item.Key]
		if !ok && optional {
			continue
		}
		if !ok {
			return fmt.Errorf("secret %s/%s has no key %s", namespace, src.SecretName, item.Key)
		}
		if item.Mode != nil || strings.Contains(item.Path, "/") {
			return fmt.Errorf("secret %s/%s: item modes and nested paths: %w", namespace, src.SecretName, errUnsupported)
		}
		if err := os.WriteFile(filepath.Join(dir, item.Path), data, mode); err != nil {
			return err
		}
	}
	return nil
}

// readSecret reads a Secret of a volume; an optional volume's missing Secret is empty.
func readSecret(ctx context.Context, c *Cluster, namespace, name string, optional bool) (*corev1.Secret, error) {
	var secret corev1.Secret
	err := c.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &secret)
	if err != nil && (!optional || !apierrors.IsNotFound(err)) {
		return nil, fmt.Errorf("get secret %s/%s: %w", namespace, name, err)
	}
	return &secret, nil
}

// containerMounts turns a container's volumeMounts into bind mounts, adds the token
// unless the container mounts something there itself, and creates missing mount points
// on the host (empty directories only: the host's root filesystem is the image).
func containerMounts(c *corev1.Container, volumes map[string]string, tokenDir string) ([]mount, error) {
	var mounts []mount
	hasToken := false
	for _, vm := range c.VolumeMounts {
		src, ok := volumes[vm.Name]
		if !ok {
			return nil, fmt.Errorf("container %s: mount of unknown volume %s", c.Name, vm.Name)
		}
		if vm.SubPath != "" || vm.SubPathExpr != "" {
			return nil, fmt.Errorf("container %s: volume %s: subPath: %w", c.Name, vm.Name, errUnsupported)
		}
		mounts = append(mounts, mount{src: src, dst: vm.MountPath, readOnly: vm.ReadOnly})
		hasToken = hasToken || filepath.Clean(vm.MountPath) == ServiceAccountDir
	}
	if tokenDir != "" && !hasToken {
		mounts = append(mounts, mount{src: tokenDir, dst: ServiceAccountDir, readOnly: true})
	}
	for _, m := range mounts {
		if err := os.MkdirAll(m.dst, 0o755); err != nil { //nolint:gosec // a directory of the "image"
			return nil, fmt.Errorf("container %s: mount point %s: %w", c.Name, m.dst, err)
		}
	}
	return mounts, nil
}

// writeTokenDir writes what the kubelet's projected token volume holds (token, ca.crt,
// namespace), or returns "" if the pod or its ServiceAccount opts out of automounting.
func writeTokenDir(ctx context.Context, c *Cluster, pod *corev1.Pod, podDir string) (string, error) {
	mount, err := automountToken(ctx, c, pod)
	if err != nil || !mount {
		return "", err
	}
	token, err := c.PodToken(ctx, pod, "", 3600)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(podDir, "serviceaccount")
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // readable by non-root containers, as the kubelet's
		return "", fmt.Errorf("token folder: %w", err)
	}
	files := map[string][]byte{"token": []byte(token), "ca.crt": c.Endpoint.CAData, "namespace": []byte(pod.Namespace)}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil { //nolint:gosec // as the kubelet's default mode
			return "", fmt.Errorf("token folder: %w", err)
		}
	}
	return dir, nil
}

// automountToken applies the pod's, then the ServiceAccount's automount setting, which
// the ServiceAccount admission plugin would otherwise have resolved.
func automountToken(ctx context.Context, c *Cluster, pod *corev1.Pod) (bool, error) {
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken, nil
	}
	var sa corev1.ServiceAccount
	key := client.ObjectKey{Namespace: pod.Namespace, Name: serviceAccountName(pod)}
	if err := c.Client.Get(ctx, key, &sa); err != nil {
		return false, fmt.Errorf("get serviceaccount %s: %w", key, err)
	}
	return sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken, nil
}
