//go:build e2e

package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/vault-injector/vault-injector/e2e/framework"
	"github.com/vault-injector/vault-injector/injector"
)

// filesDir is where the specs' pods ask for their files.
const filesDir = "/etc/files-e2e"

// fileAnnotation is a file.NAME annotation for container "app", as a developer writes it.
func fileAnnotation(path, mode, content string) string {
	b, err := json.Marshal(map[string]string{"container": "app", "path": path, "mode": mode, "content": content})
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

// readyScript waits for the spec to look: the files are written before it runs.
const readyScript = `printf ready > /out/secret
sleep 600 & wait`

// These run on the real node: the kubelet makes the in-memory volume, and envexec writes
// the files into it before the application starts.
var _ = Describe("a pod that asks for files", Label("node", "vault"), func() {
	It("gets a PEM certificate and key from one pki issue in two files and a config with inline references, in memory, in its container alone", func(ctx SpecContext) {
		f := newFixture(ctx, nil)
		role, err := f.AddPKIRole(ctx)
		Expect(err).NotTo(HaveOccurred())
		issue := ">>vault:pki/issue/" + role + "#%s#" + `{"common_name":"web.` + f.Namespace + `.svc","ttl":"10m"}`
		config := "[db]\nuser = app\npassword = ${" + f.Ref("db", "password") + "}\nprice = $5 $(HOME)\n"
		pod := f.nodePod("files")
		pod.Annotations = map[string]string{
			"vault-injector.io/files-dir":    filesDir,
			"vault-injector.io/file.tls-crt": fileAnnotation("tls/tls.crt", "0440", strings.Replace(issue, "%s", "certificate", 1)),
			"vault-injector.io/file.tls-key": fileAnnotation("tls/tls.key", "", strings.Replace(issue, "%s", "private_key", 1)),
			"vault-injector.io/file.config":  fileAnnotation(filesDir+"/app.ini", "", config),
		}
		c := &pod.Spec.Containers[0]
		c.Command, c.Env = []string{"/testapp", "wait"}, nil
		c.SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](1000)}
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{
			Name: "sidecar", Image: env.Node.Images.App, Command: []string{"/testapp", "wait"},
		})
		stored := f.createOnNode(ctx, pod)

		By("checking the webhook mounted an in-memory volume into the app container alone")
		Expect(stored.Spec.Volumes).To(ContainElement(HaveField("Name", injector.FilesVolumePrefix+"0")))
		Expect(stored.Spec.Containers[0].VolumeMounts).To(ContainElement(corev1.VolumeMount{Name: injector.FilesVolumePrefix + "0", MountPath: filesDir}))
		Expect(stored.Spec.Containers[1].VolumeMounts).NotTo(ContainElement(HaveField("Name", HavePrefix("vault-injector-"))),
			"the sidecar has no reference and no file: not wrapped")
		Expect(stored.Spec.Containers[1].Command).To(Equal([]string{"/testapp", "wait"}))

		waitForApp(ctx, f.Namespace, "files", "app")
		waitForApp(ctx, f.Namespace, "files", "sidecar")

		By("reading the config file: its references resolved, its other text byte for byte")
		conf, err := execOut(ctx, f, "files", "app", "/testapp", "cat", filesDir+"/app.ini")
		Expect(err).NotTo(HaveOccurred())
		//nolint:ginkgolinter // Equal would print the canary on failure
		Expect(conf == "[db]\nuser = app\npassword = "+f.canary+"\nprice = $5 $(HOME)\n").To(BeTrue(), "app.ini is not the text with its reference resolved")

		By("checking the key belongs to the certificate: one pki issue for both files")
		certPEM, err := execOut(ctx, f, "files", "app", "/testapp", "cat", filesDir+"/tls/tls.crt")
		Expect(err).NotTo(HaveOccurred())
		keyPEM, err := execOut(ctx, f, "files", "app", "/testapp", "cat", filesDir+"/tls/tls.key")
		Expect(err).NotTo(HaveOccurred())
		Expect(keyBelongsToCert(certPEM, keyPEM)).To(BeTrue(), "the key file is not the certificate's")

		By("checking modes and owner: the container's user, 0400 unless the annotation says")
		stat, err := execOut(ctx, f, "files", "app", "/testapp", "stat", filesDir+"/tls/tls.crt", filesDir+"/tls/tls.key", filesDir+"/app.ini")
		Expect(err).NotTo(HaveOccurred())
		Expect(stat).To(Equal(filesDir + "/tls/tls.crt 440 1000\n" + filesDir + "/tls/tls.key 400 1000\n" + filesDir + "/app.ini 400 1000\n"))

		By("checking the volume is memory, not the node's disk, and the sidecar cannot read the files")
		mounts, err := execOut(ctx, f, "files", "app", "/testapp", "cat", "/proc/self/mounts")
		Expect(err).NotTo(HaveOccurred())
		Expect(mounts).To(MatchRegexp(`(?m)^\S+ `+regexp.QuoteMeta(filesDir)+` tmpfs `), "the files volume is a tmpfs")
		_, err = execOut(ctx, f, "files", "sidecar", "/testapp", "cat", filesDir+"/app.ini")
		Expect(err).To(MatchError(ContainSubstring("no such file or directory")), "the sidecar does not mount the files volume")

		By("checking no canary or key left the file: not in the stored pod, events, logs or another process")
		expectNoLeakOnNode(ctx, f, stored, []string{"app", "sidecar"}, strings.Split(keyPEM, "\n")[1])
	}, SpecTimeout(3*time.Minute))
})

