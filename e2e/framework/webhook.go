package framework

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vault-injector/vault-injector/internal/loopback"
)

// WebhookOptions configures the webhook process.
type WebhookOptions struct {
	// Binary is the built cmd/vault-injector.
	Binary string
	// Serving is where the apiserver expects the webhook (ControlPlane.Serving).
	Serving WebhookServing
	// InjectorImage names the image of the copy init container; no pod of these webhooks
	// runs, so it need not exist.
	InjectorImage string
	// VaultAddr is the default Vault address written into pods.
	VaultAddr string
	// EnvexecTimeout is envexec's start-up deadline written into pods (0: the default).
	EnvexecTimeout time.Duration
	// WatchInterval is the platform's --envexec-watch-interval (0: the default).
	WatchInterval time.Duration
	// AllowedVaultAddrs are the Vault addresses pods may pick with an annotation.
	AllowedVaultAddrs []string
	// AllowedDeliveries are the envexec deliveries pods may pick with an annotation
	// (--allowed-envexec-deliveries), such as image-volume.
	AllowedDeliveries []string
	// AllowedTokenAudiences are the audiences pods may pick for envexec's token with an
	// annotation (--allowed-token-audiences).
	AllowedTokenAudiences []string
	// AuthPath is the default Kubernetes auth mount (--vault-auth-path); empty means the
	// webhook's default, KubernetesAuthMount.
	AuthPath string
	// InsecureRegistries are registries (host:port) the entrypoint lookup reaches over
	// plain HTTP, such as a Registry on loopback.
	InsecureRegistries []string
	// LogPath receives the webhook's stdout and stderr; specs read it for leak checks.
	LogPath string
	// Kubeconfig, if set, is how the webhook reaches the apiserver (to read pull
	// secrets), standing in for its in-cluster ServiceAccount. It is written next to
	// LogPath and passed as KUBECONFIG.
	Kubeconfig []byte
}

// Webhook is the real vault-injector binary, running as its own process with debug
// logging so that a leak check over its log covers the most verbose output it has.
type Webhook struct {
	// LogPath is the file holding its combined output.
	LogPath string
	// MetricsAddr and ProbeAddr are the loopback addresses it serves /metrics and
	// /healthz, /readyz on.
	MetricsAddr, ProbeAddr string

	cmd      *exec.Cmd
	log      *os.File
	done     chan struct{}
	stopOnce sync.Once
	stopErr  error
}

// StartWebhook starts the binary and returns once /readyz answers 200 and the TLS port
// accepts connections.
func StartWebhook(ctx context.Context, o WebhookOptions) (*Webhook, error) {
	metrics, err := loopback.FreeAddr(ctx)
	if err != nil {
		return nil, err
	}
	probes, err := loopback.FreeAddr(ctx)
	if err != nil {
		return nil, err
	}
	w, err := startWebhookProcess(o, webhookArgs(o, metrics, probes), metrics, probes)
	if err != nil {
		return nil, err
	}
	if err := w.waitReady(ctx, o.Serving); err != nil {
		return nil, errors.Join(err, w.Stop())
	}
	return w, nil
}

// startWebhookProcess starts the webhook binary with args, its output going to
// o.LogPath and o.Kubeconfig (if any) passed as KUBECONFIG, as StartWebhook does.
func startWebhookProcess(o WebhookOptions, args []string, metrics, probes string) (*Webhook, error) {
	log, err := os.OpenFile(o.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("webhook log: %w", err)
	}
	w := &Webhook{LogPath: o.LogPath, MetricsAddr: metrics, ProbeAddr: probes, log: log, done: make(chan struct{})}
	w.cmd = exec.Command(o.Binary, args...) //nolint:gosec,noctx // the binary just built; lives until Stop
	// Only what the flags say: a VAULT_INJECTOR_* variable of the caller must not count.
	w.cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if len(o.Kubeconfig) > 0 {
		path := o.LogPath + ".kubeconfig"
		if err := os.WriteFile(path, o.Kubeconfig, 0o600); err != nil {
			return nil, errors.Join(fmt.Errorf("webhook kubeconfig: %w", err), log.Close())
		}
		w.cmd.Env = append(w.cmd.Env, "KUBECONFIG="+path)
	}
	w.cmd.Stdout, w.cmd.Stderr = log, log
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := w.cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start webhook: %w", err), log.Close())
	}
	go func() {
		_ = w.cmd.Wait() // the exit status is reported through the log and done
		close(w.done)
	}()
	return w, nil
}

