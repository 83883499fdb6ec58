package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vault-injector/vault-injector/bench/floor"
)

// defaultPatch is answered when no -patch-file is given.
const defaultPatch = `[{"op":"add","path":"/metadata/annotations/floor","value":"true"}]`

// run serves the floor on -addr (TLS, HTTP/2) and /readyz on -probe-addr until ctx ends.
func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("floor-server", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9443", "TLS address of the admission endpoint")
	certDir := fs.String("cert-dir", "", "directory holding tls.crt and tls.key")
	probeAddr := fs.String("probe-addr", "127.0.0.1:8081", "plain HTTP address of /readyz")
	patchFile := fs.String("patch-file", "", "file holding the JSON patch every response carries")
	if err := fs.Parse(args); err != nil {
		return err
	}
	patch := []byte(defaultPatch)
	if *patchFile != "" {
		p, err := os.ReadFile(*patchFile)
		if err != nil {
			return fmt.Errorf("patch: %w", err)
		}
		patch = p
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(*certDir, "tls.crt"), filepath.Join(*certDir, "tls.key"))
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/mutate-pods", &floor.Handler{Patch: patch})
	// The same TLS settings as the webhook: TLS 1.2 or later, HTTP/2 offered first.
	hook := &http.Server{
		Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"}},
	}
	probes := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}), ReadHeaderTimeout: 5 * time.Second}

	g, ctx := errgroup.WithContext(ctx)
	for _, s := range []struct {
		srv  *http.Server
		addr string
		tls  bool
	}{{hook, *addr, true}, {probes, *probeAddr, false}} {
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", s.addr, err)
		}
		g.Go(func() error { return serve(s.srv, ln, s.tls) })
	}
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return errors.Join(hook.Shutdown(sctx), probes.Shutdown(sctx))
	})
	return g.Wait()
}

func serve(s *http.Server, ln net.Listener, withTLS bool) error {
	var err error
	if withTLS {
		err = s.ServeTLS(ln, "", "")
	} else {
		err = s.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serve %s: %w", ln.Addr(), err)
}