var _ = Describe("a non-root pod with an fsGroup that asks for files", Label("node", "vault"), func() {
	It("gets them in a directory its group owns, setgid as the kubelet made it and sticky as envexec made it, so no other user can swap them", func(ctx SpecContext) {
		f := newFixture(ctx, nil)
		pod := f.nodePod("files-fsgroup")
		pod.Annotations = map[string]string{
			"vault-injector.io/files-dir":   filesDir,
			"vault-injector.io/file.config": fileAnnotation("app.ini", "0440", "password = ${"+f.Ref("db", "password")+"}\n"),
		}
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{
			RunAsUser: ptr.To[int64](1000), RunAsGroup: ptr.To[int64](1000), FSGroup: ptr.To[int64](2000),
		}
		c := &pod.Spec.Containers[0]
		c.Command, c.Env = []string{"/testapp", "wait"}, nil
		f.createOnNode(ctx, pod)
		waitForApp(ctx, f.Namespace, pod.Name, "app")

		// The kubelet makes an emptyDir 0777 and, with an fsGroup, setgid and owned by that
		// group; envexec adds the sticky bit, so a user other than the file's owner cannot
		// rename or delete it, and keeps setgid, so the files get the pod's group. The unit
		// test (envexec TestOtherUsersCannotReplaceFiles) swaps as another user; this checks
		// that the real kubelet's directory is what that test assumes.
		stat, err := execOut(ctx, f, pod.Name, "app", "/testapp", "statx", filesDir, filesDir+"/app.ini")
		Expect(err).NotTo(HaveOccurred())
		Expect(stat).To(Equal(filesDir + " 3777 0 2000\n" + filesDir + "/app.ini 0440 1000 2000\n"))
		conf, err := execOut(ctx, f, pod.Name, "app", "/testapp", "cat", filesDir+"/app.ini")
		Expect(err).NotTo(HaveOccurred())
		//nolint:ginkgolinter // Equal would print the canary on failure
		Expect(conf == "password = "+f.canary+"\n").To(BeTrue(), "app.ini does not hold the resolved reference")
	}, SpecTimeout(3*time.Minute))
})

var _ = Describe("a pod that asks for files in the wrong place", Label("node", "vault"), func() {
	var f *fixture

	BeforeEach(func(ctx SpecContext) {
		f = newFixture(ctx, nil)
	})

	It("is denied with the pod, container and annotation named when files-dir clashes with its own mount", func(ctx SpecContext) {
		pod := shellPod(f, "files-clash", readyScript, nil, map[string]string{
			"vault-injector.io/files-dir":   "/out/secrets",
			"vault-injector.io/file.config": fileAnnotation("app.ini", "", "password = ${"+f.Ref("db", "password")+"}"),
		})
		Expect(denied(ctx, pod)).To(ContainSubstring(`pod "` + f.Namespace + `/files-clash": container "app": files-dir /out/secrets clashes with its mount of volume out at /out`))
	}, SpecTimeout(time.Minute))
})

// keyBelongsToCert parses a PEM certificate and EC key, never quoting the key.
func keyBelongsToCert(certPEM, keyPEM string) bool {
	GinkgoHelper()
	cb, _ := pem.Decode([]byte(certPEM))
	kb, _ := pem.Decode([]byte(keyPEM))
	Expect(cb).NotTo(BeNil(), "certificate file is not PEM")
	Expect(kb).NotTo(BeNil(), "key file is not PEM (%d bytes)", len(keyPEM))
	cert, err := x509.ParseCertificate(cb.Bytes)
	Expect(err).NotTo(HaveOccurred())
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	Expect(err).NotTo(HaveOccurred(), "the key does not parse")
	return key.PublicKey.Equal(cert.PublicKey)
}

// docBlock is the first fenced block of a Markdown document whose info string is lang.
func docBlock(md, lang string) string {
	GinkgoHelper()
	_, rest, ok := strings.Cut(md, "\n```"+lang+"\n")
	Expect(ok).To(BeTrue(), "no ```%s block", lang)
	block, _, ok := strings.Cut(rest, "\n```\n")
	Expect(ok).To(BeTrue(), "unterminated ```%s block", lang)
	return block + "\n"
}

