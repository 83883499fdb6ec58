// Package podtest builds pods for tests and benchmarks from functional options, so fixtures
// stay a few lines long and the benchmark shapes (typical, large, no references) are
// defined once and shared by the injector, the webhook and the load harness.
package podtest

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Option changes a pod being built; options apply in order.
type Option func(*corev1.Pod)

// ContainerOption changes a container being built; options apply in order.
type ContainerOption func(*corev1.Container)

// New returns a pod named name in namespace "default" with the options applied.
func New(name string, opts ...Option) *corev1.Pod {
	p := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// WithNamespace puts the pod in ns.
func WithNamespace(ns string) Option {
	return func(p *corev1.Pod) { p.Namespace = ns }
}

// WithServiceAccount sets the service account, which is also the default Vault role.
func WithServiceAccount(sa string) Option {
	return func(p *corev1.Pod) { p.Spec.ServiceAccountName = sa }
}

// WithAnnotations adds annotations, keeping those already set.
func WithAnnotations(kv map[string]string) Option {
	return func(p *corev1.Pod) {
		if p.Annotations == nil {
			p.Annotations = make(map[string]string, len(kv))
		}
		for k, v := range kv {
			p.Annotations[k] = v
		}
	}
}

// WithLabels adds labels, keeping those already set.
func WithLabels(kv map[string]string) Option {
	return func(p *corev1.Pod) {
		if p.Labels == nil {
			p.Labels = make(map[string]string, len(kv))
		}
		for k, v := range kv {
			p.Labels[k] = v
		}
	}
}

// WithInitContainers appends init containers.
func WithInitContainers(cs ...corev1.Container) Option {
	return func(p *corev1.Pod) { p.Spec.InitContainers = append(p.Spec.InitContainers, cs...) }
}

// WithContainers appends containers.
func WithContainers(cs ...corev1.Container) Option {
	return func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, cs...) }
}

// WithoutReferences replaces every reference in the pod's env with a plain value of the
// same length: the no-reference fast path on a pod of the same size.
func WithoutReferences() Option {
	return func(p *corev1.Pod) {
		for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
			for i := range cs {
				for j := range cs[i].Env {
					if v := cs[i].Env[j].Value; strings.HasPrefix(v, refPrefix) {
						cs[i].Env[j].Value = "plain" + v[len(refPrefix)-1:]
					}
				}
			}
		}
	}
}

// WithoutCommands clears every container's command, so the injector needs the images'
// entrypoints: the registry lookup path.
func WithoutCommands() Option {
	return func(p *corev1.Pod) {
		for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
			for i := range cs {
				cs[i].Command = nil
			}
		}
	}
}

// WithImage sets the image of every container, so one registry entry serves them all.
func WithImage(image string) Option {
	return func(p *corev1.Pod) {
		for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
			for i := range cs {
				cs[i].Image = image
			}
		}
	}
}

// Container returns a container running image with the options applied.
func Container(name, image string, opts ...ContainerOption) corev1.Container {
	c := corev1.Container{Name: name, Image: image}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithCommand sets the command, so no image lookup is needed.
func WithCommand(cmd ...string) ContainerOption {
	return func(c *corev1.Container) { c.Command = cmd }
}

// WithArgs sets the arguments.
func WithArgs(args ...string) ContainerOption {
	return func(c *corev1.Container) { c.Args = args }
}

// WithEnv appends variables.
func WithEnv(vars ...corev1.EnvVar) ContainerOption {
	return func(c *corev1.Container) { c.Env = append(c.Env, vars...) }
}

// WithVars appends n variables named PREFIX_VAR_i, every refEvery-th of them (from the
// first) a reference to one of paths secrets, the others plain: sizes of any shape
// without writing them out. refEvery 0 means no references.
func WithVars(prefix string, n, refEvery, paths int) ContainerOption {
	return func(c *corev1.Container) {
		for i := range n {
			name := fmt.Sprintf("%s_VAR_%d", prefix, i)
			value := fmt.Sprintf("value-%d-of-%s", i, strings.ToLower(prefix))
			if refEvery > 0 && i%refEvery == 0 {
				value = Ref(fmt.Sprintf("secret/data/%s/path%d", strings.ToLower(prefix), i%max(paths, 1)), fmt.Sprintf("key%d", i))
			}
			c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
		}
	}
}

// Env is a plain variable.
func Env(name, value string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, Value: value}
}

// refPrefix starts every reference this package writes.
const refPrefix = "vault:"

// Ref is a reference to key of the KV secret at path.
func Ref(path, key string) string {
	return refPrefix + path + "#" + key
}

// Counts returns the pod's number of env variables and how many of them are references,
// so tests can check a shape is what its doc comment says.
func Counts(p *corev1.Pod) (vars, refs int) {
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			for _, e := range c.Env {
				vars++
				if strings.HasPrefix(e.Value, refPrefix) {
					refs++
				}
			}
		}
	}
	return vars, refs
}
