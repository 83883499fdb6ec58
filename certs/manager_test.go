package certs_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vault-injector/vault-injector/certs"
	"github.com/vault-injector/vault-injector/internal/apiservertest"
	"github.com/vault-injector/vault-injector/internal/kube"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

const year = 365 * 24 * time.Hour

// TestManager runs the certificate manager against a real kube-apiserver and etcd.
func TestManager(t *testing.T) {
	c := startAPIServer(t)
	t.Run("replicas racing agree on one certificate", func(t *testing.T) { testRace(t, c) })
	t.Run("renewal before expiry and CA rotation", func(t *testing.T) { testRotation(t, c) })
	t.Run("broken secret is replaced", func(t *testing.T) { testBrokenSecret(t, c) })
	t.Run("secret of another type is reported", func(t *testing.T) { testWrongType(t, c) })
	t.Run("cleared caBundle is repaired", func(t *testing.T) { testRepairCABundle(t, c) })
	t.Run("run waits for the webhook configuration", func(t *testing.T) { testRunLateConfig(t, c) })
	t.Run("a CA whose Secret was replaced is not published", func(t *testing.T) { testStaleSecret(t, c) })
}

// fixture is one webhook's namespace and configuration in the shared apiserver.
type fixture struct {
	c    testClient
	ns   string
	name string
}

// newFixture makes a namespace and a MutatingWebhookConfiguration named after the test;
// withConfig false leaves the configuration out.
func newFixture(t *testing.T, c testClient, name string, withConfig bool) fixture {
	t.Helper()
	f := fixture{c: c, ns: name, name: name}
	if err := c.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	if withConfig {
		f.createConfig(t)
	}
	return f
}

func (f fixture) createConfig(t *testing.T) {
	t.Helper()
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: f.name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "pods.vault-injector.io",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service: &admissionregistrationv1.ServiceReference{Namespace: f.ns, Name: "vi", Path: ptr.To("/mutate-pods")},
			},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			// Nothing matches, so pods elsewhere in the shared apiserver never call it.
			ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"never": "matches"}},
		}},
	}
	if err := f.c.Create(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
}

// manager is a replica: its own certificate folder and, through now, its own clock.
func (f fixture) manager(t *testing.T, now func() time.Time) (*certs.Manager, string) {
	t.Helper()
	return f.managerOn(t, f.c.kube, now)
}

