package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"spiral/internal/demo"
	"spiral/internal/pgcluster"
)

func runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("spiral demo", flag.ContinueOnError)
	var o serveOptions
	var lf logFlags
	var cert, key, dataDir string
	var fresh bool
	fs.StringVar(&dataDir, "data-dir", defaultDemoDir(), "where the demo PostgreSQL keeps its data (reused across runs)")
	fs.BoolVar(&fresh, "fresh", false, "delete the demo data directory first and start over")
	serveFlags(fs, &o, &cert, &key)
	lf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := lf.logger()
	if err != nil {
		return err
	}
	if o.proxy.TLS, err = loadTLS(cert, key); err != nil {
		return err
	}
	if fresh {
		if err := os.RemoveAll(dataDir); err != nil {
			return fmt.Errorf("--fresh: %w", err)
		}
	}
	fmt.Fprintf(os.Stderr, "starting PostgreSQL in %s ...\n", dataDir)
	cluster, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dataDir})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	if err := demo.EnsureDatabase(ctx, cluster.DSN("postgres")); err != nil {
		return fmt.Errorf("create demo database: %w", err)
	}
	o.proxy.Upstream = cluster.DSN(demo.Database)
	return serve(ctx, o, log, func(addr string) error {
		if err := loadDemo(ctx, addr, cluster.User()); err != nil {
			return err
		}
		printConnect(addr, cluster.User())
		return nil
	})
}

// loadDemo creates and fills the demo table through the proxy itself, the
// way a user would: the CREATE TABLE ... WITH (spiral.*) needs it.
func loadDemo(ctx context.Context, addr, user string) error {
	fmt.Fprintf(os.Stderr, "loading demo data (%d ticks for %d symbols) ...\n", demo.Rows, demo.Symbols)
	loaded, err := demo.Load(ctx, fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", user, addr, demo.Database))
	if err != nil {
		return fmt.Errorf("load demo data: %w", err)
	}
	if !loaded {
		fmt.Fprintln(os.Stderr, "demo data already present (use --fresh to start over)")
	}
	return nil
}

func printConnect(addr, user string) {
	host, port, _ := strings.Cut(addr, ":")
	fmt.Printf(`
spiral demo is running. Connect with:

  psql "host=%s port=%s user=%s dbname=%s"

ticks is a tracked table (tiers 1m, 1h, 1d). Try:

  SELECT * FROM spiral.status;
  SELECT symbol_id, t, row_count, price_ohlcv_o, price_ohlcv_c, vol FROM ticks_1h ORDER BY 2, 1 LIMIT 10;
  SELECT spiral_refresh('ticks');

Press Ctrl-C to stop.
`, host, port, user, demo.Database)
}

// defaultDemoDir is under the system temp dir, which the postgres system
// user can reach when spiral runs as root (a home directory often is not).
func defaultDemoDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("spiral-demo-%d", os.Getuid()))
}
