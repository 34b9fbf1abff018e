package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"spiral/internal/engine"
	"spiral/internal/pgcluster"
	"spiral/proxy"
)

// stackSettings are the server settings of the in-process benchmarks. Both
// sides of every ratio run on the same server with the same settings;
// table headers print them.
var stackSettings = map[string]string{
	"shared_buffers":     "1GB",   // holds 1M-row runs whole
	"work_mem":           "256MB", // lets the GROUP BY baseline hash-aggregate in memory
	"max_wal_size":       "8GB",   // no forced checkpoints during loads
	"checkpoint_timeout": "30min",
}

// stack is a throw-away PostgreSQL with spiral's engine and proxy running in
// this process, wired as `spiral serve` wires them (without the worker,
// which the benchmarks start themselves when they want it).
type stack struct {
	cluster *pgcluster.Cluster
	eng     *engine.Engine
	srv     *proxy.Server
	served  chan error
	direct  string // DSN of benchDB, directly
	via     string // DSN of benchDB through the proxy
	version string // server_version
}

// startStack starts PostgreSQL, the engine and the proxy. On failure
// nothing is left running.
// openStack is the start of every in-process benchmark: validate its
// options, default its log to nowhere, and start the stack.
func openStack(ctx context.Context, validate func() error, logw *io.Writer) (*stack, error) {
	if err := validate(); err != nil {
		return nil, err
	}
	if *logw == nil {
		*logw = io.Discard
	}
	return startStack(ctx, *logw)
}

func startStack(ctx context.Context, logw io.Writer) (_ *stack, err error) {
	s := &stack{}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.stop())
		}
	}()
	s.cluster, err = pgcluster.Start(ctx, pgcluster.Options{Fast: true, Log: logw, Settings: stackSettings})
	if err != nil {
		return nil, err
	}
	s.direct = s.cluster.DSN(benchDB)
	if s.version, err = serverVersion(ctx, s.direct); err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if s.eng, err = engine.New(ctx, s.direct, log); err != nil {
		return nil, err
	}
	return s, s.serve(log)
}

// serve starts the proxy on a free port with the engine as its hook.
func (s *stack) serve(log *slog.Logger) error {
	cfg := proxy.DefaultConfig()
	cfg.Upstream, cfg.Hook = s.direct, s.eng
	cfg.UpstreamSettings = map[string]string{"jit": "off"} // as spiral serve does by default
	srv, err := proxy.New(cfg, log, nil)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.srv, s.served = srv, make(chan error, 1)
	go func() { s.served <- srv.Serve(l) }()
	u, err := url.Parse(s.direct)
	if err != nil {
		return err
	}
	u.Host = l.Addr().String()
	s.via = u.String()
	return nil
}

// stop closes the proxy, the engine and the server, in that order. It is
// safe on a partly started stack and more than once.
func (s *stack) stop() error {
	var errs []error
	if s.srv != nil {
		if err := s.srv.Close(); err != nil {
			errs = append(errs, err)
		}
		if err := <-s.served; err != nil && !errors.Is(err, proxy.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if s.eng != nil {
		s.eng.Close()
	}
	if s.cluster != nil {
		errs = append(errs, s.cluster.Stop())
	}
	*s = stack{}
	return errors.Join(errs...)
}

// connect opens one connection to dsn.
func connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return c, nil
}

// execAll runs statements one by one on a fresh connection to dsn.
func execAll(ctx context.Context, dsn string, stmts ...string) error {
	c, err := connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	for _, q := range stmts {
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", firstLine(q), err)
		}
	}
	return nil
}

func firstLine(q string) string {
	q = strings.TrimSpace(q)
	line, _, _ := strings.Cut(q, "\n")
	return line
}

// describe is the header line about the server, spiral and the machine.
func (s *stack) describe(ctx context.Context) string {
	keys := make([]string, 0, len(stackSettings))
	for k := range stackSettings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	set := []string{"fsync=off", "synchronous_commit=off", "full_page_writes=off"}
	for _, k := range keys {
		set = append(set, k+"="+stackSettings[k])
	}
	return fmt.Sprintf("PostgreSQL %s (%s); spiral %s, engine and proxy in this process; %d CPUs shared by all",
		s.version, strings.Join(set, " "), selfVersion(ctx), runtime.NumCPU())
}

// selfVersion describes the running benchmark binary's build of spiral.
func selfVersion(ctx context.Context) string {
	exe, err := os.Executable()
	if err != nil {
		return "unknown build"
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return buildVersion(exe)
	}
	return treeVersion(ctx, root, exe)
}
