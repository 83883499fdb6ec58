package webhook_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/vault-injector/vault-injector/bench/load"
	"github.com/vault-injector/vault-injector/internal/podtest"
	"github.com/vault-injector/vault-injector/webhook"
)

// TestConcurrentPodsGetTheirOwnPatches: request bodies and patches live in recycled
// buffers, so pods admitted at once, each of a different size and with a reference of its
// own, must each get exactly the patch it gets alone. With -race it also proves the
// buffers are never shared by two requests.
func TestConcurrentPodsGetTheirOwnPatches(t *testing.T) {
	t.Parallel()
	h, _ := newHandler(t)
	server := &webhook.ReviewServer{Handler: h, Log: benchLogger()}
	serve := func(body []byte, uid string) ([]byte, error) {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, webhook.MutatePath, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		server.ServeHTTP(w, r)
		return load.Patch(w.Code, w.Body.Bytes(), uid)
	}
	const pods = 12
	bodies, alone := make([][]byte, pods), make([][]byte, pods)
	for i := range pods {
		// Pods of growing size, each with a reference no other pod has.
		vars := []corev1.EnvVar{podtest.Env("OWN", podtest.Ref(fmt.Sprintf("secret/data/pod%d", i), "key"))}
		for j := range i * 10 {
			vars = append(vars, podtest.Env(fmt.Sprintf("V%d", j), podtest.Ref("secret/data/shared", fmt.Sprintf("k%d", j))))
		}
		pod := podtest.New(fmt.Sprintf("pod-%d", i), podtest.WithNamespace("shop"), podtest.WithServiceAccount("api"),
			podtest.WithContainers(podtest.Container("app", "registry.example/app:1", podtest.WithCommand("/app"), podtest.WithEnv(vars...))))
		var err error
		if bodies[i], err = podtest.Review(pod, fmt.Sprintf("uid-%d", i)); err != nil {
			t.Fatal(err)
		}
		if alone[i], err = serve(bodies[i], fmt.Sprintf("uid-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, pods*20)
	for worker := range 8 {
		wg.Go(func() {
			for round := range 20 {
				i := (worker*7 + round) % pods
				got, err := serve(bodies[i], fmt.Sprintf("uid-%d", i))
				switch {
				case err != nil:
					errs <- fmt.Errorf("pod-%d: %w", i, err)
				case !bytes.Equal(got, alone[i]):
					errs <- fmt.Errorf("pod-%d got a patch of %d bytes, alone it gets %d: not its own", i, len(got), len(alone[i]))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