var _ = Describe("docs/files.md", Label("node", "vault", "docs"), func() {
	It("runs its worked example on the real node: the pod as written gets its certificate, key and config file", func(ctx SpecContext) {
		f := newFixture(ctx, nil)
		role, err := f.AddPKIRole(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(role).To(Equal(f.Namespace), "the doc's pki role is named after the namespace")
		md, err := os.ReadFile(filepath.Join("..", "docs", "files.md"))
		Expect(err).NotTo(HaveOccurred())

		By("taking the doc's pod, in the spec's namespace with its service account")
		text := strings.ReplaceAll(docBlock(string(md), "yaml"), "shop", f.Namespace)
		text = strings.Replace(text, "serviceAccountName: web", "serviceAccountName: "+f.ServiceAccount, 1)
		pod := &corev1.Pod{}
		Expect(yaml.UnmarshalStrict([]byte(text), pod)).To(Succeed())
		// The doc's web server is the test app, waiting; the node's taint is tolerated.
		c := &pod.Spec.Containers[0]
		c.Image, c.Command = env.Node.Images.App, []string{"/testapp", "wait"}
		pod.Spec.Tolerations = f.nodePod("web").Spec.Tolerations
		pod.Spec.RestartPolicy = corev1.RestartPolicyNever
		stored := f.createOnNode(ctx, pod)
		waitForApp(ctx, f.Namespace, "web", "web")

		By("checking each file against the doc's listing")
		listing := docBlock(string(md), "text")
		Expect(listing).To(ContainSubstring("/etc/web/app.ini      0440  [db]"))
		stat, err := execOut(ctx, f, "web", "web", "/testapp", "stat", "/etc/web/app.ini", "/etc/web/tls/tls.crt", "/etc/web/tls/tls.key")
		Expect(err).NotTo(HaveOccurred())
		Expect(stat).To(Equal("/etc/web/app.ini 440 0\n/etc/web/tls/tls.crt 400 0\n/etc/web/tls/tls.key 400 0\n"))
		conf, err := execOut(ctx, f, "web", "web", "/testapp", "cat", "/etc/web/app.ini")
		Expect(err).NotTo(HaveOccurred())
		//nolint:ginkgolinter // Equal would print the canary on failure
		Expect(conf == "[db]\nhost = postgres."+f.Namespace+".svc\npassword = "+f.canary+"\n").To(BeTrue(), "app.ini is not as the doc says")
		cert, err := execOut(ctx, f, "web", "web", "/testapp", "cat", "/etc/web/tls/tls.crt")
		Expect(err).NotTo(HaveOccurred())
		key, err := execOut(ctx, f, "web", "web", "/testapp", "cat", "/etc/web/tls/tls.key")
		Expect(err).NotTo(HaveOccurred())
		Expect(keyBelongsToCert(cert, key)).To(BeTrue())
		expectNoLeakOnNode(ctx, f, stored, []string{"web"}, strings.Split(key, "\n")[1])
	}, SpecTimeout(3*time.Minute))
})

var _ = Describe("a daemon-mode pod with a file", Label("node", "vault"), func() {
	It("gets a KV secret changed in Vault while it runs: the file is rewritten, then the signal it named arrives", func(ctx SpecContext) {
		f := newFixture(ctx, nil)
		pod := f.nodeEnvPod("rotate", nil, map[string]string{
			"vault-injector.io/files-dir":        filesDir,
			"vault-injector.io/file.config":      fileAnnotation("app.ini", "", "password = ${"+f.Ref("db", "password")+"}\n"),
			"vault-injector.io/daemon":           "true",
			"vault-injector.io/daemon-on-change": "signal",
			"vault-injector.io/daemon-signal":    "SIGHUP",
		})
		// The app records, at each SIGHUP, the SHA-256 of its config file, never the file.
		pod.Spec.Containers[0].Command = []string{"/testapp", "hup", filesDir + "/app.ini", "/out/hup"}
		stored := f.createOnNode(ctx, pod)
		Expect(stored.Spec.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: "ENVEXEC_DAEMON_WATCH_INTERVAL", Value: framework.E2EWatchInterval.String()}))
		waitForApp(ctx, f.Namespace, "rotate", "app")
		conf, err := execOut(ctx, f, "rotate", "app", "/testapp", "cat", filesDir+"/app.ini")
		Expect(err).NotTo(HaveOccurred())
		//nolint:ginkgolinter // Equal would print the canary on failure
		Expect(conf == "password = "+f.canary+"\n").To(BeTrue(), "the file before the change")

		By("changing the secret in Vault")
		fresh := "canary-" + rand.Text()
		Expect(f.PutSecret(ctx, "db", map[string]string{"password": fresh})).To(Succeed())

		By("waiting for the signal, which must find the new file")
		want := fmt.Sprintf("%x  %s/app.ini\n", sha256.Sum256([]byte("password = "+fresh+"\n")), filesDir)
		hup := func() (string, error) { return execOut(ctx, f, "rotate", "app", "/testapp", "cat", "/out/hup") }
		Eventually(ctx, hup).WithPolling(time.Second).Should(Equal(want), "the application's hash of the file at SIGHUP")
		log := appLog(ctx, f, "rotate")
		for _, msg := range []string{"secret changed", "files rewritten", "signaling application"} {
			Expect(log).To(ContainSubstring(`"msg":"` + msg + `"`))
		}
		Expect(appTerminated(ctx, stored)()).To(BeNil(), "the application keeps running")
		expectNoLeakOnNode(ctx, f, stored, []string{"app"}, fresh)
	}, SpecTimeout(3*time.Minute))
})
