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
	"syscall"

	"spiral/internal/bench"
)

const usage = `spiral-bench: spiral's benchmarks, each reporting ratios measured in one run

Usage:
  spiral-bench proxy [flags]   pgbench -S direct, through PgBouncer and through spiral
  spiral-bench stats           the stats package's sketches and moments

Run 'spiral-bench proxy -h' for its flags.
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
	var err error
	switch args[0] {
	case "proxy":
		err = runProxy(ctx, args[1:])
	case "stats":
		err = bench.Stats(ctx, os.Stdout)
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

// errUsage reports bad flags; the flag package has already said why.
var errUsage = errors.New("usage")

func runProxy(ctx context.Context, args []string) error {
	o := bench.DefaultProxyOptions()
	fs := flag.NewFlagSet("spiral-bench proxy", flag.ContinueOnError)
	fs.DurationVar(&o.Duration, "duration", o.Duration, "pgbench run time per cell and target (whole seconds)")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "rounds; cells are interleaved round by round and the table shows medians")
	fs.IntVar(&o.Scale, "scale", o.Scale, "pgbench -i scale factor")
	fs.StringVar(&o.SpiralBin, "spiral-bin", "", "spiral binary to measure (default: bin/spiral if present, else go build ./cmd/spiral)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		return errUsage
	}
	o.Log = os.Stderr
	return bench.Proxy(ctx, os.Stdout, o)
}
