//go:build e2e

package e2e

import (
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// More of envexec's exit codes (docs/envexec.md): a malformed or foreign ENVEXEC_*
// setting, and an application that cannot be executed.
const (
	exitSettings = 3
	exitExec     = 7
)

// The injector's own parts, as a tenant would imitate them (injector/injector.go).
const (
	ourInit        = "vault-injector-init"
	ourBinVolume   = "vault-injector-bin"
	ourTokenVolume = "vault-injector-token"
	ourEnvexec     = "/vault-injector/envexec"
	ourTokenDir    = "/var/run/secrets/vault-injector"
)

// A tenant that controls its pod spec, its ConfigMaps and Secrets tries each way around
// the hardening. Every spec asserts what the tenant sees: a denial at admission that
// names the pod, container and variable, or envexec refusing to start with its exit code
// and message; and, through the leak AfterEach, that its canary is nowhere.
var _ = Describe("a hostile tenant", Label("node", "hostile"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx, nil)
	})

	// podRef is how the webhook names one of the spec's pods in its messages.
	podRef := func(name string) string { return `pod "` + f.Namespace + "/" + name + `"` }

	It("is denied a reference whose path has . or .. segments, in a value or inline", func(ctx SpecContext) {
		pod := appPod(f, "dots", "vault:secret/data/"+f.Namespace+"/../../other#k", nil)
		pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env,
			corev1.EnvVar{Name: "DSN", Value: "db://u:${vault:secret/data/" + f.Namespace + "/../other#k}@db"})

		msg := denied(ctx, pod)
		for _, variable := range []string{"DB_PASSWORD", "DSN"} {
			Expect(msg).To(MatchRegexp(`%s: container "app": env "%s": [^\n]*path must not contain "\." or "\.\." segments`,
				regexp.QuoteMeta(podRef("dots")), variable))
		}
	}, SpecTimeout(2*time.Minute))

	It("is denied an envFrom prefix under ENVEXEC_", func(ctx SpecContext) {
		createConfigMap(ctx, nodeCluster, f, "settings", map[string]string{"TLS_SKIP_VERIFY": "true"})
		pod := appPod(f, "prefixed", f.Ref("db", "password"), nil)
		pod.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{configMapEnv("settings", "ENVEXEC_")}

		Expect(denied(ctx, pod)).To(ContainSubstring(podRef("prefixed") +
			`: container "app": envFrom prefix ENVEXEC_ is reserved: the ENVEXEC_ prefix names the injector's own settings`))
	}, SpecTimeout(2*time.Minute))

	It("is denied imitations of the injector's parts: envexec as a command, its token and binary volumes, reading its files, its init container", func(ctx SpecContext) {
		for _, spoof := range []struct {
			name  string
			edit  func(*corev1.Pod)
			wants []string
		}{
			{"runs-envexec", func(p *corev1.Pod) {
				p.Spec.Containers = append(p.Spec.Containers, sidecar("thief", ourEnvexec, "--", "/bin/cat", ourTokenDir+"/token"))
			}, []string{`container "thief": its command runs /vault-injector/envexec; only the webhook may add that`}},
			{"mounts-token", func(p *corev1.Pod) {
				p.Spec.Volumes = append(p.Spec.Volumes, tokenVolume(ourTokenVolume))
				thief := sidecar("thief", "/bin/sleep", "600")
				thief.VolumeMounts = []corev1.VolumeMount{{Name: ourTokenVolume, MountPath: "/stolen"}}
				p.Spec.Containers = append(p.Spec.Containers, thief)
			}, []string{
				`volume name vault-injector-token is reserved for the injector; rename the volume`,
				`container "thief": it mounts the injector's volume vault-injector-token; only the webhook may add that`,
			}},
			{"reads-files", func(p *corev1.Pod) {
				if p.Annotations == nil {
					p.Annotations = map[string]string{}
				}
				p.Annotations["vault-injector.io/file.env"] = `{"container":"app","path":"db.env","content":"P=${` + f.Ref("db", "password") + `}\n"}`
				thief := sidecar("thief", "/bin/sleep", "600")
				thief.Env = []corev1.EnvVar{{Name: "STOLEN", ValueFrom: &corev1.EnvVarSource{FileKeyRef: &corev1.FileKeySelector{
					VolumeName: "vault-injector-files-0", Path: "db.env", Key: "P",
				}}}}
				p.Spec.Containers = append(p.Spec.Containers, thief)
			}, []string{`container "thief": its variable STOLEN reads a file of the injector's volume vault-injector-files-0 (fileKeyRef); only the webhook may add that`}},
			{"own-init", func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{sidecar(ourInit, "/bin/cp", "/tmp/evil", "/vault-injector/envexec")}
			}, []string{`container "vault-injector-init": the init container name vault-injector-init is reserved for the injector; rename the container`}},
			{"planted-bin", func(p *corev1.Pod) {
				p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{
					Name:         ourBinVolume,
					VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/evil"}},
				})
			}, []string{`volume name vault-injector-bin is reserved for the injector; rename the volume`}},
		} {
			By("submitting a pod that " + spoof.name)
			pod := appPod(f, spoof.name, f.Ref("db", "password"), nil)
			spoof.edit(pod)
			msg := denied(ctx, pod)
			for _, want := range spoof.wants {
				Expect(msg).To(ContainSubstring(podRef(spoof.name)+": "+want), "pod %s", spoof.name)
			}
		}
	}, SpecTimeout(2*time.Minute))

	It("is denied auth-path written with its auth/ prefix at admission, no longer refused only by envexec", func(ctx SpecContext) {
		msg := denied(ctx, appPod(f, "auth-prefix", f.Ref("db", "password"), map[string]string{"vault-injector.io/auth-path": "auth/kubernetes"}))
		Expect(msg).To(ContainSubstring(podRef("auth-prefix")))
		Expect(msg).To(ContainSubstring("vault-injector.io/auth-path"))
		Expect(msg).To(ContainSubstring(`"auth/kubernetes": give the mount path without "auth/"`))
	}, SpecTimeout(2*time.Minute))
})

