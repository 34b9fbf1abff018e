// Command spiral-bench runs the benchmarks behind `make bench`; each prints a
// table of figures measured side by side in one run. The benchmarks
// themselves live in internal/bench.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"spiral/internal/bench"
)

const usage = `spiral-bench: spiral's benchmarks, each reporting ratios measured in one run

Usage:
  spiral-bench proxy [flags]     pgbench -S direct, through PgBouncer, through spiral and
                                 through a bare Go TCP relay
  spiral-bench stats             the stats package's sketches and moments
  spiral-bench ingest [flags]    insert throughput, tracked vs untracked table
  spiral-bench backfill [flags]  refresh into empty tiers vs INSERT ... SELECT ... GROUP BY
  spiral-bench lag [flags]       spiral_lag under sustained ingest, worker running
  spiral-bench rewrite [flags]   aggregate queries raw, through spiral and on the tiers
  spiral-bench percentiles [flags]
                                 p50/p95/p99 per tenant and day: exact, approximate
                                 through spiral, the tdigest extension; speed and error

Run 'spiral-bench BENCHMARK -h' for its flags. 'spiral-bench relay' runs the
proxy benchmark's Go relay by itself.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if path := os.Getenv("SPIRAL_BENCH_CPUPROFILE"); path != "" {
		done, err := cpuProfile(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "spiral-bench: %v\n", err)
			return 1
		}
		defer done()
	}
	var err error
	switch args[0] {
	case "proxy":
		err = runProxy(ctx, args[1:])
	case "relay":
		err = runRelay(ctx, args[1:])
	case "stats":
		err = bench.Stats(ctx, os.Stdout)
	case "ingest":
		err = runIngest(ctx, args[1:])
	case "backfill":
		err = runBackfill(ctx, args[1:])
	case "lag":
		err = runLag(ctx, args[1:])
	case "rewrite":
		err = runRewrite(ctx, args[1:])
	case "percentiles":
		err = runPercentiles(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "spiral-bench: unknown benchmark %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, errUsage) {
		return 2
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "spiral-bench %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// cpuProfile profiles this process's CPU into path until done is called:
// the in-process parts of a benchmark (the refresh, the load generators),
// not PostgreSQL or a spiral daemon.
func cpuProfile(path string) (done func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "spiral-bench: cpu profile: %v\n", err)
		}
	}, nil
}

// errUsage reports bad flags; the flag package has already said why.
var errUsage = errors.New("usage")

func runProxy(ctx context.Context, args []string) error {
	o := bench.DefaultProxyOptions()
	fs := flag.NewFlagSet("spiral-bench proxy", flag.ContinueOnError)
	fs.DurationVar(&o.Duration, "duration", o.Duration, "pgbench run time per cell and target (whole seconds)")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "rounds; cells are interleaved round by round and the table shows medians")
	fs.IntVar(&o.Scale, "scale", o.Scale, "pgbench -i scale factor")
	fs.StringVar(&o.SpiralBin, "spiral-bin", "", "spiral binary to measure (default: bin/spiral if present, else go build ./cmd/spiral)")
	if err := parse(fs, args); err != nil {
		return err
	}
	o.Log = os.Stderr
	return bench.Proxy(ctx, os.Stdout, o)
}

func runRelay(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("spiral-bench relay", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:6433", "address to accept connections on")
	upstream := fs.String("upstream", "127.0.0.1:5432", "host:port every connection is relayed to")
	if err := parse(fs, args); err != nil {
		return err
	}
	return bench.Relay(ctx, *listen, *upstream)
}

// parse parses flags and refuses positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		return errUsage
	}
	return nil
}

func runIngest(ctx context.Context, args []string) error {
	o := bench.DefaultIngestOptions()
	fs := flag.NewFlagSet("spiral-bench ingest", flag.ContinueOnError)
	countFlag(fs, "rows", "rows per run, e.g. 1000000 or 1M (default 1M)", &o.Rows)
	fs.IntVar(&o.Tenants, "tenants", o.Tenants, "distinct tenants (sym values), taking turns")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "rounds; modes and targets are interleaved round by round and the table shows medians")
	fs.BoolVar(&o.ViaProxy, "via-proxy", o.ViaProxy, "also load the tracked table through the proxy (an extra column)")
	if err := parse(fs, args); err != nil {
		return err
	}
	o.Log = os.Stderr
	return bench.Ingest(ctx, os.Stdout, o)
}

func parseOneCount(s string) (int, error) {
	ns, err := bench.ParseCounts(s)
	if err == nil && len(ns) != 1 {
		err = fmt.Errorf("want one row count, got %q", s)
	}
	if err != nil {
		return 0, err
	}
	return ns[0], nil
}

func runBackfill(ctx context.Context, args []string) error {
	o := bench.DefaultBackfillOptions()
	fs := flag.NewFlagSet("spiral-bench backfill", flag.ContinueOnError)
	fs.Func("rows", "comma-separated raw row counts, one run each, e.g. 1M,10M (default 1M,10M)", func(s string) error {
		ns, err := bench.ParseCounts(s)
		o.Rows = ns
		return err
	})
	fs.IntVar(&o.Tenants, "tenants", o.Tenants, "distinct tenants (sym values), taking turns")
	fs.IntVar(&o.Days, "days", o.Days, "days the rows are spread over")
	if err := parse(fs, args); err != nil {
		return err
	}
	o.Log = os.Stderr
	return bench.Backfill(ctx, os.Stdout, o)
}
func runLag(ctx context.Context, args []string) error {
	o := bench.DefaultLagOptions()
	fs := flag.NewFlagSet("spiral-bench lag", flag.ContinueOnError)
	fs.IntVar(&o.Rate, "rate", o.Rate, "rows per second the writer keeps")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "how long the writer writes")
	fs.IntVar(&o.Tenants, "tenants", o.Tenants, "distinct tenants (sym values), taking turns")
	fs.DurationVar(&o.Interval, "interval", o.Interval, "one INSERT every interval")
	fs.DurationVar(&o.Sample, "sample", o.Sample, "how often spiral_lag is read")
	fs.Func("tick", "comma-separated worker ticks, one run each (default the worker's default, 1s)", func(s string) error {
		o.Ticks = nil
		for _, part := range strings.Split(s, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(part))
			if err != nil {
				return err
			}
			o.Ticks = append(o.Ticks, d)
		}
		return nil
	})
	if err := parse(fs, args); err != nil {
		return err
	}
	o.Log = os.Stderr
	return bench.Lag(ctx, os.Stdout, o)
}

func runRewrite(ctx context.Context, args []string) error {
	o := bench.DefaultRewriteOptions()
	fs := flag.NewFlagSet("spiral-bench rewrite", flag.ContinueOnError)
	countFlag(fs, "rows", "raw rows, e.g. 10000000 or 10M (default 10M)", &o.Rows)
	fs.IntVar(&o.Tenants, "tenants", o.Tenants, "distinct tenants (sym values), taking turns")
	fs.IntVar(&o.Days, "days", o.Days, "days the rows are spread over")
	fs.IntVar(&o.Runs, "runs", o.Runs, "timed runs per query and target after one warm-up; the table shows medians")
	fs.IntVar(&o.Iterations, "iterations", o.Iterations, "statements per side and protocol in the overhead table")
	if err := parse(fs, args); err != nil {
		return err
	}
	o.Log = os.Stderr
	return bench.Rewrite(ctx, os.Stdout, o)
}

func runPercentiles(ctx context.Context, args []string) error {
	o := bench.DefaultPercentilesOptions()
	fs := flag.NewFlagSet("spiral-bench percentiles", flag.ContinueOnError)
	countFlag(fs, "rows", "raw rows, e.g. 10000000 or 10M (default 10M)", &o.Rows)
	fs.IntVar(&o.Tenants, "tenants", o.Tenants, "distinct tenants (sym values), taking turns")
	fs.IntVar(&o.Days, "days", o.Days, "days the rows are spread over; the queries read all of them")
	fs.IntVar(&o.Runs, "runs", o.Runs, "timed runs per way after one warm-up; the table shows medians")
	if err := parse(fs, args); err != nil {
		return err
	}
	o.Log = os.Stderr
	return bench.Percentiles(ctx, os.Stdout, o)
}

// countFlag defines a flag holding one row count such as 10M.
func countFlag(fs *flag.FlagSet, name, usage string, p *int) {
	fs.Func(name, usage, func(s string) error {
		n, err := parseOneCount(s)
		*p = n
		return err
	})
}
