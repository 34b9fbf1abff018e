package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"spiral/internal/pgcluster"
)

// benchDB is the database pgbench fills and queries.
const benchDB = "postgres"

// warmup is how long each target is exercised before the first round.
const warmup = 2 * time.Second

// proxyCells are the pgbench configurations of the proxy benchmark.
var proxyCells = []cell{
	{"simple", 1}, {"simple", 8}, {"prepared", 1}, {"prepared", 8},
}

// ProxyOptions configures Proxy.
type ProxyOptions struct {
	// Duration is how long pgbench runs per cell and target.
	Duration time.Duration
	// Rounds is how often every cell runs against every target; the table
	// shows medians over rounds.
	Rounds int
	// Scale is the pgbench -i scale factor.
	Scale int
	// SpiralBin is the spiral binary to measure; "" means bin/spiral in the
	// module when present, else a fresh go build of ./cmd/spiral.
	SpiralBin string
	// Log receives progress lines; nil means silent.
	Log io.Writer
}

// DefaultProxyOptions are the options `make bench` runs with.
func DefaultProxyOptions() ProxyOptions {
	return ProxyOptions{Duration: 10 * time.Second, Rounds: 3, Scale: 10}
}

// Validate reports options pgbench cannot run with.
func (o ProxyOptions) Validate() error {
	switch {
	case o.Duration < time.Second:
		return fmt.Errorf("bench: duration %s: want at least 1s (pgbench -T takes whole seconds)", o.Duration)
	case o.Rounds < 1:
		return fmt.Errorf("bench: rounds %d: want at least 1", o.Rounds)
	case o.Scale < 1:
		return fmt.Errorf("bench: scale %d: want at least 1", o.Scale)
	}
	return nil
}