// managerOn is manager with the client c, which a test may wrap.
func (f fixture) managerOn(t *testing.T, c certs.Client, now func() time.Time) (*certs.Manager, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	m, err := certs.New(certs.Options{
		Client: c, Namespace: f.ns, SecretName: "vi-certs", ServiceName: "vi", WebhookConfigName: f.name,
		CertDir: dir, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, dir
}

func (f fixture) secret(t *testing.T) *corev1.Secret {
	t.Helper()
	var s corev1.Secret
	if err := f.c.Get(t.Context(), types.NamespacedName{Namespace: f.ns, Name: "vi-certs"}, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func (f fixture) caBundle(t *testing.T) []byte {
	t.Helper()
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	if err := f.c.Get(t.Context(), types.NamespacedName{Name: f.name}, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg.Webhooks[0].ClientConfig.CABundle
}

// assertServes checks what a replica serves: the Secret's certificate, verified by the
// webhook configuration's caBundle for the name the apiserver calls, at time at.
func (f fixture) assertServes(t *testing.T, dir string, at time.Time) []byte {
	t.Helper()
	crt := readFile(t, filepath.Join(dir, corev1.TLSCertKey))
	s := f.secret(t)
	if !bytes.Equal(crt, s.Data[corev1.TLSCertKey]) || !bytes.Equal(readFile(t, filepath.Join(dir, corev1.TLSPrivateKeyKey)), s.Data[corev1.TLSPrivateKeyKey]) {
		t.Fatalf("%s does not hold the Secret's certificate and key", dir)
	}
	if err := verify(f.caBundle(t), crt, "vi."+f.ns+".svc", at); err != nil {
		t.Fatalf("served certificate does not verify against the caBundle: %v", err)
	}
	return crt
}

func testRace(t *testing.T, c testClient) {
	for round := range 3 {
		f := newFixture(t, c, "race-"+string(rune('a'+round)), true)
		const replicas = 4
		dirs := make([]string, replicas)
		errs := make([]error, replicas)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range replicas {
			var m *certs.Manager
			m, dirs[i] = f.manager(t, func() time.Time { return t0 })
			wg.Go(func() {
				<-start
				errs[i] = m.Ensure(t.Context())
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		first := f.assertServes(t, dirs[0], t0)
		for _, d := range dirs[1:] {
			if !bytes.Equal(f.assertServes(t, d, t0), first) {
				t.Fatalf("replicas serve different certificates")
			}
		}
		s := f.secret(t)
		if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].Kind != "MutatingWebhookConfiguration" || s.OwnerReferences[0].Name != f.name {
			t.Errorf("secret owners %+v, want the webhook configuration (so uninstalling removes it)", s.OwnerReferences)
		}
	}
}

func testRotation(t *testing.T, c testClient) {
	f := newFixture(t, c, "rotation", true)
	var now atomic.Pointer[time.Time]
	setNow := func(d time.Duration) { at := t0.Add(d); now.Store(&at) }
	clock := func() time.Time { return *now.Load() }
	setNow(0)
	a, dirA := f.manager(t, clock)
	b, dirB := f.manager(t, clock)
	ensure(t, a, b)
	first := f.assertServes(t, dirA, clock())
	f.assertServes(t, dirB, clock())
	watcher := startWatcher(t, dirA)

	setNow(year / 2) // nothing due: no write at all
	rv := f.secret(t).ResourceVersion
	ensure(t, a, b)
	if f.secret(t).ResourceVersion != rv || !bytes.Equal(f.assertServes(t, dirA, clock()), first) {
		t.Fatal("renewed before two thirds of the lifetime")
	}

	setNow(year * 7 / 10) // serving certificate due; same CA, same caBundle
	bundle := f.caBundle(t)
	ensure(t, a)
	renewed := f.assertServes(t, dirA, clock())
	if bytes.Equal(renewed, first) || !bytes.Equal(f.caBundle(t), bundle) {
		t.Fatal("want a new serving certificate under the same CA")
	}
	waitForServed(t, watcher, renewed)
	rv = f.secret(t).ResourceVersion
	ensure(t, b) // replica b adopts it without writing
	f.assertServes(t, dirB, clock())
	if f.secret(t).ResourceVersion != rv {
		t.Error("replica b rewrote a sound Secret")
	}

	setNow(5 * year / 100 * 64) // serving due again, CA not yet: both replicas get a fresh certificate of the old CA
	ensure(t, a, b)
	f.assertServes(t, dirB, clock())

	setNow(5 * year * 7 / 10) // CA due: new CA, old one kept in the bundle
	ensure(t, a)
	f.assertServes(t, dirA, clock())
	bundle = f.caBundle(t)
	if n := bytes.Count(bundle, []byte("BEGIN CERTIFICATE")); n != 2 {
		t.Fatalf("caBundle after CA rotation holds %d certificates, want 2", n)
	}
	if err := verify(bundle, readFile(t, filepath.Join(dirB, corev1.TLSCertKey)), "vi.rotation.svc", clock()); err != nil {
		t.Errorf("replica b's certificate of the old CA is no longer trusted: %v", err)
	}
	ensure(t, b)
	f.assertServes(t, dirB, clock())

	setNow(5*year + 2*time.Hour) // the old CA expired: dropped from the bundle
	ensure(t, a, b)
	f.assertServes(t, dirA, clock())
	if n := bytes.Count(f.caBundle(t), []byte("BEGIN CERTIFICATE")); n != 1 {
		t.Errorf("caBundle after the old CA expired holds %d certificates, want 1", n)
	}
}

func testBrokenSecret(t *testing.T, c testClient) {
	f := newFixture(t, c, "broken", true)
	garbage := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "vi-certs"},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey: []byte("not a certificate"), corev1.TLSPrivateKeyKey: {0xff, 0x00},
			certs.KeyCACert: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
		},
	}
	if err := c.Create(t.Context(), garbage); err != nil {
		t.Fatal(err)
	}
	m, dir := f.manager(t, func() time.Time { return t0 })
	ensure(t, m)
	f.assertServes(t, dir, t0)
}

func testWrongType(t *testing.T, c testClient) {
	f := newFixture(t, c, "wrong-type", true)
	opaque := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "vi-certs"}, StringData: map[string]string{"a": "b"}}
	if err := c.Create(t.Context(), opaque); err != nil {
		t.Fatal(err)
	}
	m, _ := f.manager(t, func() time.Time { return t0 })
	err := m.Ensure(t.Context())
	if err == nil || !strings.Contains(err.Error(), `type "Opaque"`) {
		t.Fatalf("Ensure = %v, want an error naming the Secret's type", err)
	}
}

func testRepairCABundle(t *testing.T, c testClient) {
	f := newFixture(t, c, "repair", true)
	m, dir := f.manager(t, func() time.Time { return t0 })
	ensure(t, m)
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	if err := c.Get(t.Context(), types.NamespacedName{Name: f.name}, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Webhooks[0].ClientConfig.CABundle = nil
	if err := c.Update(t.Context(), &cfg); err != nil {
		t.Fatal(err)
	}
	ensure(t, m)
	f.assertServes(t, dir, t0)
}

func testRunLateConfig(t *testing.T, c testClient) {
	f := newFixture(t, c, "late-config", false)
	m, dir := f.manager(t, func() time.Time { return t0 })
	ensure(t, m) // no configuration yet: not an error, and the files are there to start the server
	readFile(t, filepath.Join(dir, corev1.TLSCertKey))

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	f.createConfig(t)
	deadline := time.Now().Add(30 * time.Second)
	for len(f.caBundle(t)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not set the caBundle of a configuration created after start")
		}
		time.Sleep(200 * time.Millisecond)
	}
	f.assertServes(t, dir, t0)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v when its context ended, want nil", err)
	}
}

// testStaleSecret: a replica read the Secret just before an operator deleted it and
// another replica recreated it with a new CA. Publishing the bundle it read would put back
// the old CA, which no replica serves any more, until its next pass: it starts over from
// the new Secret instead.
func testStaleSecret(t *testing.T, c testClient) {
	f := newFixture(t, c, "stale-secret", true)
	old, _ := f.manager(t, func() time.Time { return t0 })
	ensure(t, old) // the first CA, in the Secret and the caBundle
	other, otherDir := f.manager(t, func() time.Time { return t0 })
	var once sync.Once
	hooked := &hookedClient{Client: f.c.kube, beforeConfigRead: func() {
		once.Do(func() {
			if err := c.Delete(t.Context(), f.secret(t)); err != nil {
				t.Error(err)
			}
			ensure(t, other) // a new CA, in a new Secret and the caBundle
		})
	}}
	m, dir := f.managerOn(t, hooked, func() time.Time { return t0 })
	ensure(t, m) // read the first Secret, then met the second while publishing
	f.assertServes(t, otherDir, t0)
	f.assertServes(t, dir, t0)

	// Deleted between the check and the write: the write happens, and is then undone by
	// a pass over the Secret as it is now (this replica makes a new one).
	leaked := f.caBundle(t)
	cfg := hookedClient{Client: f.c.kube}
	var deleted sync.Once
	writer := &updateHook{hookedClient: cfg, beforeConfigUpdate: func() {
		deleted.Do(func() {
			if err := c.Delete(t.Context(), f.secret(t)); err != nil {
				t.Error(err)
			}
		})
	}}
	clearCABundle(t, f)
	m2, dir2 := f.managerOn(t, writer, func() time.Time { return t0 })
	ensure(t, m2)
	if bundle := f.caBundle(t); bytes.Equal(bundle, leaked) || len(bundle) == 0 {
		t.Fatal("the caBundle still holds the CA of the deleted Secret")
	}
	f.assertServes(t, dir2, t0)
}

// clearCABundle empties the caBundle, so the next pass must write it.
func clearCABundle(t *testing.T, f fixture) {
	t.Helper()
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	if err := f.c.Get(t.Context(), types.NamespacedName{Name: f.name}, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Webhooks[0].ClientConfig.CABundle = nil
	if err := f.c.Update(t.Context(), &cfg); err != nil {
		t.Fatal(err)
	}
}

// updateHook calls beforeConfigUpdate before the manager writes the webhook configuration.
type updateHook struct {
	hookedClient
	beforeConfigUpdate func()
}

func (h *updateHook) Update(ctx context.Context, obj kube.Object) error {
	if _, ok := obj.(*admissionregistrationv1.MutatingWebhookConfiguration); ok {
		h.beforeConfigUpdate()
	}
	return h.hookedClient.Update(ctx, obj)
}

// hookedClient calls beforeConfigRead each time the manager is about to read the webhook
// configuration.
type hookedClient struct {
	certs.Client
	beforeConfigRead func()
}

func (h *hookedClient) Get(ctx context.Context, key types.NamespacedName, obj kube.Object) error {
	if _, ok := obj.(*admissionregistrationv1.MutatingWebhookConfiguration); ok && h.beforeConfigRead != nil {
		h.beforeConfigRead()
	}
	return h.Client.Get(ctx, key, obj)
}

func ensure(t *testing.T, ms ...*certs.Manager) {
	t.Helper()
	for _, m := range ms {
		if err := m.Ensure(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// startWatcher loads dir's files with controller-runtime's certificate watcher, the one
// the webhook server uses, to show that it picks up rotations.
func startWatcher(t *testing.T, dir string) *certwatcher.CertWatcher {
	t.Helper()
	w, err := certwatcher.New(filepath.Join(dir, corev1.TLSCertKey), filepath.Join(dir, corev1.TLSPrivateKeyKey))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("certificate watcher: %v", err)
		}
	})
	return w
}

// waitForServed waits until the watcher serves the certificate in certPEM.
func waitForServed(t *testing.T, w *certwatcher.CertWatcher, certPEM []byte) {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := w.GetCertificate(nil)
		if err == nil && bytes.Equal(got.Certificate[0], block.Bytes) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the certificate watcher did not load the renewed certificate")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func verify(bundle, certPEM []byte, name string, at time.Time) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		return errors.New("caBundle holds no certificate")
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return errors.New("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return err
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startAPIServer starts a real kube-apiserver and etcd (envtest), from KUBEBUILDER_ASSETS
// or the cached build of hack/tools/build.sh.
func startAPIServer(t *testing.T) testClient {
	t.Helper()
	env := apiservertest.Start(t)
	c, err := client.New(env.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return testClient{Client: c, kube: apiservertest.Client(t, env)}
}

// testClient sets up fixtures with controller-runtime's client; the manager under test
// gets the webhook's own client.
type testClient struct {
	client.Client
	kube *kube.Client
}
