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
	if err := loadDemo(ctx, cluster); err != nil {
		return err
	}
	o.proxy.Upstream = cluster.DSN("postgres")
	return serve(ctx, o, log, func(addr string) { printConnect(addr, cluster.User()) })
}

func loadDemo(ctx context.Context, c *pgcluster.Cluster) error {
	if err := demo.EnsureDatabase(ctx, c.DSN("postgres")); err != nil {
		return fmt.Errorf("create demo database: %w", err)
	}
	fmt.Fprintf(os.Stderr, "loading demo data (%d ticks for %d symbols) ...\n", demo.Rows, demo.Symbols)
	loaded, err := demo.Load(ctx, c.DSN(demo.Database))
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

and try:

  SELECT symbol_id, date_trunc('day', t) AS day, min(price), max(price), sum(vol)
  FROM ticks GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 10;

Press Ctrl-C to stop.
`, host, port, user, demo.Database)
}

// defaultDemoDir is under the system temp dir, which the postgres system
// user can reach when spiral runs as root (a home directory often is not).
func defaultDemoDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("spiral-demo-%d", os.Getuid()))
}
