package injector

import (
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"github.com/vault-injector/vault-injector/config"
	"github.com/vault-injector/vault-injector/envexec/settings"
)

// FilesVolumePrefix starts the name of each container's files volume, numbered in the
// order of config.Pod.FileContainers. Every name with it is reserved for the injector.
const FilesVolumePrefix = "vault-injector-files-"

// filesVolumeSize bounds a files volume (settings.FilesVolumeBytes, 10Mi).
var filesVolumeSize = *resource.NewQuantity(settings.FilesVolumeBytes, resource.BinarySI)

// forbiddenFilesDirs are where a files volume must never be mounted.
var forbiddenFilesDirs = [...]string{"/proc", "/sys", "/dev", saTokenPath}

// isReservedVolume tells whether a volume name belongs to the injector.
// ReadsVolume says whether Inject reads the source of the volume named name: only those
// named as its own, which it compares with what it writes. The webhook leaves the sources
// of the others unread (podjson.DecodeForAdmission).
func ReadsVolume(name string) bool { return isReservedVolume(name) }

func isReservedVolume(name string) bool {
	return slices.Contains(reservedVolumes[:], name) || strings.HasPrefix(name, FilesVolumePrefix)
}

// filesVolumes are the in-memory volumes of the containers that get files, one each: a
// file never reaches a node's disk, nor another container.
func filesVolumes(cfg config.Pod) []corev1.Volume {
	var vs []corev1.Volume
	for i := range cfg.FileContainers() {
		vs = append(vs, corev1.Volume{
			Name: FilesVolumePrefix + strconv.Itoa(i),
			VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
				Medium:    corev1.StorageMediumMemory,
				SizeLimit: ptr.To(filesVolumeSize.DeepCopy()),
			}},
		})
	}
	return vs
}

// filesMount mounts container's own files volume, writable (envexec writes there), at
// the files directory; none for a container without files.
func filesMount(cfg config.Pod, container string) []corev1.VolumeMount {
	i := slices.Index(cfg.FileContainers(), container)
	if i < 0 {
		return nil
	}
	return []corev1.VolumeMount{{Name: FilesVolumePrefix + strconv.Itoa(i), MountPath: cfg.Dir()}}
}

// filesEnv tells envexec which files to write, and where the volume is.
func filesEnv(container string, cfg config.Pod) []corev1.EnvVar {
	files := cfg.FilesOf(container)
	if len(files) == 0 {
		return nil
	}
	return []corev1.EnvVar{
		{Name: settings.EnvFilesDir, Value: cfg.Dir()},
		{Name: settings.EnvFiles, Value: settings.EncodeFiles(files)},
	}
}

// watchEnv hands a daemon-mode envexec the interval at which it checks whether its KV v2
// secrets changed: the platform's, or the pod's longer one. Only daemon mode stays to watch.
func watchEnv(cfg config.Pod) []corev1.EnvVar {
	if cfg.Envexec[settings.EnvDaemon] != "true" || cfg.WatchInterval <= 0 {
		return nil
	}
	return []corev1.EnvVar{{Name: settings.EnvDaemonWatch, Value: cfg.WatchInterval.String()}}
}

// filesPaths are the paths of container's files, for the report.
func filesPaths(cfg config.Pod, container string) []string {
	var out []string
	for _, f := range cfg.FilesOf(container) {
		out = append(out, f.Path)
	}
	return out
}

// fileProblems checks what the settings alone cannot: the named container exists, the
// files directory stays clear of the injector's paths and of the container's own mounts
// (a pod mount there would hide the files, or ours would hide the pod's data).
func fileProblems(pod *corev1.Pod, cfg config.Pod) []error {
	if len(cfg.Files) == 0 {
		return nil
	}
	var errs []error
	fail := func(container, reason string) {
		errs = append(errs, &FieldError{Pod: PodName(pod), Container: container, Reason: reason})
	}
	dir := cfg.Dir()
	for _, r := range slices.Concat(reservedDirs[:], forbiddenFilesDirs[:]) {
		if under(dir, r) || under(r, dir) {
			fail("", "files-dir "+dir+" overlaps "+r+", which files may not be mounted over or under; choose another directory")
		}
	}
	for _, name := range cfg.FileContainers() {
		c := containerNamed(pod, name)
		if c == nil {
			fail(name, "annotation "+firstAnnotation(cfg, name)+" names a container the pod does not have")
			continue
		}
		for _, m := range c.VolumeMounts {
			if isReservedVolume(m.Name) {
				continue // ours, on a second pass
			}
			if under(m.MountPath, dir) || under(dir, m.MountPath) {
				fail(name, "files-dir "+dir+" clashes with its mount of volume "+m.Name+" at "+m.MountPath+
					"; set "+config.AnnotationPrefix+"files-dir to a directory none of its mounts covers")
			}
		}
	}
	return errs
}

// containerNamed finds an app or init container (not ours) by name.
func containerNamed(pod *corev1.Pod, name string) *corev1.Container {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if cs[i].Name == name && name != InitContainerName {
				return &cs[i]
			}
		}
	}
	return nil
}

func firstAnnotation(cfg config.Pod, container string) string {
	for _, f := range cfg.Files {
		if f.Container == container {
			return f.Annotation
		}
	}
	return ""
}