// E2EWatchInterval is the suite webhook's --envexec-watch-interval: short, so a change in
// Vault reaches a running pod within a spec.
const E2EWatchInterval = 2 * time.Second

func webhookArgs(o WebhookOptions, metrics, probes string) []string {
	image := o.InjectorImage
	if image == "" {
		image = "vault-injector:e2e"
	}
	args := []string{
		"--webhook-host=" + o.Serving.Host,
		"--webhook-port=" + strconv.Itoa(o.Serving.Port),
		"--cert-dir=" + o.Serving.CertDir,
		"--metrics-bind-address=" + metrics,
		"--health-probe-bind-address=" + probes,
		"--injector-image=" + image,
		"--vault-addr=" + o.VaultAddr,
		"--zap-log-level=debug",
	}
	if len(o.AllowedVaultAddrs) > 0 {
		args = append(args, "--allowed-vault-addrs="+strings.Join(o.AllowedVaultAddrs, ","))
	}
	if len(o.AllowedTokenAudiences) > 0 {
		args = append(args, "--allowed-token-audiences="+strings.Join(o.AllowedTokenAudiences, ","))
	}
	if len(o.AllowedDeliveries) > 0 {
		args = append(args, "--allowed-envexec-deliveries="+strings.Join(o.AllowedDeliveries, ","))
	}
	if len(o.InsecureRegistries) > 0 {
		args = append(args, "--insecure-registries="+strings.Join(o.InsecureRegistries, ","))
	}
	if o.AuthPath != "" {
		args = append(args, "--vault-auth-path="+o.AuthPath)
	}
	if o.EnvexecTimeout > 0 {
		args = append(args, "--envexec-timeout="+o.EnvexecTimeout.String())
	}
	if o.WatchInterval > 0 {
		args = append(args, "--envexec-watch-interval="+o.WatchInterval.String())
	}
	return args
}

func (w *Webhook) waitReady(ctx context.Context, s WebhookServing) error {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(s.CAData) {
		return errors.New("webhook serving: no CA certificate to check the TLS port with")
	}
	return w.poll(ctx, "webhook", func(ctx context.Context) bool { return w.ready(ctx, s, roots) })
}

// poll asks ready every 100 ms for up to a minute, and gives up at once if the process
// exits; what names the webhook in the error.
func (w *Webhook) poll(ctx context.Context, what string, ready func(context.Context) bool) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !ready(ctx) {
		select {
		case <-w.done:
			return fmt.Errorf("webhook exited during start-up (%s); its log is %s", w.cmd.ProcessState, w.LogPath)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w; its log is %s", what, ctx.Err(), w.LogPath)
		case <-tick.C:
		}
	}
	return nil
}

// ready asks /readyz, then does what the apiserver will: a TLS handshake trusting only
// the webhook configuration's CA.
func (w *Webhook) ready(ctx context.Context, s WebhookServing, roots *x509.CertPool) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+w.ProbeAddr+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close() // nothing was read from it
	if resp.StatusCode != http.StatusOK {
		return false
	}
	d := tls.Dialer{
		NetDialer: &net.Dialer{Timeout: time.Second},
		Config:    &tls.Config{RootCAs: roots, ServerName: s.Host, MinVersion: tls.VersionTLS12},
	}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)))
	if err != nil {
		return false
	}
	return conn.Close() == nil
}

// Log returns everything the webhook wrote so far.
func (w *Webhook) Log() ([]byte, error) {
	data, err := os.ReadFile(w.LogPath)
	if err != nil {
		return nil, fmt.Errorf("read webhook log: %w", err)
	}
	return data, nil
}

// Stop sends SIGTERM (controller-runtime drains in-flight requests), kills after 10s,
// and closes the log. The log file stays for the caller to read or remove.
func (w *Webhook) Stop() error {
	w.stopOnce.Do(func() {
		_ = w.cmd.Process.Signal(syscall.SIGTERM) // if it already exited, done says so
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
			_ = w.cmd.Process.Kill()
			<-w.done
		}
		if err := w.log.Close(); err != nil {
			w.stopErr = fmt.Errorf("close webhook log: %w", err)
		}
	})
	return w.stopErr
}
