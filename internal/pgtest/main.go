package pgtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"spiral/internal/pgcluster"
)

const (
	// EnvDSN points the harness at an existing server (a superuser DSN).
	EnvDSN = "SPIRAL_TEST_DSN"
	// EnvBinDir selects the directory holding initdb and postgres.
	EnvBinDir = "SPIRAL_PG_BIN"

	startTimeout = 2 * time.Minute
	logTailLines = 60
)

// The server in use by this test binary, set by Main.
var (
	cluster  *pgcluster.Cluster
	adminDSN string
)

// Main is TestMain's body: func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }.
// It starts one cluster (Fast) unless SPIRAL_TEST_DSN is set, runs the
// tests, prints the server log tail to stderr when they fail and stops the
// cluster.
//
// Fuzz worker processes (go test -fuzz starts several) run fuzz targets
// only, which never need a server, so they start none.
func Main(m *testing.M) int {
	if isFuzzWorker() {
		return m.Run()
	}
	if err := setup(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if os.Getenv(EnvDSN) == "" {
			fmt.Fprintf(os.Stderr, "pgtest: tests need PostgreSQL: install the server binaries (initdb, postgres) or set %s\n", EnvDSN)
		}
		return 1
	}
	code := m.Run()
	if code != 0 && cluster != nil {
		fmt.Fprintf(os.Stderr, "pgtest: last %d lines of the server log (%s):\n%s\n",
			logTailLines, cluster.LogPath(), cluster.LogTail(logTailLines))
	}
	if err := teardown(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		code = max(code, 1)
	}
	return code
}

// isFuzzWorker reports whether this process is a worker of go test -fuzz.
func isFuzzWorker() bool {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzzworker") {
			return true
		}
	}
	return false
}

func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		if err := ping(ctx, dsn); err != nil {
			return fmt.Errorf("cannot reach the server named by %s: %w", EnvDSN, err)
		}
		adminDSN = dsn
		return nil
	}
	c, err := pgcluster.Start(ctx, pgcluster.Options{Fast: true, BinDir: os.Getenv(EnvBinDir)})
	if err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	cluster, adminDSN = c, c.DSN("postgres")
	return nil
}

func teardown() error {
	if cluster == nil {
		return nil
	}
	return cluster.Stop()
}

func ping(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// AdminDSN is the superuser DSN of the server in use: the cluster's
// "postgres" database, or SPIRAL_TEST_DSN as given.
func AdminDSN() string { return adminDSN }

// Cluster is the cluster started by Main; nil when SPIRAL_TEST_DSN is used.
func Cluster() *pgcluster.Cluster { return cluster }