// denied submits the pod to the node's cluster; see deniedBy.
func denied(ctx SpecContext, pod *corev1.Pod) string {
	GinkgoHelper()
	return deniedBy(ctx, nodeCluster, pod)
}

// deniedBy submits the pod to c, expects the webhook to deny it (403, not an error) and
// the pod not to be stored, and returns the message as the user sees it.
func deniedBy(ctx SpecContext, c *framework.Cluster, pod *corev1.Pod) string {
	GinkgoHelper()
	err := c.Client.Create(ctx, pod.DeepCopy())
	Expect(err).To(HaveOccurred(), "pod %s must be denied", pod.Name)
	Expect(apierrors.IsForbidden(err)).To(BeTrue(), "a denial, not a failure: %v", err)
	Expect(err.Error()).To(ContainSubstring(`admission webhook "pods.vault-injector.io" denied the request: `))
	getErr := c.Client.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{})
	Expect(apierrors.IsNotFound(getErr)).To(BeTrue(), "pod %s must not be stored: %v", pod.Name, getErr)
	return err.Error()
}

// expectNotInjected checks the webhook left a stored pod as sent: no init container,
// commands and mounts of its own, no envexec setting, no status annotation.
func expectNotInjected(stored *corev1.Pod) {
	GinkgoHelper()
	Expect(stored.Annotations).NotTo(HaveKey("vault-injector.io/status"))
	Expect(stored.Spec.InitContainers).To(BeEmpty())
	for _, v := range stored.Spec.Volumes {
		Expect(v.Name).NotTo(HavePrefix("vault-injector-"))
	}
	for _, c := range stored.Spec.Containers {
		Expect(c.Command).NotTo(ContainElement(ourEnvexec))
		Expect(c.Env).NotTo(ContainElement(HaveField("Name", HavePrefix("ENVEXEC_"))))
	}
}

// sidecar is a container of the tenant's running argv, with no reference.
func sidecar(name string, argv ...string) corev1.Container {
	return corev1.Container{Name: name, Image: "example.com/sidecar:1.0", Command: argv}
}

// tokenVolume projects a ServiceAccount token for Vault's audience under name.
func tokenVolume(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
			Audience: framework.TokenAudience, Path: "token",
		}}},
	}}}
}

// projectedAudiences maps each volume projecting ServiceAccount tokens to their audiences.
func projectedAudiences(pod *corev1.Pod) map[string][]string {
	out := map[string][]string{}
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil {
				out[v.Name] = append(out[v.Name], s.ServiceAccountToken.Audience)
			}
		}
	}
	return out
}

// tokenMounters names the containers, init containers first, that mount envexec's token
// volume or anything at its folder.
func tokenMounters(pod *corev1.Pod) []string {
	var names []string
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, m := range c.VolumeMounts {
			if m.Name == ourTokenVolume || strings.HasPrefix(m.MountPath, ourTokenDir) {
				names = append(names, c.Name)
				break
			}
		}
	}
	return names
}

// createConfigMap makes a ConfigMap of the tenant's in its namespace on c.
func createConfigMap(ctx SpecContext, c *framework.Cluster, f *fixture, name string, data map[string]string) {
	GinkgoHelper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: f.Namespace, Name: name}, Data: data}
	Expect(c.Client.Create(ctx, cm)).To(Succeed())
}

// createSecret makes a Secret of the tenant's in its namespace on c.
func createSecret(ctx SpecContext, c *framework.Cluster, f *fixture, name string, data map[string]string) {
	GinkgoHelper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.Namespace, Name: name}, StringData: data}
	Expect(c.Client.Create(ctx, s)).To(Succeed())
}

func configMapEnv(name, prefix string) corev1.EnvFromSource {
	return corev1.EnvFromSource{Prefix: prefix, ConfigMapRef: &corev1.ConfigMapEnvSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: name},
	}}
}

// countingListener is a TCP server on host, owned by the spec, that only counts the
// connections it accepts: an address a hostile setting could point envexec at.
func countingListener(ctx SpecContext, host string) (addr string, accepted func() int32) {
	GinkgoHelper()
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", net.JoinHostPort(host, "0"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(l.Close)
	var n atomic.Int32
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return // closed at the end of the spec
			}
			n.Add(1)
			_ = conn.Close() // nothing is read or answered
		}
	}()
	return l.Addr().String(), n.Load
}

// initTraces counts, per package, the GODEBUG=inittrace=1 lines in a Go program's stderr.
func initTraces(stderr []byte) map[string]int {
	counts := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^init (\S+) @`).FindAllSubmatch(stderr, -1) {
		counts[string(m[1])]++
	}
	return counts
}
