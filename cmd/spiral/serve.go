package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"spiral/changelog"
	"spiral/internal/engine"
	"spiral/proxy"
)

// serveOptions is everything `spiral serve` runs with.
type serveOptions struct {
	proxy           proxy.Config
	worker          engine.WorkerConfig
	workerDSN       string
	listen          string
	metricsListen   string
	shutdownTimeout time.Duration
	upstreamJIT     string
}

// serveFlags registers the flags shared by serve and demo.
func serveFlags(fs *flag.FlagSet, o *serveOptions, tlsCert, tlsKey *string) {
	def := proxy.DefaultConfig()
	o.proxy = def
	fs.StringVar(&o.listen, "listen", "127.0.0.1:6432", "address clients connect to")
	fs.StringVar(&o.metricsListen, "metrics-listen", "", "address serving /metrics and /healthz (empty: off)")
	fs.StringVar(tlsCert, "tls-cert", "", "PEM certificate for TLS to clients (with --tls-key)")
	fs.StringVar(tlsKey, "tls-key", "", "PEM private key for TLS to clients (with --tls-cert)")
	fs.IntVar(&o.proxy.MaxMessageSize, "max-message-size", def.MaxMessageSize, "largest client message body accepted, in bytes")
	fs.DurationVar(&o.proxy.StartupTimeout, "startup-timeout", def.StartupTimeout, "time a client has to start up and authenticate")
	fs.DurationVar(&o.proxy.ConnectTimeout, "connect-timeout", def.ConnectTimeout, "time to connect to the upstream server")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM, time sessions get to finish before they are closed")
	fs.StringVar(&o.upstreamJIT, "upstream-jit", "off", "jit setting of upstream sessions unless the client sets it (off: PostgreSQL's JIT spends seconds compiling rewritten plans; server: keep the server's)")
	o.worker = engine.DefaultWorkerConfig()
	fs.DurationVar(&o.worker.Tick, "tick", o.worker.Tick, "how often the worker looks for dirty buckets")
	fs.IntVar(&o.worker.BatchSize, "batch-size", o.worker.BatchSize, "dirty marks recomputed per refresh transaction")
	fs.IntVar(&o.worker.Workers, "workers", o.worker.Workers, "tables refreshed in parallel (0: no background worker)")
}

func runServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("spiral serve", flag.ContinueOnError)
	var o serveOptions
	var lf logFlags
	var cert, key string
	fs.StringVar(&o.proxy.Upstream, "upstream", "", "DSN of the PostgreSQL server to proxy (required)")
	fs.StringVar(&o.workerDSN, "worker-dsn", "", "DSN (a superuser) of the database whose tracked tables spiral manages; default: --upstream")
	serveFlags(fs, &o, &cert, &key)
	lf.register(fs)
	upstream := &o.proxy.Upstream
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *upstream == "" {
		return errors.New("--upstream (or SPIRAL_UPSTREAM) is required")
	}
	log, err := lf.logger()
	if err != nil {
		return err
	}
	if o.proxy.TLS, err = loadTLS(cert, key); err != nil {
		return err
	}
	return serve(ctx, o, log, nil)
}

// loadTLS loads the client-facing certificate; no files means no TLS.
func loadTLS(cert, key string) (*tls.Config, error) {
	if cert == "" && key == "" {
		return nil, nil
	}
	if cert == "" || key == "" {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("load tls certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// serve runs the proxy and the metrics endpoint until ctx ends, then shuts
// both down, giving sessions o.shutdownTimeout to finish. ready, when set,
// is called with the proxy's address once it accepts connections.
func serve(ctx context.Context, o serveOptions, log *slog.Logger, ready func(addr string) error) error {
	if o.worker.Workers < 0 {
		return fmt.Errorf("--workers must be 0 (no background worker) or more, not %d", o.worker.Workers)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	eng, err := startEngine(ctx, o, log)
	if err != nil {
		return err
	}
	defer eng.Close()
	o.proxy.Hook = eng
	switch o.upstreamJIT {
	case "on", "off":
		o.proxy.UpstreamSettings = map[string]string{"jit": o.upstreamJIT}
	case "server", "":
	default:
		return fmt.Errorf("--upstream-jit must be on, off or server, not %q", o.upstreamJIT)
	}
	srv, err := proxy.New(o.proxy, log, reg)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ms, err := startMetrics(o.metricsListen, reg, log)
	if err != nil {
		l.Close()
		return err
	}
	worker := eng.Worker(o.worker, reg) // made either way: it registers the refresh and status metrics
	if o.worker.Workers > 0 {
		wctx, stopWorker := context.WithCancel(context.Background())
		workerDone := make(chan error, 1)
		go func() { workerDone <- worker.Run(wctx) }()
		defer func() { stopWorker(); <-workerDone }()
	} else {
		log.Info("background refresh worker off (--workers 0): tiers are refreshed only by spiral_refresh or another daemon")
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	log.Info("spiral proxy listening", "addr", l.Addr().String(), "metrics", o.metricsListen)
	if ready != nil {
		if err := ready(l.Addr().String()); err != nil {
			_ = srv.Close()
			<-errc
			return err
		}
	}
	return waitAndShutdown(ctx, srv, ms, errc, o.shutdownTimeout, log)
}

// startEngine connects the statement hook and worker to the worker DSN.
func startEngine(ctx context.Context, o serveOptions, log *slog.Logger) (*engine.Engine, error) {
	dsn := o.workerDSN
	if dsn == "" {
		dsn = o.proxy.Upstream
	}
	eng, err := engine.New(ctx, dsn, log)
	if errors.Is(err, changelog.ErrNotSuperuser) {
		return nil, fmt.Errorf("%w\nhint: point --worker-dsn (SPIRAL_WORKER_DSN) at a superuser of the database spiral manages", err)
	}
	return eng, err
}

// waitAndShutdown waits for ctx or a serve failure, then shuts down.
func waitAndShutdown(ctx context.Context, srv *proxy.Server, ms *http.Server, errc chan error, timeout time.Duration, log *slog.Logger) error {
	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", timeout)
	case serveErr = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("sessions still open at the shutdown deadline were closed", "err", err)
	}
	if serveErr == nil {
		serveErr = <-errc
	}
	if ms != nil {
		_ = ms.Shutdown(sctx)
	}
	if errors.Is(serveErr, proxy.ErrServerClosed) {
		return nil
	}
	return serveErr
}

// startMetrics serves /metrics and /healthz on addr; empty addr: no server.
func startMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (*http.Server, error) {
	if addr == "" {
		return nil, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := ms.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	return ms, nil
}