// Proxy measures pass-through overhead: pgbench -S straight at a
// throw-away PostgreSQL, through PgBouncer (session pooling), through
// spiral and through a bare Go relay (see Relay), interleaved in one run,
// and writes a table of TPS, latency and ratios to w. Everything it starts
// is stopped before it returns, also when ctx ends.
func Proxy(ctx context.Context, w io.Writer, opts ProxyOptions) (err error) {
	if err := opts.Validate(); err != nil {
		return err
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	tmp, err := os.MkdirTemp("", "spiral-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	env, err := startProxyEnv(ctx, tmp, opts)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, env.stop()) }()
	s, err := env.run(ctx, opts)
	if err != nil {
		return err
	}
	return writeTable(w, env.info(opts), proxyCells, s)
}

// proxyEnv is everything the proxy benchmark starts.
type proxyEnv struct {
	pgbench    string
	cluster    *pgcluster.Cluster
	bouncer    *daemon
	spiral     *daemon
	relay      *daemon
	ports      [numTargets]int
	versions   runInfo
	bouncerDir string // PgBouncer's own temporary directory
}

// startProxyEnv finds the tools, starts PostgreSQL, fills it, and starts
// PgBouncer and spiral in front of it. On failure nothing is left running.
func startProxyEnv(ctx context.Context, tmp string, opts ProxyOptions) (env *proxyEnv, err error) {
	env = &proxyEnv{}
	defer func() {
		if err != nil {
			err = errors.Join(err, env.stop())
		}
	}()
	if env.pgbench, err = pgbenchBinary(); err != nil {
		return env, err
	}
	as, err := daemonAccount()
	if err != nil {
		return env, err
	}
	bouncerBin, err := pgbouncerBinary(ctx, opts.Log)
	if err != nil {
		return env, err
	}
	spiralBin, spiralVersion, err := spiralBinary(ctx, opts.SpiralBin, tmp, opts.Log)
	if err != nil {
		return env, err
	}
	if err := env.startPostgres(ctx, opts); err != nil {
		return env, err
	}
	if err := env.startPgBouncer(ctx, bouncerBin, as, opts.Log); err != nil {
		return env, err
	}
	fmt.Fprintln(opts.Log, "bench: starting spiral", spiralBin)
	if env.spiral, err = startSpiral(ctx, spiralBin, tmp, env.cluster.DSN(benchDB), benchDB); err != nil {
		return env, err
	}
	env.ports[viaSpiral] = env.spiral.port
	fmt.Fprintln(opts.Log, "bench: starting go-relay")
	if env.relay, err = startRelay(ctx, tmp, env.cluster.Port(), benchDB); err != nil {
		return env, err
	}
	env.ports[viaRelay] = env.relay.port
	env.versions.spiral, env.versions.binary = spiralVersion, spiralBin
	env.versions.pgbench = pgbenchVersion(ctx, env.pgbench)
	return env, nil
}

func (e *proxyEnv) startPostgres(ctx context.Context, opts ProxyOptions) error {
	var err error
	e.cluster, err = pgcluster.Start(ctx, pgcluster.Options{
		Fast: true, // select-only: durability does not matter, loading is faster
		Log:  opts.Log,
		Settings: map[string]string{
			"max_connections": "100",
			"shared_buffers":  "256MB", // holds the pgbench tables at the default scale
		},
	})
	if err != nil {
		return err
	}
	e.ports[direct] = e.cluster.Port()
	if e.versions.postgres, err = serverVersion(ctx, e.cluster.DSN(benchDB)); err != nil {
		return err
	}
	fmt.Fprintf(opts.Log, "bench: pgbench -i -s %d\n", opts.Scale)
	return pgbenchInit(ctx, e.pgbench, e.cluster.Port(), opts.Scale, benchDB)
}

func (e *proxyEnv) startPgBouncer(ctx context.Context, bin string, as *account, log io.Writer) error {
	var err error
	if e.versions.pgbouncer, err = pgbouncerVersion(ctx, bin, as); err != nil {
		return err
	}
	// Its own directory: the account PgBouncer runs as must own it.
	if e.bouncerDir, err = os.MkdirTemp("", "spiral-bench-pgbouncer-"); err != nil {
		return err
	}
	fmt.Fprintln(log, "bench: starting", e.versions.pgbouncer)
	if e.bouncer, err = startPgBouncer(ctx, bin, e.bouncerDir, as, e.cluster.Port(), benchDB); err != nil {
		return err
	}
	e.ports[viaPgBouncer] = e.bouncer.port
	return nil
}

// serverVersion asks the server for its server_version.
func serverVersion(ctx context.Context, dsn string) (string, error) {
	conn, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		return "", fmt.Errorf("connect for server version: %w", err)
	}
	defer conn.Close(ctx)
	return conn.ParameterStatus("server_version"), nil
}

// stop stops spiral, PgBouncer and PostgreSQL, in that order, and removes
// PgBouncer's directory. It is safe on a partly started environment.
func (e *proxyEnv) stop() error {
	var errs []error
	if e.relay != nil {
		errs = append(errs, e.relay.stop(syscall.SIGTERM))
	}
	if e.spiral != nil {
		errs = append(errs, e.spiral.stop(syscall.SIGTERM))
	}
	if e.bouncer != nil {
		errs = append(errs, e.bouncer.stop(syscall.SIGTERM))
	}
	if e.bouncerDir != "" {
		errs = append(errs, os.RemoveAll(e.bouncerDir))
	}
	if e.cluster != nil {
		errs = append(errs, e.cluster.Stop())
	}
	*e = proxyEnv{}
	return errors.Join(errs...)
}

// run warms every target up, then runs every cell against every target,
// round by round. Within a round the targets take turns first, so a
// drifting machine favours none of them.
func (e *proxyEnv) run(ctx context.Context, opts ProxyOptions) (samples, error) {
	for t := range numTargets {
		fmt.Fprintf(opts.Log, "bench: warm-up %s\n", targetNames[t])
		_, err := pgbenchSelect(ctx, e.pgbench, e.ports[t], benchDB, "simple", targetClients, warmup)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted: %w", ctx.Err())
		}
		if err != nil {
			return nil, fmt.Errorf("warm-up %s: %w%s", targetNames[t], err, e.logOf(t))
		}
	}
	s := samples{}
	for round := range opts.Rounds {
		for i, c := range proxyCells {
			for k := range numTargets {
				t := (round + i + k) % numTargets
				r, err := pgbenchSelect(ctx, e.pgbench, e.ports[t], benchDB, c.mode, c.clients, opts.Duration)
				if ctx.Err() != nil {
					return nil, fmt.Errorf("interrupted: %w", ctx.Err())
				}
				if err != nil {
					return nil, fmt.Errorf("%s %d clients via %s: %w%s", c.mode, c.clients, targetNames[t], err, e.logOf(t))
				}
				fmt.Fprintf(opts.Log, "bench: round %d/%d %-8s %d clients %-9s %8.0f tps %.3f ms\n",
					round+1, opts.Rounds, c.mode, c.clients, targetNames[t], r.tps, r.latencyMS)
				s.add(c, t, r)
			}
		}
	}
	return s, nil
}

// logOf is the tail of a proxy's log, for an error that went through it.
func (e *proxyEnv) logOf(target int) string {
	var d *daemon
	switch target {
	case viaPgBouncer:
		d = e.bouncer
	case viaSpiral:
		d = e.spiral
	case viaRelay:
		d = e.relay
	default:
		return ""
	}
	return fmt.Sprintf("\n%s log:\n%s", d.name, logTail(d.logPath, 20))
}

// info is the table header's description of the run.
func (e *proxyEnv) info(opts ProxyOptions) runInfo {
	info := e.versions
	info.duration, info.rounds, info.scale = opts.Duration, opts.Rounds, opts.Scale
	info.cpus = runtime.NumCPU()
	info.goVersion = runtime.Version()
	return info
}
