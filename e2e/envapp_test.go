//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/e2e/framework"
)

// envScript writes the environment the application received to /out/env, NUL-separated
// (values may hold newlines) and renamed into place so a reader never sees half of it,
// then keeps running for exec. It prints nothing of the environment.
const envScript = `env -0 > /out/env.tmp && mv /out/env.tmp /out/env; sleep 600`

// envFile is the file envScript writes, inside the "out" emptyDir.
const envFile = "env"

// envPod is one container "app" running envScript with env, and /out for its file.
func envPod(f *fixture, name string, vars []corev1.EnvVar, annotations map[string]string) *corev1.Pod {
	return shellPod(f, name, envScript, vars, annotations)
}

// envVars turns NAME, VALUE pairs into env entries, in order.
func envVars(pairs ...string) []corev1.EnvVar {
	env := make([]corev1.EnvVar, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		env = append(env, corev1.EnvVar{Name: pairs[i], Value: pairs[i+1]})
	}
	return env
}

// runEnvPod creates the pod, runs it and returns it with the environment its
// application received.
func (f *fixture) runEnvPod(ctx SpecContext, pod *corev1.Pod) (*framework.Pod, map[string]string) {
	GinkgoHelper()
	p := f.start(ctx, f.create(ctx, pod))
	var got map[string]string
	Eventually(ctx, func() error {
		var err error
		got, err = appEnv(p, "app")()
		return err
	}).WithPolling(50 * time.Millisecond).Should(Succeed())
	return p, got
}

// appEnv reads what envScript wrote; it stops the polling once the container exited,
// since then the file will never come.
func appEnv(p *framework.Pod, container string) func() (map[string]string, error) {
	return func() (map[string]string, error) {
		data, err := os.ReadFile(filepath.Join(p.VolumeDir("out"), envFile))
		if err != nil {
			if p.Exited(container) {
				_, stderr := p.Logs(container)
				return nil, StopTrying("container " + container + " exited without writing its environment; stderr:\n" + string(stderr))
			}
			return nil, err
		}
		got := map[string]string{}
		for _, kv := range bytes.Split(bytes.TrimSuffix(data, []byte{0}), []byte{0}) {
			name, value, ok := bytes.Cut(kv, []byte("="))
			if !ok {
				return nil, errors.New("malformed environment entry")
			}
			got[string(name)] = string(value)
		}
		return got, nil
	}
}

// expectNoLeakAnywhere checks every place a secret value must never reach: the stored
// pod, the namespace's events, the webhook's log, the init container's output, envexec's
// log and the application's stdout (the streams of container "app"), and the
// environment of a second process started in it, as kubectl exec would. extra adds
// places a spec knows of. It first checks the places are not trivially empty.
func (f *fixture) expectNoLeakAnywhere(ctx SpecContext, p *framework.Pod, extra map[string][]byte, canaries ...string) {
	GinkgoHelper()
	f.expectNoLeakAnywhereIn(ctx, p, "app", extra, canaries...)
}

// expectNoLeakAnywhereIn is expectNoLeakAnywhere for the container of another name.
func (f *fixture) expectNoLeakAnywhereIn(ctx SpecContext, p *framework.Pod, container string, extra map[string][]byte, canaries ...string) {
	GinkgoHelper()
	podJSON, err := cluster.PodJSON(ctx, f.Namespace, p.Pod.Name)
	Expect(err).NotTo(HaveOccurred())
	events, err := cluster.EventsJSON(ctx, f.Namespace)
	Expect(err).NotTo(HaveOccurred())
	webhookLog, err := os.ReadFile(env.WebhookLog)
	Expect(err).NotTo(HaveOccurred())
	execEnv, execStderr, err := p.Exec(ctx, container, "/usr/bin/env")
	Expect(err).NotTo(HaveOccurred(), "stderr: %s", execStderr)
	_, initStderr := p.Logs("vault-injector-init")
	appStdout, envexecStderr := p.Logs(container)

	Expect(string(webhookLog)).To(ContainSubstring(f.Namespace), "the webhook logged this pod")
	Expect(envexecStderr).To(ContainSubstring(`"msg":"starting application"`), "envexec logged its work")
	Expect(string(execEnv)).To(ContainSubstring("PATH="), "the exec'd process printed its environment")

	places := map[string][]byte{
		"stored pod":             podJSON,
		"events":                 events,
		"webhook log":            webhookLog,
		"init container stderr":  initStderr,
		"envexec stderr":         envexecStderr,
		"application stdout":     appStdout,
		"a second process's env": execEnv,
	}
	for name, data := range extra {
		places[name] = data
	}
	for _, c := range canaries {
		expectNoLeak(c, places)
	}
}
